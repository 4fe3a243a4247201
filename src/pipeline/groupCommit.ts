// Stage 4: batches events into the WAL. `appendToWal` encodes each event into the pending
// buffer as it passes; events that arrive while a write/fsync is in flight go to disk together
// in the next write call and fdatasync (group commit). Each commit's outcome is published on
// `outcomes$`: in sync mode it carries the writes waiting for it; in buffered mode it carries
// the writes held back because a commit was due (see accept), and a timer commits every
// syncIntervalMs when the event loop is free to run it.
import { Subject, tap } from 'rxjs'
import type { MonoTypeOperatorFunction } from 'rxjs'
import { DatabaseFailedError, WalFailedError } from '../errors.js'
import type { FailureDetails, WriteFailure } from '../errors.js'
import { CutBackFailedError } from '../wal/walWriter.js'
import type { WalWriter } from '../wal/walWriter.js'
import type { WriteRequest } from './writeRequest.js'

const NO_REQUESTS: WriteRequest[] = []

export interface CommitOutcome {
  /** The writes this commit carried that wait for it (sync mode: all; buffered: those held back). */
  requests: WriteRequest[]
  /** Highest seq now durable (or attempted, on failure). */
  seq: number
  error: WriteFailure | undefined
}

export interface GroupCommitOptions {
  /** Sync mode: every write waits for the fdatasync that covers it. */
  sync: boolean
  /** Buffered mode: a write is on disk at most this long (plus one commit) after it was acknowledged. */
  syncIntervalMs: number
  /** Buffered mode: never hold more than this much encoded WAL before writing it. */
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
  failure: WriteFailure | undefined
  private waiting: WriteRequest[] = []
  /** The writes of the commit in flight, and the highest seq it makes durable. */
  private inFlight: WriteRequest[] = NO_REQUESTS
  private inFlightUpTo = 0
  private running = false
  private scheduled = false
  private flushWaiters: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] = []
  private idleWaiters: (() => void)[] = []
  private timer: NodeJS.Timeout | undefined
  /**
   * Buffered mode: `time` of the oldest write appended since the last commit took the pending
   * bytes (0: none). Writes carry the time assignSeq stamped, so checking age costs no clock read.
   */
  private pendingSince = 0
  /** Buffered mode: a commit is due and scheduled; `holding` once a microtask has run since. */
  private due = false
  private holding = false
  private readonly startHolding = (): void => {
    if (this.due) this.holding = true
  }
  /** A halt() during a commit: told to onFailure once that commit has settled. */
  private haltPending = false
  /** A stage threw (halt): the outcome stages may be unsubscribed, so emit settles writes itself. */
  private stagesFailed = false
  /** Every commit's outcome, in order; failures once, with every write they took down. */
  readonly outcomes$ = new Subject<CommitOutcome>()
  /** Told once when the write path has failed for good, with what was lost (set by the pipeline). */
  onFailure: ((error: WriteFailure) => void) | undefined

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

  /**
   * The pipeline stage: appends each event to the WAL's pending buffer and schedules a commit.
   * Marks `awaitsCommit` on writes whose promise the commit settles (ackApplied skips them).
   */
  appendToWal(): MonoTypeOperatorFunction<WriteRequest> {
    return tap((req) => this.accept(req))
  }

  /**
   * Publishes an outcome to the pipeline's stages. If a stage failed (the database is halted),
   * its subscription is gone: settle the writes here so that none hangs; settling twice is a no-op.
   */
  private emit(o: CommitOutcome): void {
    this.outcomes$.next(o)
    if (!this.stagesFailed) return
    for (const req of o.requests) {
      if (o.error === undefined) req.resolve({ seq: req.seq })
      else req.reject(o.error)
    }
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

  /**
   * Starts a new WAL segment for the records after `seq` (a checkpoint's seq), if nothing after
   * it was appended meanwhile, between commits. A failure fails the log as a commit's would.
   */
  async startSegmentAfter(seq: number): Promise<void> {
    await this.idle()
    if (this.running || this.failure !== undefined || this.appendedSeq !== seq || this.durableSeq !== seq) return
    this.running = true
    try {
      await this.wal.startSegmentAt(seq + 1)
    } catch (err) {
      this.failWal(err, [])
      throw this.failure ?? err
    } finally {
      this.running = false
      for (const resolve of this.idleWaiters.splice(0)) resolve()
      // Writes that arrived meanwhile were appended to the new segment; commit them.
      if (this.appendedSeq > this.durableSeq || this.flushWaiters.length > 0) this.schedule()
    }
  }

  /** Resolves when no commit is in flight (after a failure, before the log file may be closed). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.outcomes$.complete()
  }

  /** appendToWal's step for one write (the write pipeline calls it directly, see WriteRequests). */
  accept(req: WriteRequest): void {
    if (this.failure !== undefined) {
      // Only reachable in the instant between a failure and the database refusing writes.
      req.awaitsCommit = true
      this.emit({ requests: [req], seq: req.seq, error: this.failure })
      return
    }
    req.walOffset = this.wal.append(req)
    req.walSegment = this.wal.currentSegment
    this.appendedSeq = req.seq
    if (this.opts.sync) {
      req.awaitsCommit = true
      this.waiting.push(req)
      this.schedule()
      return
    }
    // Buffered: a write is acknowledged at once unless a commit is due — too much pending, or the
    // oldest pending write older than syncIntervalMs (or the clock stepped back) — and a microtask
    // has run since: then the caller is running on resolved promises (`for (...) await put()`,
    // one loop or many), which never yields to the timer or to setImmediate by itself, so its
    // writes wait for the commit, and it yields. Within one synchronous burst of puts nobody can
    // see an acknowledgement before the burst ends and the commit can start, so those are not
    // held: holding every one of them would keep them all alive past a young-generation GC.
    if (this.holding) {
      req.awaitsCommit = true
      this.waiting.push(req)
      return
    }
    if (this.due) return
    const since = this.pendingSince
    if (since === 0) this.pendingSince = req.time
    else if (req.time - since >= this.opts.syncIntervalMs || req.time < since) this.commitDue()
    if (!this.due && this.wal.pendingBytes >= this.opts.maxPendingBytes) this.commitDue()
  }

  private commitDue(): void {
    this.due = true
    queueMicrotask(this.startHolding)
    this.schedule()
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
      let commit = this.hasPending() ? this.startCommit() : undefined
      while (commit !== undefined) {
        const requests = this.inFlight
        const upTo = this.inFlightUpTo
        // Not kept alive past the commit by this field.
        this.inFlight = NO_REQUESTS
        try {
          await commit
        } catch (err) {
          this.failWal(err, requests)
          return
        }
        this.durableSeq = upTo
        // The next commit's write goes to the file before this one's writes are acknowledged:
        // the disk is busy again while their promises settle and their callers run.
        commit = this.failure === undefined && this.hasPending() ? this.startCommit() : undefined
        this.emit({ requests, seq: upTo, error: undefined })
        this.settleFlushes()
        // A write made while the outcome was handled (a change-stream subscriber's) joins the loop too.
        if (commit === undefined && this.failure === undefined && this.hasPending()) commit = this.startCommit()
      }
    } finally {
      this.running = false
      const failure = this.failure as WriteFailure | undefined
      if (this.haltPending && failure !== undefined) {
        this.haltPending = false
        if (failure instanceof DatabaseFailedError) failure.narrowLoss(this.durableSeq)
        this.onFailure?.(failure)
      }
      for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
  }

  private hasPending(): boolean {
    return this.appendedSeq > this.durableSeq || this.wal.pendingBytes > 0
  }

  /** Hands everything appended so far to the WAL; `inFlight` and `inFlightUpTo` say what it carries. */
  private startCommit(): Promise<void> {
    const requests = this.waiting
    this.waiting = []
    this.inFlight = requests
    this.inFlightUpTo = this.appendedSeq
    this.pendingSince = 0
    this.due = false
    this.holding = false
    return this.wal.commit(true)
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

  /** Buffered mode: what is not on disk was acknowledged (except writes held back, which reject). */
  private loss(): FailureDetails {
    if (this.opts.sync || this.appendedSeq <= this.durableSeq) return {}
    return { lostFromSeq: this.durableSeq + 1, lostToSeq: this.appendedSeq }
  }

  /** A commit failed: the log is as it was before it (or, if it could not be cut back, unknown). */
  private failWal(err: unknown, inFlight: WriteRequest[]): void {
    const error = new WalFailedError(err, { ...this.loss(), outcomeUnknown: err instanceof CutBackFailedError })
    if (this.failure !== undefined) {
      // Halted meanwhile: the database's failure stays the first one; this commit's writes learn theirs.
      this.emit({ requests: inFlight, seq: this.appendedSeq, error })
      return
    }
    this.stopWith(error, inFlight.concat(this.waiting))
    this.onFailure?.(error)
  }

  /**
   * A pipeline stage threw: nothing more is written. Writes waiting for a commit that has not
   * started reject now; a commit in flight settles its own writes truthfully when it ends, and
   * the loss reported is narrowed to what it did not save.
   */
  halt(cause: unknown): WriteFailure {
    this.stagesFailed = true
    if (this.failure !== undefined) return this.failure
    const error = new DatabaseFailedError(cause, this.loss())
    this.stopWith(error, this.waiting)
    if (this.running) this.haltPending = true
    else this.onFailure?.(error)
    return error
  }

  private stopWith(error: WriteFailure, requests: WriteRequest[]): void {
    this.failure = error
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    // Everything not yet durable fails together, in seq order.
    this.waiting = []
    this.emit({ requests, seq: this.appendedSeq, error })
    for (const w of this.flushWaiters) w.reject(error)
    this.flushWaiters = []
  }
}
