// The whole write path in one place. Every put/delete/batch is a WriteRequest pushed into
// `requests`; the stages below run synchronously up to the WAL hand-off, so a write is
// sequenced and visible to readers before put() returns its promise.
//
//   requests ─ checkPreconditions ─ assignSeq ─ applyToState ─┬─ ackApplied ─ groupCommit            (buffered)
//                                                             ├─ groupCommit ─ revertFailed ─ ackDurable (sync)
//                                                             └─ ackApplied                          (memory)
import { Subject } from 'rxjs'
import type { Subscription } from 'rxjs'
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
  readonly subscription: Subscription
}

export function buildWritePipeline(
  state: MemoryState,
  lastSeq: number,
  committer: GroupCommitter | undefined,
  durable: boolean,
): WritePipeline {
  const requests = new Subject<WriteRequest>()
  const clock = new SeqClock(lastSeq)
  const sequenced = requests.pipe(checkPreconditions(state), assignSeq(clock), applyToState(state))
  let subscription: Subscription
  if (committer === undefined) {
    subscription = sequenced.pipe(ackApplied()).subscribe()
  } else if (durable) {
    subscription = sequenced.pipe(committer.operator(), revertFailed(state), ackDurable()).subscribe()
  } else {
    subscription = sequenced.pipe(ackApplied(), committer.operator()).subscribe()
  }
  return { requests, clock, subscription }
}
