// The primary's half: publishes every durable event, in seq order, to the stream, so that the
// stream's seq is IsLabDB's seq. Each message carries msgID `<epoch>:<seq>` (a retry after a lost
// ack is a duplicate the stream drops, within its dedup window) and expected-last-sequence
// seq - 1 (the stream refuses it when anything else was written meanwhile: a fenced primary finds
// out on its next publish). At most `window` publishes wait for their ack at a time; any failure
// stops the pump, waits for the rest, reconciles with the stream (fencing.ts) and starts again
// from the first event the stream does not hold, read back from the local log.
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { encodeEvent, FencedError, HistoryGoneError, ReplicationError } from '../index.js'
import type { Database, LogEvent, Snapshot, WriteResult } from '../index.js'
import { localRecords, reconcile } from './fencing.js'
import { PublishLane } from './publishLane.js'
import { backoff } from './streamLink.js'
import type { StreamLink } from './streamLink.js'

interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
}

export class Publisher extends EventEmitter {
  /** Highest seq the stream is known to hold from this database. */
  acked = 0
  /** The stream's last seq as last seen. */
  streamSeq: number | undefined
  state = 'connecting'
  fenced: FencedError | undefined
  /** This writer's epoch: unique per run, so that its msgIDs never collide with another primary's. */
  readonly epoch = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`
  private stopped = false
  private running: Promise<void> | undefined
  private readonly waiters = new Map<number, Waiter>()
  private oldestPendingTime = 0
  private wakeStop: (() => void) | undefined
  private releaseLog: (() => void) | undefined

  constructor(
    private readonly db: Database,
    private readonly link: StreamLink,
    /** A promoted replica knows the stream holds its events up to here. */
    private readonly knownAcked?: number,
  ) {
    super()
    // A promoted replica's stats say at once what the stream holds (not 0 until the first reconcile).
    if (knownAcked !== undefined) this.acked = knownAcked
  }

  start(): void {
    // Checkpoints must not delete segments the pump has not published yet.
    this.releaseLog = this.db.holdLog(() => this.acked + 1)
    this.db.on('failure', this.onWriteFailure)
    this.running = this.run()
  }

  /** Resolves once the stream holds `seq`; rejects when this primary is fenced or stopped first. */
  replicated(seq: number): Promise<void> {
    if (seq <= this.acked) return Promise.resolve()
    if (this.fenced !== undefined) return Promise.reject(this.fenced)
    if (this.writeFailure !== undefined && seq > this.db.durableSeq) return Promise.reject(this.writeFailure)
    if (this.stopped) return Promise.reject(new ReplicationError(this.link.o.stream, `stopped before seq ${seq} was replicated`))
    return new Promise<void>((resolve, reject) => {
      // Several may wait for one seq (ack: 'replicated' gates each write, and the application or
      // close() may ask too): each one is settled, none replaces another.
      const prev = this.waiters.get(seq)
      const w = prev === undefined ? { resolve, reject } : { resolve: () => (prev.resolve(), resolve()), reject: (err: unknown) => (prev.reject(err), reject(err)) }
      this.waiters.set(seq, w)
    })
  }

  /**
   * For ack: 'replicated': a write's promise resolves once the stream holds it. Only durable
   * events are published, so a gated write also asks for the WAL's sync now instead of at the
   * next sync interval (it waits for the stream's round trip anyway; syncs coalesce).
   */
  readonly gate = (r: WriteResult): Promise<WriteResult> => {
    if (r.seq > this.syncWanted) {
      this.syncWanted = r.seq
      if (!this.syncing) void this.syncSoon()
    }
    return this.replicated(r.seq).then(() => r)
  }

  private syncWanted = 0
  private syncing = false
  private writeFailure: unknown

  /**
   * The WAL failed for good: only durable events are ever published, so a seq past the durable
   * one never will be. Its waiters (an ack: 'replicated' write, replicated(seq)) reject with the
   * failure instead of waiting until close.
   */
  private readonly onWriteFailure = (err: unknown): void => {
    this.writeFailure = err
    const durable = this.db.durableSeq
    for (const [seq, w] of this.waiters) {
      if (seq <= durable) continue
      this.waiters.delete(seq)
      w.reject(err)
    }
  }

  /** Flushes until every gated write is durable; a flush that fails leaves it to the interval. */
  private async syncSoon(): Promise<void> {
    this.syncing = true
    try {
      while (!this.stopped && this.syncWanted > this.db.durableSeq) await this.db.flush()
    } catch {
      // The database reports its own failure (a write rejects, the 'failure' event).
    } finally {
      this.syncing = false
    }
  }

  get lagMs(): number {
    return this.acked >= this.db.durableSeq || this.oldestPendingTime === 0 ? 0 : Math.max(0, Date.now() - this.oldestPendingTime)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.db.off('failure', this.onWriteFailure)
    this.wakeStop?.()
    await this.running
    this.releaseLog?.()
    const err = this.fenced ?? new ReplicationError(this.link.o.stream, 'replication stopped before this write was replicated')
    for (const w of this.waiters.values()) w.reject(err)
    this.waiters.clear()
  }

  private async run(): Promise<void> {
    const known = this.knownAcked
    // The state as opened, before any write: a log that begins after a checkpoint holds no event
    // at the checkpoint's seq to compare with the stream's, so reconcile compares this state with
    // it instead (when the stream ends there, with this database's unpublished writes after it or
    // not). It pins at most one older version per key that writes replace until the first
    // reconcile, so it is let go at once when the log holds everything from seq 1.
    let atStart = known === undefined ? this.db.snapshot() : undefined
    if (atStart !== undefined && (atStart.seq === 0 || (await localRecords(this.db, 1, 1).catch(() => [])).length === 1)) {
      atStart.close()
      atStart = undefined
    }
    try {
      await this.loop(known, atStart)
    } finally {
      atStart?.close()
    }
  }

  private async loop(known: number | undefined, atStart: Snapshot | undefined): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      try {
        // After a failure, what the stream held already is not looked at again (it may be trimmed).
        if (known !== undefined) known = Math.max(known, this.acked)
        const standing = await reconcile(this.db, this.link, known, atStart)
        atStart?.close()
        this.advance(standing.acked)
        this.streamSeq = standing.streamSeq
        known = this.acked
        failures = 0
        this.state = 'live'
        await this.pump()
      } catch (caught) {
        if (caught instanceof FencedError) return this.fence(caught)
        if (this.stopped) return
        // The log lost the first event the stream lacks (a checkpoint while this database ran
        // without replication, e.g. seeding an empty stream): no retry brings it back. Stalled
        // and said, not 'disconnected' with NATS up.
        const err = caught instanceof HistoryGoneError
          ? new ReplicationError(this.link.o.stream, `this database's log no longer holds seq ${this.acked + 1}, the first the stream lacks (a checkpoint let it go before it was published): it cannot be published, nor anything after it; writes go on locally. Checkpoint a primary only while it runs with replication`)
          : caught
        // After a WAL failure the pump ends at the durable seq every time: stalled, not a NATS outage.
        this.state = err instanceof ReplicationError || this.writeFailure !== undefined ? 'stalled' : 'disconnected'
        if (err instanceof ReplicationError) this.emit('stalled', err)
        await backoff(failures++)
      }
    }
  }

  /** Publishes events after `acked` until a publish fails or replication stops. */
  private async pump(): Promise<void> {
    const { subject, window, ackTimeoutMs, stream } = this.link.o
    const nc = await this.link.connection()
    // Ends the current wait (for the next event or for room in the window) on stop or failure.
    // Not a race against one long-lived promise: each race left a reaction on it for the whole
    // pump, ~760 bytes per event published, never freed while the primary ran.
    let wake: (() => void) | undefined
    this.wakeStop = () => wake?.()
    let roomFor: (() => void) | undefined
    const first = this.acked + 1
    const lane = new PublishLane(nc, stream, subject, this.epoch, ackTimeoutMs, window, first, {
      acked: (seq) => this.advance(seq),
      failed: () => wake?.(),
      settled: () => roomFor?.(),
    })
    const it = this.db.events({ since: this.acked, live: true, durableOnly: true, fromLog: true })[Symbol.asyncIterator]()
    let expected = this.acked
    try {
      while (lane.failure === undefined && !this.stopped) {
        if (lane.inFlight >= window) {
          await new Promise<void>((r) => (roomFor = wake = r))
          roomFor = undefined
          continue
        }
        const r = await new Promise<IteratorResult<LogEvent> | undefined>((resolve, reject) => {
          wake = () => resolve(undefined)
          it.next().then(resolve, reject)
        })
        wake = undefined
        if (r === undefined || r.done) break
        const ev: LogEvent = r.value
        if (ev.seq !== expected + 1) throw new ReplicationError(stream, `the local log jumps from seq ${expected} to ${ev.seq}`)
        expected = ev.seq
        if (this.oldestPendingTime === 0) this.oldestPendingTime = ev.time
        const seq = ev.seq
        // Expected-last-sequence alone does not fence a pipelined publish: when another primary
        // stored seq - 1 while ours was refused, ours for seq still finds the stream at seq - 1
        // and lands on top of the other's event. Chained on our own msgID it is refused too. The
        // first publish of a pump has no chain (the stream's last may be another run of ours).
        // Sent with the others of this turn of the event loop (one socket write for them all).
        lane.send(seq, encodeEvent(ev), seq === first ? undefined : `${this.epoch}:${seq - 1}`)
      }
    } finally {
      await it.return?.()
      // Every publish still out settles (acked, refused or timed out) before reconcile looks.
      await lane.idle()
      lane.close()
    }
    if (lane.failure !== undefined) throw lane.failure
  }

  private advance(seq: number): void {
    if (seq <= this.acked) return
    for (let s = this.acked + 1; s <= seq; s++) {
      const w = this.waiters.get(s)
      if (w !== undefined) {
        this.waiters.delete(s)
        w.resolve()
      }
    }
    this.acked = seq
    if (this.streamSeq === undefined || seq > this.streamSeq) this.streamSeq = seq
    this.oldestPendingTime = 0
  }

  private fence(err: FencedError): void {
    this.fenced = err
    this.state = 'fenced'
    this.db.refuseWrites(err)
    for (const w of this.waiters.values()) w.reject(err)
    this.waiters.clear()
    this.emit('fenced', err)
  }
}
