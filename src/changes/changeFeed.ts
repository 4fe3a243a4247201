// The live end of change streams: every sequenced event passes through here in seq order.
// `applied$` sees an event as soon as it is in memory; `durable$` only once the WAL commit
// holding it is fdatasynced (at once in memory mode, where there is nothing to wait for).
// Events between the two are held in `pending` — but only while someone listens to `durable$`:
// holding every buffered write until its sync would make each one outlive a young-generation
// GC, which costs the put path dearly. A durable subscriber that finds a gap (it subscribed
// while pending was not kept) reads the missing events from the log, where they now are.
import { Subject } from 'rxjs'
import type { WriteRequest } from '../pipeline/writeRequest.js'

export class ChangeFeed {
  readonly applied$ = new Subject<WriteRequest>()
  readonly durable$ = new Subject<WriteRequest>()
  /** Ticks whenever durableSeq advances, also for events nobody kept: lets a waiting stream look again. */
  readonly durableProgress$ = new Subject<number>()
  /** Change streams currently subscribed: while any is, applied events keep what they replaced (`prev`). */
  streams = 0
  /** Why the write path stopped, once it has (see fail()). */
  failure: Error | undefined
  /** Applied, not yet durable, oldest first. */
  pending: WriteRequest[] = []
  private head = 0

  constructor(
    /** Highest seq durable (memory mode: everything applied counts as durable). */
    public durableSeq: number,
    /** Durable on publish (memory mode, a read-only database): no progress tick per event. */
    readonly immediate: boolean,
  ) {}

  /** The pipeline's last stage: publishes an event as applied (and durable, in memory mode). */
  publish(req: WriteRequest): void {
    this.applied$.next(req)
    if (this.immediate) {
      this.durableSeq = req.seq
      this.durable$.next(req)
    } else if (this.durable$.observed) {
      this.pending.push(req)
    }
  }

  /** Everything up to `seq` is on disk: hand it to durable subscribers and let it go. */
  markDurable(seq: number): void {
    const p = this.pending
    let i = this.head
    while (i < p.length && p[i]!.seq <= seq) {
      this.durableSeq = p[i]!.seq
      this.durable$.next(p[i]!)
      p[i] = undefined as unknown as WriteRequest
      i++
    }
    if (seq > this.durableSeq) this.durableSeq = seq
    this.durableProgress$.next(this.durableSeq)
    // Compact now and then instead of shifting per event.
    if (i === p.length) {
      this.pending = []
      this.head = 0
    } else if (i > 1024 && i * 2 > p.length) {
      this.pending = p.slice(i)
      this.head = 0
    } else {
      this.head = i
    }
  }

  /** A failed commit: these events will never be durable. */
  dropPending(): void {
    this.pending = []
    this.head = 0
  }

  /**
   * The write path failed for good: no later seq will ever become durable. Waiting streams wake
   * and fail with it instead of waiting forever (or ending as if the database had been closed).
   */
  fail(error: Error): void {
    this.failure ??= error
    this.durableProgress$.next(this.durableSeq)
  }

  complete(): void {
    this.durableProgress$.complete()
    this.applied$.complete()
    this.durable$.complete()
  }
}
