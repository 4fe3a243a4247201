// Cooperative time slicing for long synchronous work (replaying the log, building the ordered
// index, reading a large range): the work checks `due()` between small steps and, once its slice
// is used up, awaits `turn()`, which lets a whole turn of the event loop run (timers, I/O
// callbacks, a progress bar's repaint) before it goes on. DESIGN.md: no stall over ~100 ms.

/**
 * Milliseconds of work per slice. Small enough that a slice is a tenth of the 100 ms budget
 * even on a slow, shared machine; large enough that the turns cost well under 1% (a turn with
 * nothing else to do takes a few µs).
 */
let sliceMs = 10

/** Tests make the slice tiny to see the turns on small inputs; returns the previous value. */
export function setSliceMs(ms: number): number {
  const before = sliceMs
  sliceMs = ms
  return before
}

export class TimeSlice {
  private start = performance.now()

  /** Whether this slice is used up (the caller should `await turn()` at its next safe point). */
  due(): boolean {
    return performance.now() - this.start >= sliceMs
  }

  /** Yields one turn of the event loop (setImmediate: after pending I/O and timers), then starts a new slice. */
  async turn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.start = performance.now()
  }
}
