// The database as commands see it: reads from db.get, and writes collected as a write set that
// is submitted once, when the command (or the whole MULTI/EXEC) is done — one put, one delete,
// or one atomic db.batch with one seq.
//
// Why this is safe for read-modify-write commands (INCR, APPEND, HSET on a Map): a command reads
// and collects its writes synchronously, and the write set is submitted in the same synchronous
// step; db.put/db.batch apply to memory before they return (see src/pipeline/writePipeline.ts:
// "a write is sequenced and visible to readers before put() returns"). No other connection's
// command can run in between, so no write can interleave.
//
// Within a transaction the write set spans all queued commands, and reads see the writes
// collected before them (the overlay), as Redis's commands inside EXEC see each other's effects.
//
// Deadlines (expiry): a put replaces the key's deadline as db.put does (none given: none, as
// Redis's SET); update() keeps it, as Redis keeps a key's TTL when a command modifies its value
// (APPEND, INCR, HSET, ...). A write with a deadline sits in the overlay as a Timed.
import type { BatchOp, Database, WriteResult } from '../index.js'
import { CHANGE_LOG_READ_ONLY, isChangeLogKey } from './changeLog.js'
import type { ClientState } from './clientState.js'
import type { KeyEvents } from './keyEvents.js'
import type { Watches } from './watches.js'

const DELETED: unique symbol = Symbol('deleted')

/** A collected write with a deadline (ms since the epoch). */
class Timed {
  constructor(
    readonly value: unknown,
    readonly at: number,
  ) {}
}
/** A write that kept the key's deadline (update): notified as a plain write (no `expire` event, as Redis's KEEPTTL). */
class Kept extends Timed {}
/** In the undo journal: the key had no collected write before. */
const NONE: unique symbol = Symbol('none')

export class Keyspace {
  /** Writes collected and not submitted: key → new value, or DELETED. In first-write order. */
  private overlay = new Map<string, unknown>()
  /** Undo journal (key, what the overlay held before), so a command that fails midway leaves nothing. */
  private journal: unknown[] = []

  /**
   * While key events are followed (notifications, tracking): which command wrote which key, as
   * (key, command, op) triples, handed to them with the write's seq at commit (keyEvents.ts).
   */
  private notes: string[] = []

  constructor(
    readonly db: Database,
    readonly events?: KeyEvents,
    /** The client whose commands write here (CLIENT TRACKING's NOLOOP). */
    readonly writer?: ClientState,
    /** WATCH's registry: a write to a watched key marks its watchers. */
    readonly watches?: Watches,
  ) {}

  get(key: string): unknown {
    if (this.overlay.size > 0) {
      const v = this.overlay.get(key)
      if (v !== undefined) return v === DELETED ? undefined : v instanceof Timed ? (v.at > Date.now() ? v.value : undefined) : v
    }
    return this.db.get(key)
  }

  has(key: string): boolean {
    if (this.overlay.size > 0) {
      const v = this.overlay.get(key)
      // A collected write whose deadline has passed (SET ... PXAT <past> inside MULTI) reads as absent, as in Redis.
      if (v !== undefined) return v !== DELETED && !(v instanceof Timed && v.at <= Date.now())
    }
    return this.db.has(key)
  }

  /** Writes `value`, with `expiresAt` as its deadline (undefined: none, clearing the old one). */
  put(key: string, value: unknown, expiresAt?: number): void {
    this.record(key)
    this.overlay.set(key, expiresAt === undefined ? value : new Timed(value, expiresAt))
  }

  /** Writes `value` keeping the key's deadline (a modification of the value, not a new value). */
  update(key: string, value: unknown): void {
    const at = this.expiresAt(key)
    this.record(key)
    this.overlay.set(key, at === undefined ? value : new Kept(value, at))
  }

  /** The key's deadline (ms since the epoch), counting the collected writes; undefined: none or absent. */
  expiresAt(key: string): number | undefined {
    if (this.overlay.size > 0) {
      const v = this.overlay.get(key)
      if (v !== undefined) return v instanceof Timed && v.at > Date.now() ? v.at : undefined
    }
    return this.db.expiresAt(key)
  }

  /** Deletes `key`; true when it existed. */
  del(key: string): boolean {
    if (!this.has(key)) {
      if (key.charCodeAt(0) === 95 && isChangeLogKey(key)) throw CHANGE_LOG_READ_ONLY
      return false
    }
    this.record(key)
    this.overlay.set(key, DELETED)
    return true
  }

  private record(key: string): void {
    // The change log's stream keys are read-only (commands/streams.ts); '_' is all most writes look at.
    if (key.charCodeAt(0) === 95 && isChangeLogKey(key)) throw CHANGE_LOG_READ_ONLY
    const before = this.overlay.get(key)
    this.journal.push(key, before === undefined ? NONE : before)
  }

  /** A point to roll back to (before a command runs). */
  savepoint(): number {
    return this.journal.length
  }

