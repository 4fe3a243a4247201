// Stage 2: stamps each write with the next sequence number and the wall-clock time.
// Sequence numbers start at 1, increase by one per event, and continue after a restart. Times
// never decrease with seq, even when the wall clock steps back (NTP): time travel by time finds
// "the newest event at or before t" by binary search, which only holds over ordered times.
import type { WriteRequest } from './writeRequest.js'

export class SeqClock {
  constructor(
    public last: number,
    /** Time of the last event (seeded at open from the recovered log and checkpoint). */
    public lastTime = 0,
  ) {}

  /** Non-zero while an event that already has its time (a replicated one) passes: stamped with it instead of the clock's. */
  pinnedTime = 0
}

export function assignSeq(clock: SeqClock, req: WriteRequest): void {
  req.seq = ++clock.last
  // A replicated event keeps its time exactly (its primary ordered it): clamped to lastTime, a
  // replica reopened from a checkpoint of its own (stamped with its wall clock, ahead of the
  // primary's times by the lag) logged the next events with its own times, not the primary's.
  const pinned = clock.pinnedTime
  const now = pinned || Date.now()
  req.time = clock.lastTime = pinned !== 0 || now > clock.lastTime ? now : clock.lastTime
  if (req.ttlMs !== undefined) resolveTtl(req)
}

/**
 * A ttl becomes an absolute deadline from the event's own time (not the caller's clock), so the
 * log holds expiresAt = time + ttlMs exactly. Batch ops were built by the database for this
 * request alone, so they are completed in place.
 */
function resolveTtl(req: WriteRequest): void {
  const ttl = req.ttlMs!
  if (typeof ttl === 'number') {
    req.expiresAt = req.time + ttl
    return
  }
  for (let i = 0; i < ttl.length; i++) {
    const t = ttl[i]
    if (t !== undefined) (req.ops[i] as { expiresAt?: number }).expiresAt = req.time + t
  }
}
