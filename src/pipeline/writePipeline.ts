// The whole write path in one place. Every put/delete/batch is a WriteRequest pushed into
// `requests`; the stages below run synchronously up to the WAL hand-off, so a write is
// sequenced and visible to readers before put() returns its promise.
//
//   requests ─ checkPreconditions ─ assignSeq ─ applyToState ─┬─ ackApplied ─ appendToWal ─ publish   (buffered)
//                                                             ├─ appendToWal ─ publish                 (sync)
//                                                             └─ ackApplied ─ publish                  (memory)
//   commit outcomes (group commit, async) ─ markDurable ─┬─ revertFailed ─ ackDurable                  (sync)
//                                                        └─ (buffered: failures only stop the database)
import { Subject, tap } from 'rxjs'
import type { Subscription } from 'rxjs'
import type { ChangeFeed } from '../changes/changeFeed.js'
import type { MemoryState } from '../state/memoryState.js'
import { ackApplied, ackDurable, revertFailed } from './acknowledge.js'
import { applyToState } from './applyToState.js'
import { SeqClock, assignSeq } from './assignSeq.js'
import { checkPreconditions } from './checkPreconditions.js'
import type { GroupCommitter } from './groupCommit.js'
import type { WriteRequest } from './writeRequest.js'

export interface WritePipeline {
  readonly requests: Subject<WriteRequest>
  readonly clock: SeqClock
  readonly subscriptions: Subscription[]
}

export function buildWritePipeline(
  state: MemoryState,
  lastSeq: number,
  committer: GroupCommitter | undefined,
  feed: ChangeFeed,
  durable: boolean,
): WritePipeline {
  const requests = new Subject<WriteRequest>()
  const clock = new SeqClock(lastSeq)
  const needUndo = durable ? () => true : () => feed.streams > 0
  const sequenced = requests.pipe(checkPreconditions(state), assignSeq(clock), applyToState(state, needUndo))
  if (committer === undefined) {
    return { requests, clock, subscriptions: [sequenced.pipe(ackApplied(), feed.publish()).subscribe()] }
  }
  const writes = durable
    ? sequenced.pipe(committer.appendToWal(), feed.publish())
    : sequenced.pipe(ackApplied(), committer.appendToWal(), feed.publish())
  const outcomes = committer.outcomes$.pipe(
    tap((o) => (o.error === undefined ? feed.markDurable(o.seq) : feed.dropPending())),
    revertFailed(state),
    ackDurable(),
  )
  return { requests, clock, subscriptions: [writes.subscribe(), outcomes.subscribe()] }
}
