// Stage 1: drops writes whose `ifSeq` conditions do not hold, rejecting them with ConflictError.
// It runs in the same synchronous pass as assignSeq and applyToState, so no other write can
// slip in between the check and the apply.
import { ConflictError } from '../errors.js'
import type { MemoryState } from '../state/memoryState.js'
import type { WriteRequest } from './writeRequest.js'

/** True when the write may go on; otherwise it was rejected and stops here. */
export function checkPreconditions(state: MemoryState, req: WriteRequest): boolean {
  const conditions = req.conditions
  if (conditions === undefined) return true
  for (let i = 0; i < conditions.length; i++) {
    const { key, ifSeq } = conditions[i]!
    const actual = state.seqOf(key)
    if (actual !== ifSeq) {
      req.reject(new ConflictError(key, ifSeq, actual))
      return false
    }
  }
  return true
}
