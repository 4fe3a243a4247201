// Sync mode: whether the next commit's write blocks the event loop or goes through libuv's thread
// pool. A blocking O_DSYNC write saves the pool's round trip (two thread wake-ups): 0.19 ms
// against 0.30–0.44 ms on a quiet disk. But on a machine short of CPU the blocked main thread
// waits longer to be run again than the pool does: the async write was 1.5–4× faster there
// (bench/RESULTS.md). So each commit's time is measured, per mode, and the faster one is used;
// every EXPLORE_EVERY commits the other mode runs once so its estimate follows the machine.

/** Commits between two runs of the mode not in use. */
export const EXPLORE_EVERY = 32
/** Never block the event loop for a disk slower than this (ms per commit, smoothed). */
export const MAX_BLOCKING_MS = 1
/** Weight of the newest commit in the smoothed times. */
const ALPHA = 0.25

export class CommitMode {
  /** Smoothed ms per commit of each mode; NaN until measured. */
  blockingMs = Number.NaN
  asyncMs = Number.NaN
  private commits = 0

  /** Whether the next commit should block. */
  next(): boolean {
    const n = this.commits++
    // Measure each mode once before choosing: async first, then blocking.
    if (Number.isNaN(this.asyncMs)) return false
    if (Number.isNaN(this.blockingMs)) return true
    const block = this.blockingMs < this.asyncMs && this.blockingMs <= MAX_BLOCKING_MS
    return n % EXPLORE_EVERY === 0 ? !block : block
  }

  /** A commit that took `ms`; `blocked` says which mode it really ran in. */
  record(blocked: boolean, ms: number): void {
    if (blocked) this.blockingMs = Number.isNaN(this.blockingMs) ? ms : this.blockingMs + ALPHA * (ms - this.blockingMs)
    else this.asyncMs = Number.isNaN(this.asyncMs) ? ms : this.asyncMs + ALPHA * (ms - this.asyncMs)
  }
}
