// CLIENT TRACKING: server-assisted client-side caching. In the default mode the server remembers
// the keys each tracking client read (read-only commands) and, when one changes, tells those
// clients once (and forgets it until read again); in BCAST mode a client hears of every change to
// keys under its prefixes. A RESP3 client gets `>2 invalidate [key]` pushes; a RESP2 client
// redirects them to another connection subscribed to `__redis__:invalidate`.
//
// Writes made through this server invalidate synchronously, when the write is applied (so the
// push precedes the reply to any later command); writes through the embedded API and expiries
// arrive through the log's live events (keyEvents.ts) a moment later.
import type { LogEvent } from '../index.js'
import type { ClientState } from './clientState.js'
import type { Command } from './command.js'
import type { KeyEventSink } from './keyEvents.js'
import { NIL_ARRAY, PushReply } from './resp/reply.js'
import type { Reply } from './resp/reply.js'

export interface TrackingMode {
  bcast: boolean
  /** BCAST: keys under these prefixes ('' is every key). */
  prefixes: string[]
  optin: boolean
  optout: boolean
  noloop: boolean
  /** Client ID the invalidations go to; 0: this client. */
  redirect: number
}

/** Redis's default tracking-table-max-keys: past it, the oldest tracked keys are invalidated. */
const MAX_TRACKED_KEYS = 1_000_000

const INVALIDATE = Buffer.from('invalidate')
const MESSAGE = Buffer.from('message')
export const INVALIDATE_CHANNEL = '__redis__:invalidate'

export class Tracking implements KeyEventSink {
  /** Default mode: key → clients that read it since it last changed. */
  private readonly readers = new Map<string, Set<ClientState>>()
  private readonly broadcast = new Set<ClientState>()
  /**
   * Default mode: client → the keys it is in `readers` for, so tracking off (and a disconnect)
   * takes it out at once: a closed client left in the table would keep its connection alive.
   */
  private readonly keysOf = new Map<ClientState, Set<string>>()
  /** Client-key pairs in `readers` (INFO tracking_total_items). */
  items = 0
  /** Clients with tracking on. */
  count = 0

  constructor(private readonly clients: ReadonlyMap<number, ClientState>) {}

  on(client: ClientState, mode: TrackingMode): void {
    if (client.tracking === undefined) this.count++
    client.tracking = mode
    if (mode.bcast) this.broadcast.add(client)
  }

  /** Tracking off (CLIENT TRACKING OFF, RESET, disconnect): the client leaves the table. */
  off(client: ClientState): void {
    if (client.tracking === undefined) return
    client.tracking = undefined
    client.cachingNext = undefined
    this.broadcast.delete(client)
    this.count--
    const keys = this.keysOf.get(client)
    if (keys === undefined) return
    this.keysOf.delete(client)
    for (const key of keys) {
      const set = this.readers.get(key)
      if (set === undefined || !set.delete(client)) continue
      this.items--
      if (set.size === 0) this.readers.delete(key)
    }
  }

  /** Keys in the table (INFO tracking_total_keys). */
  get keys(): number {
    return this.readers.size
  }

  /** Distinct BCAST prefixes ('' when none is given; INFO tracking_total_prefixes). */
  get prefixes(): number {
    const all = new Set<string>()
    for (const c of this.broadcast) {
      if (c.tracking!.prefixes.length === 0) all.add('')
      for (const p of c.tracking!.prefixes) all.add(p)
    }
    return all.size
  }

  /** After a read-only command of a client in default mode: remember the keys it read. */
  read(client: ClientState, cmd: Command, args: Buffer[]): void {
    const t = client.tracking!
    if (t.bcast) return
    const caching = client.cachingNext
    if (t.optin ? caching !== true : t.optout && caching === false) return
    if (cmd.firstKey === 0) return
    const last = cmd.lastKey < 0 ? args.length + cmd.lastKey : cmd.lastKey
    let mine = this.keysOf.get(client)
    if (mine === undefined) this.keysOf.set(client, (mine = new Set()))
    for (let i = cmd.firstKey; i <= last && i < args.length; i += cmd.step) {
      const key = args[i]!.toString('utf8')
      let set = this.readers.get(key)
      if (set === undefined) {
        if (this.readers.size >= MAX_TRACKED_KEYS) this.evictOldest()
        this.readers.set(key, (set = new Set()))
      }
      if (set.has(client)) continue
      set.add(client)
      mine.add(key)
      this.items++
    }
  }

  /** Keys written by `writer` (undefined: the embedded API or an expiry). */
  written(keys: Iterable<string>, writer: ClientState | undefined): void {
    if (this.count === 0) return
    for (const key of keys) {
      const set = this.readers.get(key)
      if (set !== undefined) {
        this.readers.delete(key)
        this.items -= set.size
        for (const c of set) this.keysOf.get(c)?.delete(key)
        for (const c of set) if (c.tracking !== undefined && !c.tracking.bcast && !(c.tracking.noloop && c === writer)) this.send(c, key)
      }
      for (const c of this.broadcast) {
        if (c.tracking!.noloop && c === writer) continue
        if (c.tracking!.prefixes.length === 0 || c.tracking!.prefixes.some((p) => key.startsWith(p))) this.send(c, key)
      }
    }
  }

  onServerWrite(notes: readonly string[], writer: ClientState | undefined): void {
    if (this.count === 0) return
    const keys: string[] = []
    for (let i = 0; i < notes.length; i += 3) keys.push(notes[i]!)
    this.written(keys, writer)
  }

  onEvent(ev: LogEvent, notes: readonly string[] | undefined): void {
    // The server's own writes were handled when they were applied (written()).
    if (notes !== undefined || ev.type === 'entangle') return
    if (ev.type === 'batch') this.written(ev.ops.map((op) => op.key), undefined)
    else this.written([ev.key], undefined)
  }

  /** Changes were missed: every tracking client drops its whole cache (a null invalidation). */
  onGap(): void {
    this.readers.clear()
    this.keysOf.clear()
    this.items = 0
    for (const c of this.clients.values()) if (c.tracking !== undefined) this.send(c, null)
  }

  private evictOldest(): void {
    const [key] = this.readers.keys()
    if (key !== undefined) this.written([key], undefined)
  }

  private send(c: ClientState, key: string | null): void {
    const keys: Reply = key === null ? null : [key]
    const redirect = c.tracking!.redirect
    if (redirect === 0) {
      if (c.protocol === 3) c.push(new PushReply([INVALIDATE, keys]))
      else if (c.channels.has(INVALIDATE_CHANNEL)) c.push(new PushReply([MESSAGE, INVALIDATE_CHANNEL, key === null ? NIL_ARRAY : keys]))
      return
    }
    const target = this.clients.get(redirect)
    if (target === undefined) {
      if (c.protocol === 3) c.push(new PushReply([Buffer.from('tracking-redir-broken'), redirect]))
      return
    }
    if (target.protocol === 3) target.push(new PushReply([MESSAGE, INVALIDATE_CHANNEL, keys]))
    else if (target.channels.has(INVALIDATE_CHANNEL)) target.push(new PushReply([MESSAGE, INVALIDATE_CHANNEL, key === null ? NIL_ARRAY : keys]))
  }
}
