// The writes as the server sees them, live: every event of the log (db.events(), applied, not
// waiting for durability), whoever wrote it — a client of this server, the embedded API, the
// database's own expiry. Keyspace notifications and client tracking are fed from here, so writes
// through the embedded API notify and invalidate too.
//
// The log knows puts and deletes; Redis's notifications name the command (incrby, hset,
// rename_from, ...). So the server notes, for its own writes, which command wrote which key
// (Keyspace.noteSince) and hands the notes over with the event's seq (expect); an event without
// notes is described from its operations alone.
//
// It runs only while someone needs it (a subscriber with notifications on, a tracking client):
// a live event stream makes every write keep what it replaced, which costs the write path.
import type { Database, LogEvent } from '../index.js'
import type { ClientState } from './clientState.js'

export interface KeyEventSink {
  /** One event, in seq order; `notes` (key, command, op triples) when this server wrote it. */
  onEvent(ev: LogEvent, notes: readonly string[] | undefined): void
  /** The server's own write, when it is applied (before its event comes through the log). */
  onServerWrite?(notes: readonly string[], writer: ClientState | undefined): void
  /** Events were missed (the live queue overflowed with no log to catch up from): anything may have changed. */
  onGap(): void
}

export class KeyEvents {
  private readonly pending = new Map<number, readonly string[]>()
  private it: AsyncIterator<LogEvent> | undefined
  private runId = 0
  /** The seq of the last event handed to the sinks (or db.seq when following started). */
  private delivered = 0
  private waiters: { seq: number; resolve: () => void }[] = []

  constructor(
    private readonly db: Database,
    private readonly sinks: readonly KeyEventSink[],
    /** Whether anyone needs events now (asked by refresh()). */
    private readonly needed: () => boolean,
  ) {}

  /** True while events are followed: writes are then noted (Keyspace). */
  get active(): boolean {
    return this.it !== undefined
  }

  /** Starts or stops following, as `needed()` says now (after a subscription or setting changed). */
  refresh(): void {
    const need = this.needed() && this.db.isOpen
    if (need && this.it === undefined) this.start()
    else if (!need && this.it !== undefined) this.stop()
  }

  /** The server's write of `seq`, just applied: its (key, command, op) notes, and who wrote it. */
  expect(seq: number, notes: readonly string[], writer: ClientState | undefined): void {
    if (this.it === undefined) return
    this.pending.set(seq, notes)
    for (const s of this.sinks) s.onServerWrite?.(notes, writer)
  }

  /**
   * True when an event up to `seq` that this server did not write has not reached the sinks yet
   * (the live stream delivers in microtasks): WATCH cannot tell whether it touched a watched key.
   */
  undelivered(seq: number): boolean {
    if (this.it === undefined) return false
    for (let s = this.delivered + 1; s <= seq; s++) if (!this.pending.has(s)) return true
    return false
  }

  /** Resolves once the events up to `seq` reached the sinks (or following stopped or failed). */
  delivery(seq: number): Promise<void> {
    if (this.it === undefined || this.delivered >= seq) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ seq, resolve }))
  }

  private wake(all: boolean): void {
    if (this.waiters.length === 0) return
    const still: { seq: number; resolve: () => void }[] = []
    for (const w of this.waiters) {
      if (all || this.delivered >= w.seq) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }

  stop(): void {
    this.wake(true)
    const it = this.it
    this.it = undefined
    this.runId++
    this.pending.clear()
    void it?.return?.()
  }

  private start(): void {
    const id = ++this.runId
    const it = this.db.events({ durableOnly: false })[Symbol.asyncIterator]()
    this.it = it
    this.delivered = this.db.seq
    void this.run(it, id)
  }

  private async run(it: AsyncIterator<LogEvent>, id: number): Promise<void> {
    try {
      for (;;) {
        const r = await it.next()
        if (r.done || id !== this.runId) break
        const ev = r.value
        const notes = this.pending.get(ev.seq)
        if (notes !== undefined) this.pending.delete(ev.seq)
        this.delivered = ev.seq
        for (const s of this.sinks) s.onEvent(ev, notes)
        this.wake(false)
      }
    } catch {
      if (id !== this.runId) return
      for (const s of this.sinks) s.onGap()
      this.pending.clear()
      this.wake(true)
    }
    if (id !== this.runId) return
    // Ended (database closed) or failed: follow again from now on if still needed.
    this.it = undefined
    this.wake(true)
    this.refresh()
  }
}
