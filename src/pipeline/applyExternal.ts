// Applies an event sequenced somewhere else — read from the log a writer in another process
// appends (a read-only open), or received from a replication stream — as the write pipeline
// applies its own: into the state, the seq clock and the change feed (and through the feed the
// history index), in seq order. The event's seq and time are kept, never assigned anew.
//
// The events arrive already durable where they come from, so the feed must count every applied
// event as durable (a ChangeFeed built `immediate`): durableOnly change streams get them at once.
import { DatabaseFailedError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { ChangeFeed } from '../changes/changeFeed.js'
import type { MemoryState } from '../state/memoryState.js'
import type { SeqClock } from './assignSeq.js'
import { WriteRequest } from './writeRequest.js'

export interface ExternalTarget {
  state: MemoryState
  clock: SeqClock
  feed: ChangeFeed
}

/**
 * Applies `ev`, whose seq must be the clock's next one (a gap or a repeat is a bug in the
 * caller's reading, and would make the state a lie). `segment`/`offset`: where its record is in
 * this directory's log, for time travel (-1 when it is in no local log).
 *
 * Value bytes are copied: a reader's window buffer would otherwise stay alive for as long as
 * one value read from it does.
 */
export function applyExternal(t: ExternalTarget, ev: WalEvent, segment = -1, offset = -1): void {
  if (ev.seq !== t.clock.last + 1) {
    throw new DatabaseFailedError(new Error(`event seq ${ev.seq} applied after seq ${t.clock.last}: events must come in seq order`))
  }
  const req = WriteRequest.ofEvent(ev, true)
  req.seq = ev.seq
  req.time = ev.time
  req.walSegment = segment
  req.walOffset = offset
  // `prev` is only worth keeping while a change stream listens (as applyToState decides).
  if (t.feed.streams > 0) req.undo = t.state.apply(req)
  else t.state.replay(req)
  t.clock.last = ev.seq
  if (ev.time > t.clock.lastTime) t.clock.lastTime = ev.time
  t.feed.applied$.next(req)
  t.feed.durableSeq = ev.seq
  t.feed.durable$.next(req)
}
