// Stage 3: projects the event into the in-memory state, so a read right after `put` sees it.
import type { MemoryState } from '../state/memoryState.js'
import type { WriteRequest } from './writeRequest.js'

/**
 * `needUndo` says whether what the event replaces must be kept: always in sync mode (a failed
 * commit is undone), otherwise only while change subscribers want `prev`. Without it the
 * apply is a plain map write, which matters on the put path.
 */
export function applyToState(state: MemoryState, needUndo: boolean, req: WriteRequest): void {
  if (needUndo) req.undo = state.apply(req, req)
  else state.replay(req)
}
