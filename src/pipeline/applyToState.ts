// Stage 3: projects the event into the in-memory state, so a read right after `put` sees it.
import { tap } from 'rxjs'
import type { MonoTypeOperatorFunction } from 'rxjs'
import type { WalEvent } from '../events/types.js'
import type { MemoryState } from '../state/memoryState.js'
import type { WriteRequest } from './writeRequest.js'

export function applyToState(state: MemoryState): MonoTypeOperatorFunction<WriteRequest> {
  return tap((req) => {
    req.undo = state.apply(req as unknown as WalEvent)
  })
}
