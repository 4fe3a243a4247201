// Expiry: reads hide versions whose deadline passed (lazy expiry), and the log learns of it
// through expiry events — conditional deletes (`del` with `expired: true`, applied only while the
// key still holds the expired version's seq, the ifSeq machinery) written by the sweeper (active
// expiry, a bounded amount of work per tick, as Redis's activeExpireCycle) and for versions a
// read found expired. A write that refreshed the key first wins: the late expiry conflicts and
// is dropped. Expiry events go through the same pipeline as writes, so the WAL, change streams,
// replicas and time travel see them.
import type { Deadline, Deadlines } from '../state/deadlines.js'
import type { MemoryState } from '../state/memoryState.js'

export interface ExpiryOptions {
  /** How often the sweeper looks for due deadlines, ms. Default 100 (Redis: hz 10). */
  sweepIntervalMs?: number
  /** Most time one sweep may take, ms; what is left waits for the next tick. Default 10. */
  sweepBudgetMs?: number
}

export interface ResolvedExpiryOptions {
  sweepIntervalMs: number
  sweepBudgetMs: number
}

/** Due records examined between looks at the clock. */
const CLOCK_EVERY = 32

/**
 * Most versions a read's expiry events wait for at once. Past it, reads still hide expired
 * versions but queue no more: the sweeper's heap holds them all, it logs them in its own turns.
 */
const QUEUE_MAX = 4096

export class Expiry {
  private timer: NodeJS.Timeout | undefined
  /** Versions a read found expired, waiting for their expiry event: key → seq. */
  private queued = new Map<string, number>()
  private flushScheduled = false
  /** Expiry events written (a sweep's or a read's). */
  expired = 0

  constructor(
    private readonly state: MemoryState,
    private readonly opts: ResolvedExpiryOptions,
    /** Writes the expiry event of version `seq` of `key` (a conditional delete); false when the database takes no writes. */
    private readonly write: (key: string, seq: number) => boolean,
  ) {}

  private get deadlines(): Deadlines {
    return this.state.deadlines
  }

  /** Starts the sweeper. Its timer never keeps the process alive. */
  start(): void {
    this.timer = setInterval(() => this.sweep(), this.opts.sweepIntervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.queued.clear()
  }

  /**
   * Whether the current version of `key` (seq `seq`) has expired at `now`. A read that finds it so
   * treats the key as absent and queues its expiry event. Only called when deadlines exist.
   */
  hides(key: string, seq: number, now = Date.now()): boolean {
    const d = this.deadlines.get(key)
    if (d === undefined || d.seq !== seq || now < d.at) return false
    this.queue(key, seq)
    return true
  }

  /** Same as hides() for a key whose seq is not at hand (0: absent). */
  hidesKey(key: string): boolean {
    const d = this.deadlines.get(key)
    if (d === undefined || Date.now() < d.at) return false
    return this.hides(key, this.state.seqOf(key))
  }

  /**
   * One tick: expires due versions, earliest deadline first, until none is due or the budget
   * is spent. Records of versions no longer current (overwritten, deleted) are dropped as met.
   */
  sweep(): void {
    const start = Date.now()
    let now = start
    let n = 0
    let d: Deadline | undefined
    while ((d = this.deadlines.nextDue(now)) !== undefined) {
      if (!this.expire(d)) {
        // Writes are refused (a fenced primary, one being promoted): keep the deadline for a later sweep.
        this.deadlines.requeue(d)
        return
      }
      if (++n % CLOCK_EVERY === 0) {
        now = Date.now()
        if (now - start >= this.opts.sweepBudgetMs) break
      }
    }
  }

  /** Writes `d`'s expiry event, or drops `d` if its version is gone; false when writes are refused. */
  private expire(d: Deadline): boolean {
    if (this.state.seqOf(d.key) !== d.seq) {
      this.deadlines.drop(d)
      return true
    }
    if (!this.write(d.key, d.seq)) return false
    this.expired++
    // The event applied synchronously: the version is gone, and so is its record.
    if (this.state.seqOf(d.key) !== d.seq) this.deadlines.drop(d)
    return true
  }

  private queue(key: string, seq: number): void {
    if (this.queued.get(key) === seq || this.queued.size >= QUEUE_MAX) return
    this.queued.set(key, seq)
    if (this.flushScheduled) return
    this.flushScheduled = true
    // Not inside the read: a read must not run the write pipeline (it may be called from a stage's observer).
    queueMicrotask(this.flushQueued)
  }

  /**
   * Writes the queued expiry events for at most the sweep budget; the rest wait for the next
   * turn of the event loop (a read over many expired keys must not stall the process).
   */
  private readonly flushQueued = (): void => {
    const q = this.queued
    const start = Date.now()
    let n = 0
    for (const [key, seq] of q) {
      q.delete(key)
      const d = this.deadlines.get(key)
      if (d !== undefined && d.seq === seq && !this.expire(d)) {
        // Writes are refused: the sweeper (the heap still holds these) logs them once they are taken.
        q.clear()
        break
      }
      if (++n % CLOCK_EVERY === 0 && Date.now() - start >= this.opts.sweepBudgetMs) break
    }
    if (q.size === 0) this.flushScheduled = false
    else setImmediate(this.flushQueued)
  }
}
