// Stage 4: batches events into the WAL. Events that arrive while a write/fsync is in flight
// are encoded into the next batch and go to disk together in one write call and one fdatasync
// (group commit). In sync mode the stage emits each commit's writes once durable; in buffered
// mode a timer commits every syncIntervalMs (and sooner when much is pending).
import { Observable } from 'rxjs'
import type { OperatorFunction } from 'rxjs'
import { WalFailedError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { WalWriter } from '../wal/walWriter.js'
import type { WriteRequest } from './writeRequest.js'

export interface CommitOutcome {
  /** The writes this commit carried that wait for durability (sync mode only; empty otherwise). */
  requests: WriteRequest[]
  /** Highest seq now durable (or attempted, on failure). */
  seq: number
  error: WalFailedError | undefined
}

export interface GroupCommitOptions {
  /** Sync mode: every write waits for the fdatasync that covers it. */
  sync: boolean
  syncIntervalMs: number
  /** Commit early once this much is pending, so buffered mode never holds unbounded memory. */
  maxPendingBytes: number
}

/**
 * Owns the commit loop. Only one commit runs at a time; whatever is appended meanwhile waits
 * for the next turn of the loop.
 */
export class GroupCommitter {
  /** Highest seq known durable on disk. */
  durableSeq: number
  /** Highest seq appended to the WAL. */
  appendedSeq: number
  failure: WalFailedError | undefined
  private waiting: WriteRequest[] = []
  private running = false
  private scheduled = false
  private flushWaiters: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] = []
  private timer: NodeJS.Timeout | undefined
  private emit: (o: CommitOutcome) => void = () => undefined

  constructor(
    private readonly wal: WalWriter,
    private readonly opts: GroupCommitOptions,
    lastSeq: number,
  ) {
    this.durableSeq = lastSeq
    this.appendedSeq = lastSeq
    if (!opts.sync) {
      this.timer = setInterval(() => this.schedule(), opts.syncIntervalMs)
      this.timer.unref()
    }
  }

  operator(): OperatorFunction<WriteRequest, CommitOutcome> {
    return (source) =>
      new Observable<CommitOutcome>((subscriber) => {
        this.emit = (o) => subscriber.next(o)
        return source.subscribe({
          next: (req) => this.accept(req),
          error: (e) => subscriber.error(e),
          complete: () => subscriber.complete(),
        })
      })
  }

  /** Resolves once every event appended so far is durable. */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.durableSeq >= this.appendedSeq && !this.running) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.flushWaiters.push({ seq: this.appendedSeq, resolve, reject })
      this.schedule()
    })
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private accept(req: WriteRequest): void {
    if (this.failure !== undefined) {
      // Only reachable in the instant between a failure and the database refusing writes.
      this.emit({ requests: [req], seq: req.seq, error: this.failure })
      return
    }
    this.wal.append(req as unknown as WalEvent)
    this.appendedSeq = req.seq
    if (this.opts.sync) {
      this.waiting.push(req)
      this.schedule()
    } else if (this.wal.pendingBytes >= this.opts.maxPendingBytes) {
      this.schedule()
    }
  }

  private schedule(): void {
    if (this.scheduled || this.running) return
    this.scheduled = true
    // setImmediate, not a microtask: every write issued in this turn of the event loop joins the commit.
    setImmediate(() => {
      this.scheduled = false
      void this.run()
    })
  }

  private async run(): Promise<void> {
    if (this.running || this.failure !== undefined) return
    this.running = true
    try {
      while (this.appendedSeq > this.durableSeq || this.wal.pendingBytes > 0) {
        const requests = this.waiting
        this.waiting = []
        const upTo = this.appendedSeq
        try {
          await this.wal.commit(true)
        } catch (err) {
          this.fail(new WalFailedError(err), requests)
          return
        }
        this.durableSeq = upTo
        if (requests.length > 0) this.emit({ requests, seq: upTo, error: undefined })
        this.settleFlushes()
      }
    } finally {
      this.running = false
    }
  }

  private settleFlushes(): void {
    if (this.flushWaiters.length === 0) return
    const still: typeof this.flushWaiters = []
    for (const w of this.flushWaiters) {
      if (w.seq <= this.durableSeq) w.resolve()
      else still.push(w)
    }
    this.flushWaiters = still
  }

  private fail(error: WalFailedError, inFlight: WriteRequest[]): void {
    this.failure = error
    this.stop()
    // Everything not yet durable fails together, in seq order.
    const requests = inFlight.concat(this.waiting)
    this.waiting = []
    this.emit({ requests, seq: this.appendedSeq, error })
    for (const w of this.flushWaiters) w.reject(error)
    this.flushWaiters = []
  }
}