  /** Undoes the writes collected since `mark`. */
  rollback(mark: number): void {
    const j = this.journal
    while (j.length > mark) {
      const before = j.pop()
      const key = j.pop() as string
      if (before === NONE) this.overlay.delete(key)
      else this.overlay.set(key, before)
    }
  }

  /** Number of keys, counting the collected writes. */
  get size(): number {
    let n = this.db.size
    for (const [k, v] of this.overlay) {
      const before = this.db.has(k)
      const after = v !== DELETED && !(v instanceof Timed && v.at <= Date.now())
      if (before !== after) n += after ? 1 : -1
    }
    return n
  }

  /** True when writes are collected (a command inside MULTI saw earlier ones). */
  get dirty(): boolean {
    return this.overlay.size > 0
  }

  /**
   * The keys in order with their values, after `after` (exclusive) and starting with `prefix`,
   * counting the collected writes. Synchronous: it reads a snapshot of the ordered index.
   */
  *entries(opts: { after?: string; prefix?: string } = {}): Generator<[string, unknown]> {
    const range = this.db.range({ gt: opts.after, prefix: opts.prefix }).entries()
    if (this.overlay.size === 0) {
      yield* range
      return
    }
    // Merge the overlay's keys (sorted) into the index's.
    const extra = [...this.overlay.keys()]
      .filter((k) => (opts.after === undefined || k > opts.after) && (opts.prefix === undefined || k.startsWith(opts.prefix)))
      .sort()
    let i = 0
    const fromOverlay = function* (this: Keyspace, upTo: string | undefined): Generator<[string, unknown]> {
      while (i < extra.length && (upTo === undefined || extra[i]! < upTo)) {
        const k = extra[i++]!
        const v = this.overlay.get(k)
        if (v !== DELETED && this.has(k)) yield [k, v instanceof Timed ? v.value : v]
      }
    }.bind(this)
    for (const [k, v] of range) {
      yield* fromOverlay(k)
      if (i < extra.length && extra[i] === k) {
        i++
        const o = this.overlay.get(k)
        if (o !== DELETED && this.has(k)) yield [k, o instanceof Timed ? o.value : o]
        continue
      }
      yield [k, v]
    }
    yield* fromOverlay(undefined)
  }

  /** Notes the writes made since `mark` as command `command`'s (only while key events are followed). */
  noteSince(mark: number, command: string): void {
    const j = this.journal
    for (let i = mark; i < j.length; i += 2) {
      const key = j[i] as string
      const v = this.overlay.get(key)
      this.notes.push(key, command, v === DELETED ? 'del' : v instanceof Kept ? 'putk' : v instanceof Timed ? 'putx' : 'put')
    }
  }

  /** Discards the collected writes. */
  reset(): void {
    this.overlay.clear()
    this.journal.length = 0
    if (this.notes.length > 0) this.notes = []
  }

  /**
   * Submits the collected writes (nothing when there are none) and resets. `watched` (key → seq
   * at WATCH) become ifSeq conditions on the writes to those keys.
   */
  commit(watched?: ReadonlyMap<string, number>): Promise<WriteResult> | undefined {
    const overlay = this.overlay
    if (overlay.size === 0) {
      this.journal.length = 0
      return undefined
    }
    const before = this.db.seq
    let p: Promise<WriteResult> | undefined
    if (overlay.size === 1 && watched === undefined) {
      // One key written (SET, INCR, HSET…): it is the journal's first entry (a rollback undoes
      // entries from the end), so no iterator or entry array is made per command.
      const k = this.journal[0] as string
      const v = overlay.get(k)
      if (v instanceof Timed) p = this.db.put(k, v.value, { expiresAt: v.at })
      else if (v !== DELETED) p = this.db.put(k, v)
      else if (this.db.has(k)) p = this.db.delete(k)
      if (p !== undefined && this.watches !== undefined && this.watches.size > 0) this.watches.touched(k)
    } else {
      const ops: BatchOp[] = []
      for (const [k, v] of overlay) {
        const ifSeq = watched?.get(k)
        if (v instanceof Timed) ops.push({ type: 'put', key: k, value: v.value, expiresAt: v.at, ...(ifSeq === undefined ? {} : { ifSeq }) })
        else if (v !== DELETED) ops.push(ifSeq === undefined ? { type: 'put', key: k, value: v } : { type: 'put', key: k, value: v, ifSeq })
        else if (this.db.has(k)) ops.push(ifSeq === undefined ? { type: 'del', key: k } : { type: 'del', key: k, ifSeq })
      }
      if (ops.length > 0) p = this.db.batch(ops)
      const w = this.watches
      if (p !== undefined && w !== undefined && w.size > 0) for (const op of ops) w.touched(op.key)
    }
    this.journal.length = 0
    overlay.clear()
    if (this.notes.length > 0) {
      // db.put/db.batch sequence the write before they return: it is seq before + 1, if it was taken.
      if (this.db.seq === before + 1) this.events?.expect(before + 1, this.notes, this.writer)
      this.notes = []
    }
    return p
  }
}
