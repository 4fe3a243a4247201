// db.snapshot(): the database as of one seq, read synchronously while writes go on. Taking one
// pins the seq (O(1), nothing copied); from then on the state keeps the versions later writes
// replace (state/retainedVersions.ts) until close() releases the pin.
//
// Expiry: a snapshot read at time T leaves out a version whose deadline is ≤ T, as db.get does
// (a snapshot fixes which writes are seen, not the clock; Redis has no other answer to offer).
// A version that expires after the snapshot was taken is hidden from then on.
import { ClosedError } from '../errors.js'
import { assertValidKey } from '../events/keys.js'
import type { MemoryState } from '../state/memoryState.js'
import { RangeAsOf } from '../state/rangeAsOf.js'
import { RangeRead } from '../state/rangeRead.js'
import type { RangeOptions } from '../state/rangeRead.js'
import type { RetainedVersions } from '../state/retainedVersions.js'
import type { Entry } from './database.js'
import { checkMethodOptions } from './optionNames.js'

/**
 * The database as of `seq`. Reads are synchronous, from memory, and ignore every write made
 * after the snapshot was taken. Close it when done: while it is open, every write keeps the
 * version it replaces. Closing the database makes its snapshots unreadable (ISLAB_CLOSED).
 */
export class Snapshot<V = unknown> {
  private open = true
  // Not readonly: close() lets go of both (see there).
  private retained: RetainedVersions
  /** The seq pinned in the state: `seq`, or past it after a failed commit was undone (MemoryState.pin). */
  private readonly at: number
  private readonly check = (): void => {
    if (!this.open || !this.dbOpen()) throw new ClosedError()
  }

  /** @internal Use db.snapshot(). */
  constructor(
    private state: MemoryState,
    /** The last seq this snapshot sees. */
    readonly seq: number,
    private readonly dbOpen: () => boolean,
  ) {
    this.at = state.pin(seq)
    this.retained = state.pinned
  }

  get isOpen(): boolean {
    return this.open && this.dbOpen()
  }

  /** The value of `key` as of the snapshot; undefined when absent then. */
  get<T extends V = V>(key: string): NoInfer<T> | undefined {
    return this.entry(key)?.value() as T | undefined
  }

  getEntry<T extends V = V>(key: string): Entry<NoInfer<T>> | undefined {
    const e = this.entry(key)
    if (e === undefined) return undefined
    const out: Entry<T> = { value: e.value() as T, seq: e.seq, time: e.time }
    const at = this.state.mayExpire ? this.state.deadlineAsOf(key, e.seq) : undefined
    if (at !== undefined) out.expiresAt = at
    return out
  }

  has(key: string): boolean {
    return this.entry(key) !== undefined
  }

  /** Keys in order between bounds as of the snapshot (see db.range; the same options). */
  range<T extends V = V>(opts: RangeOptions = {}): RangeRead<NoInfer<T>> {
    this.check()
    checkMethodOptions('range', opts, RANGE_OPTIONS)
    const state = this.state
    // Versions expired as of this call are left out (as db.range does).
    const now = Date.now()
    const hidden = state.mayExpire ? (k: string, seq: number): boolean => isExpired(state.deadlineAsOf(k, seq), now) : undefined
    return new RangeRead<T>(new RangeAsOf(state.orderedIndex(), this.retained, this.at, this.check), opts, hidden)
  }

  /** Releases what the snapshot pinned. Idempotent. */
  close(): void {
    if (!this.open) return
    this.open = false
    this.state.unpin(this.at)
    // A closed snapshot may stay referenced (an IslabSnapshot, a closed level iterator's cursor):
    // it must not keep the versions or the state alive. Nothing reads them once closed (check()).
    this.retained = undefined!
    this.state = undefined!
  }

  private entry(key: string) {
    this.check()
    if (typeof key !== 'string') assertValidKey(key)
    const e = this.state.entryAsOf(key, this.at)
    if (e === undefined || !this.state.mayExpire) return e
    return isExpired(this.state.deadlineAsOf(key, e.seq), Date.now()) ? undefined : e
  }
}

/** Whether a version with deadline `at` (undefined: none) has expired at `now` (db.get's rule: at ≤ now). */
function isExpired(at: number | undefined, now: number): boolean {
  return at !== undefined && at <= now
}

const RANGE_OPTIONS = ['gte', 'gt', 'lte', 'lt', 'prefix', 'limit', 'reverse'] as const satisfies readonly (keyof RangeOptions)[]
