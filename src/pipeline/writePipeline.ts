// The whole write path in one place. Every put/delete/batch is a WriteRequest pushed into
// `requests`; the stages below run synchronously up to the WAL hand-off, so a write is
// sequenced and visible to readers before put() returns its promise.
//
//   requests ─ checkPreconditions ─ assignSeq ─ applyToState ─┬─ appendToWal ─ ackApplied ─ publish   (buffered)
//                                                             ├─ appendToWal ─ publish                 (sync)
//                                                             └─ ackApplied ─ publish                  (memory)
//   commit outcomes (group commit, async) ─ markDurable ─┬─ revertFailed ─ ackDurable                  (sync)
//                                                        └─ ackDurable   (buffered: writes held back while a commit was due)
//
// A stage that throws fails the database (ISLAB_FAILED): see WriteRequests and GroupCommitter.halt.
import { Subject, tap } from 'rxjs'
import type { Subscription } from 'rxjs'
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
 * The pipeline's entry. A stage that throws ends the RxJS subscription, and a plain Subject would
 * then drop every later write on the floor, its promise never settled. This one rejects them
 * instead — and the write whose own pass through the stages failed.
 */
export class WriteRequests extends Subject<WriteRequest> {
  failure: WriteFailure | undefined

  override next(req: WriteRequest): void {
    if (this.failure === undefined) {
      super.next(req)
      if (this.failure === undefined) return
    }
    // Settled already if the stage that threw came after its acknowledgement: then a no-op.
    req.reject(this.failure)
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
  const needUndo = durable ? () => true : () => feed.streams > 0
  const sequenced = requests.pipe(checkPreconditions(state), assignSeq(clock), applyToState(state, needUndo))
  const stageFailed = (err: unknown): void => {
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
  if (committer === undefined) {
    return pipeline([sequenced.pipe(ackApplied(), feed.publish()).subscribe({ error: stageFailed })])
  }
  committer.onFailure = onFailure
  const writes = durable
    ? sequenced.pipe(committer.appendToWal(), feed.publish())
    : sequenced.pipe(committer.appendToWal(), ackApplied(), feed.publish())
  const markDurable = tap<CommitOutcome>((o) => (o.error === undefined ? feed.markDurable(o.seq) : feed.dropPending()))
  const outcomes = durable
    ? committer.outcomes$.pipe(markDurable, revertFailed(state), ackDurable())
    : committer.outcomes$.pipe(markDurable, ackDurable())
  return pipeline([writes.subscribe({ error: stageFailed }), outcomes.subscribe({ error: stageFailed })])
}
