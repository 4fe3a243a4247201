// Stage 4: batches events into the WAL. `appendToWal` encodes each event into the pending
// buffer as it passes; events that arrive while a write/fsync is in flight go to disk together
// in the next write call and fdatasync (group commit). Each commit's outcome is published on
// `outcomes$`: in sync mode it carries the writes waiting for it; in buffered mode a timer
// commits every syncIntervalMs (and sooner when much is pending).
import { Subject, tap } from 'rxjs'
import type { MonoTypeOperatorFunction } from 'rxjs'
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
  /** Every commit's outcome, in order; failures once, with every write they took down. */
  readonly outcomes$ = new Subject<CommitOutcome>()

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

  /** The pipeline stage: appends each event to the WAL's pending buffer and schedules a commit. */
  appendToWal(): MonoTypeOperatorFunction<WriteRequest> {
    return tap((req) => this.accept(req))
  }

  private emit(o: CommitOutcome): void {
    this.outcomes$.next(o)
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
    this.outcomes$.complete()
  }

  private accept(req: WriteRequest): void {
    if (this.failure !== undefined) {
      // Only reachable in the instant between a failure and the database refusing writes.
      this.emit({ requests: [req], seq: req.seq, error: this.failure })
      return
    }
    req.walOffset = this.wal.append(req as unknown as WalEvent)
    req.walSegment = this.wal.currentSegment
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
        this.emit({ requests, seq: upTo, error: undefined })
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
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    // Everything not yet durable fails together, in seq order.
    const requests = inFlight.concat(this.waiting)
    this.waiting = []
    this.emit({ requests, seq: this.appendedSeq, error })
    for (const w of this.flushWaiters) w.reject(error)
    this.flushWaiters = []
  }
}
