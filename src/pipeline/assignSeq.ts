// Stage 2: stamps each write with the next sequence number and the wall-clock time.
// Sequence numbers start at 1, increase by one per event, and continue after a restart.
import { tap } from 'rxjs'
import type { MonoTypeOperatorFunction } from 'rxjs'
import type { WriteRequest } from './writeRequest.js'

export class SeqClock {
  constructor(public last: number) {}
}

export function assignSeq(clock: SeqClock): MonoTypeOperatorFunction<WriteRequest> {
  return tap((req) => {
    req.seq = ++clock.last
    req.time = Date.now()
  })
}
