// The stages that settle a write's promise: right after it is applied (memory and buffered
// modes) or once the commit that holds it is durable (sync mode).
import { tap } from 'rxjs'
import type { MonoTypeOperatorFunction } from 'rxjs'
import type { WalEvent } from '../events/types.js'
import type { MemoryState } from '../state/memoryState.js'
import type { CommitOutcome } from './groupCommit.js'
import type { WriteRequest } from './writeRequest.js'

export function ackApplied(): MonoTypeOperatorFunction<WriteRequest> {
  return tap((req) => req.resolve({ seq: req.seq }))
}

/**
 * A failed commit's waiting writes (sync mode) were never acknowledged, so they leave memory too,
 * newest first. Buffered writes were acknowledged when applied; their outcomes carry no requests.
 */
export function revertFailed(state: MemoryState): MonoTypeOperatorFunction<CommitOutcome> {
  return tap((outcome) => {
    if (outcome.error === undefined) return
    const reqs = outcome.requests
    for (let i = reqs.length - 1; i >= 0; i--) state.revert(reqs[i] as unknown as WalEvent, reqs[i]!.undo)
  })
}

export function ackDurable(): MonoTypeOperatorFunction<CommitOutcome> {
  return tap((outcome) => {
    const reqs = outcome.requests
    if (outcome.error !== undefined) {
      for (const req of reqs) req.reject(outcome.error)
      return
    }
    for (const req of reqs) req.resolve({ seq: req.seq })
  })
}
