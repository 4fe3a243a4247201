// The stages that settle a write's promise: right after it is applied (memory and buffered
// modes) or once the commit that holds it is durable (sync mode, and buffered writes that
// appendToWal held back because a commit was due).
import { tap } from 'rxjs'
import type { MonoTypeOperatorFunction } from 'rxjs'
import type { MemoryState } from '../state/memoryState.js'
import type { CommitOutcome } from './groupCommit.js'
import type { WriteRequest } from './writeRequest.js'

export function ackApplied(req: WriteRequest): void {
  if (!req.awaitsCommit) req.resolve({ seq: req.seq })
}

/**
 * Sync mode: a failed commit's waiting writes were never acknowledged, so they leave memory too,
 * newest first. (Not used in buffered mode: there memory keeps no undo data, and after a failure
 * it holds the lost acknowledged writes anyway; the failure names their seqs.)
 */
export function revertFailed(state: MemoryState): MonoTypeOperatorFunction<CommitOutcome> {
  return tap((outcome) => {
    if (outcome.error === undefined) return
    const reqs = outcome.requests
    for (let i = reqs.length - 1; i >= 0; i--) state.revert(reqs[i]!, reqs[i]!.undo, reqs[i]!.displaced)
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
