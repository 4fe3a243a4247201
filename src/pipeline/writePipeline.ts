// The whole write path in one place. Every put/delete/batch is a WriteRequest handed to
// `requests`; the stages below run synchronously up to the WAL hand-off, so a write is
// sequenced and visible to readers before put() returns its promise.
//
//   requests ─ checkPreconditions ─ assignSeq ─ applyToState ─┬─ appendToWal ─ ackApplied ─ publish   (buffered)
//                                                             ├─ appendToWal ─ publish                 (sync)
//                                                             └─ ackApplied ─ publish                  (memory)
//   commit outcomes (group commit, async) ─ markDurable ─┬─ revertFailed ─ ackDurable                  (sync)
//                                                        └─ ackDurable   (buffered: writes held back while a commit was due)
//
// The write stages are one plain function per mode, called once per write: a chain of RxJS
// operators cost a Subject fan-out, a subscriber and a closure call per stage per write (about a
// tenth of a bulk load's time, issue 16), for nothing the stages need. Commit outcomes, a few per
// second, stay an RxJS stream.
//
// A stage that throws fails the database (ISLAB_FAILED): see WriteRequests and GroupCommitter.halt.
import { Subject, Subscription, tap } from 'rxjs'
import type { ChangeFeed } from '../changes/changeFeed.js'
import { DatabaseFailedError } from '../errors.js'
import type { WriteFailure } from '../errors.js'
import type { MemoryState } from '../state/memoryState.js'
import { ackApplied, ackDurable, revertFailed } from './acknowledge.js'
import { applyToState } from './applyToState.js'
import { SeqClock, assignSeq } from './assignSeq.js'
import { checkPreconditions } from './checkPreconditions.js'
import type { CommitOutcome, GroupCommitter } from './groupCommit.js'
import type { WriteRequest } from './writeRequest.js'

export interface WritePipeline {
  readonly requests: WriteRequests
  readonly clock: SeqClock
  readonly subscriptions: Subscription[]
  /** What stopped the write path for good (a failed commit or a throwing stage); undefined while it runs. */
  readonly failure: WriteFailure | undefined
}

/**
 * The pipeline's entry. A stage that throws stops the write path for good, and later writes
 * must not be dropped on the floor, their promise never settled: they are rejected instead —
 * and so is the write whose own pass through the stages failed. It stays a Subject for close()
 * (complete), which, like unsubscribing the pipeline, ends the passes: writes after it are ignored.
 */
export class WriteRequests extends Subject<WriteRequest> {
  failure: WriteFailure | undefined
  /** The stages, as one function (set by buildWritePipeline); undefined once they ended. */
  pass: ((req: WriteRequest) => void) | undefined = undefined
  /** Told a stage's exception (it sets `failure`). */
  stageFailed: ((err: unknown) => void) | undefined = undefined

  override next(req: WriteRequest): void {
    if (this.failure === undefined) {
      const pass = this.pass
      if (pass === undefined) return
      try {
        pass(req)
      } catch (err) {
        this.pass = undefined
        this.stageFailed!(err)
      }
      if (this.failure === undefined) return
    }
    // Settled already if the stage that threw came after its acknowledgement: then a no-op.
    req.reject(this.failure)
  }

  override complete(): void {
    this.pass = undefined
    super.complete()
  }
}

/**
 * Wires the stages. `onFailure` is told once, when the write path has failed for good (with
 * what was lost); a stage's exception goes there instead of RxJS's unhandled-error hook, which
 * would rethrow it asynchronously and crash the process.
 */
export function buildWritePipeline(
  state: MemoryState,
  lastSeq: number,
  committer: GroupCommitter | undefined,
  feed: ChangeFeed,
  durable: boolean,
  onFailure: (error: WriteFailure) => void,
): WritePipeline {
  const requests = new WriteRequests()
  const clock = new SeqClock(lastSeq)
  requests.stageFailed = (err: unknown): void => {
    if (committer !== undefined) {
      requests.failure = committer.halt(err)
      return
    }
    if (requests.failure !== undefined) return
    requests.failure = new DatabaseFailedError(err)
    onFailure(requests.failure)
  }
  const pipeline = (subscriptions: Subscription[]): WritePipeline => ({
    requests,
    clock,
    subscriptions,
    get failure() {
      return requests.failure ?? committer?.failure
    },
  })
  // Unsubscribing the pipeline (close) ends the passes, as it ended the RxJS chain before.
  const passes = new Subscription(() => {
    requests.pass = undefined
  })
  if (committer === undefined) {
    requests.pass = (req) => {
      if (!checkPreconditions(state, req)) return
      assignSeq(clock, req)
      applyToState(state, feed.streams > 0, req)
      ackApplied(req)
      feed.publish(req)
    }
    return pipeline([passes])
  }
  committer.onFailure = onFailure
  requests.pass = durable
    ? (req) => {
        if (!checkPreconditions(state, req)) return
        assignSeq(clock, req)
        applyToState(state, true, req)
        committer.accept(req)
        feed.publish(req)
      }
    : (req) => {
        if (!checkPreconditions(state, req)) return
        assignSeq(clock, req)
        applyToState(state, feed.streams > 0, req)
        committer.accept(req)
        ackApplied(req)
        feed.publish(req)
      }
  const markDurable = tap<CommitOutcome>((o) => (o.error === undefined ? feed.markDurable(o.seq) : feed.dropPending()))
  const outcomes = durable
    ? committer.outcomes$.pipe(markDurable, revertFailed(state), ackDurable())
    : committer.outcomes$.pipe(markDurable, ackDurable())
  return pipeline([passes, outcomes.subscribe({ error: requests.stageFailed })])
}
