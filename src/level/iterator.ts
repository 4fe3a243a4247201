// Iterators of the level face. Each reads a core Snapshot (the one passed as `snapshot`, or one
// taken when the iterator is created and closed with it: abstract-level's implicit snapshot)
// through snapshot.range() with the mapped bounds, a chunk per nextv() from just after the last
// key read, so seek() only moves where the next chunk starts.
import { AbstractIterator, AbstractKeyIterator, AbstractValueIterator } from 'abstract-level'
import type { RangeOptions, Snapshot } from '../index.js'
import { fromNative, toNative } from './keys.js'
import type { KeyFormat } from './keys.js'
import { fromStored } from './values.js'
import type { ValueFormat } from './values.js'

/** The options abstract-level hands _iterator/_keys/_values (bounds already encoded into keyEncoding's format). */
export interface LevelIteratorOptions {
  keyEncoding: KeyFormat
  valueEncoding: ValueFormat
  reverse?: boolean
  limit?: number
  gt?: string | Uint8Array
  gte?: string | Uint8Array
  lt?: string | Uint8Array
  lte?: string | Uint8Array
  keys?: boolean
  values?: boolean
  snapshot?: { readonly core: Snapshot } | null
}

type Pair = [string | Uint8Array, string | Uint8Array | undefined]
/** A pair as read from the snapshot: the level key, the stored value, the native key. */
interface Raw {
  key: string | Uint8Array
  value: unknown
  native: string
}

/** Pairs next() reads at once. */
const AHEAD = 64

/** Where reading stands over one snapshot: the next chunk starts after `last`, or at a seek target. */
export class Cursor {
  /** The range in native keys (gte over gt, lte over lt, as abstract-level specifies). */
  private readonly bounds: RangeOptions = {}
  private readonly reverse: boolean
  private last: string | undefined
  private target: string | undefined
  private done = false
  /** Whether the ordered index is known to be built (see whenLive). */
  private live = false
  /** Pairs read ahead for next(), served from `at` on. */
  private ahead: Raw[] = []
  private at = 0

  constructor(
    private readonly snap: Snapshot,
    /** Whether this cursor took `snap` (and closes it). */
    private readonly owned: boolean,
    readonly options: LevelIteratorOptions,
  ) {
    const f = options.keyEncoding
    const b = this.bounds
    if (options.gte !== undefined) b.gte = toNative(options.gte, f)
    else if (options.gt !== undefined) b.gt = toNative(options.gt, f)
    if (options.lte !== undefined) b.lte = toNative(options.lte, f)
    else if (options.lt !== undefined) b.lt = toNative(options.lt, f)
    this.reverse = options.reverse === true
  }

  /**
   * Waits, without stalling, until the ordered index the snapshot's ranges read is built. Reads
   * are synchronous and would otherwise build it in one go on first use (seconds at 300k keys):
   * when the face shares a Database nobody has ranged yet, or after a read-only reload. An
   * async range iteration waits for the build in time slices; it reads nothing (limit 0).
   */
  get isLive(): boolean {
    return this.live
  }

  async whenLive(): Promise<void> {
    if (this.live) return
    for await (const _ of this.snap.range({ limit: 0 }));
    this.live = true
  }

  /**
   * The next pair, from a chunk of AHEAD read at once: one-at-a-time next() calls (for await)
   * do not pay a range lookup each. Reading ahead is safe: the snapshot does not move. Values are
   * converted as they are served, so a value that cannot be fails its own next(), not an earlier one.
   */
  next(values: boolean): Pair | undefined {
    if (this.at === this.ahead.length) {
      this.ahead = this.raw(AHEAD)
      this.at = 0
    }
    const r = this.ahead[this.at++]
    return r === undefined ? undefined : this.pair(r, values)
  }

  /** Up to `size` pairs (key in keyEncoding's format, value in valueEncoding's), in order from where reading stands. */
  read(size: number, values: boolean): Pair[] {
    const out: Pair[] = []
    while (this.at < this.ahead.length && out.length < size) out.push(this.pair(this.ahead[this.at++]!, values))
    if (out.length < size) for (const r of this.raw(size - out.length)) out.push(this.pair(r, values))
    return out
  }

  private pair(r: Raw, values: boolean): Pair {
    return [r.key, values ? fromStored(r.value, this.options.valueEncoding, r.native) : undefined]
  }

  /** Up to `size` level keys with their native keys and stored values. */
  private raw(size: number): Raw[] {
    const out: Raw[] = []
    const f = this.options.keyEncoding
    this.walk(size, (native, value) => {
      const key = fromNative(native, f)
      // A native key the map never makes (see keys.ts) is not a level key: skipped.
      if (key === undefined) return false
      out.push({ key, value, native })
      return true
    })
    return out
  }

  /** Up to `size` native keys of level keys, in order from where reading stands (clear() deletes these). */
  nativeKeys(size: number): string[] {
    const out: string[] = []
    this.walk(size, (k) => {
      if (fromNative(k, 'buffer') === undefined) return false
      out.push(k)
      return true
    })
    return out
  }

  /** Feeds `take` pairs until it has accepted `size` of them or the range is over. */
  private walk(size: number, take: (k: string, v: unknown) => boolean): void {
    let taken = 0
    while (!this.done && taken < size) {
      const want = size - taken
      let n = 0
      for (const [k, v] of this.snap.range(this.rangeFrom(want)).entries()) {
        n++
        this.last = k
        if (take(k, v)) taken++
      }
      if (n < want) this.done = true
    }
  }

  /** Moves the next read to `target` (inclusive); a target outside the range ends the iteration. */
  seek(target: string | Uint8Array): void {
    const t = toNative(target, this.options.keyEncoding)
    const b = this.bounds
    const inside =
      (b.gte === undefined || t >= b.gte) && (b.gt === undefined || t > b.gt) && (b.lte === undefined || t <= b.lte) && (b.lt === undefined || t < b.lt)
    this.target = t
    this.last = undefined
    this.done = !inside
    this.ahead = []
    this.at = 0
  }

  close(): void {
    if (this.owned) this.snap.close()
  }

  /** The range of the next chunk: the bounds, narrowed to start after the last key read or at the seek target. */
  private rangeFrom(limit: number): RangeOptions {
    const opts: RangeOptions = { ...this.bounds, reverse: this.reverse, limit }
    if (this.last !== undefined) {
      if (this.reverse) {
        delete opts.lte
        opts.lt = this.last
      } else {
        delete opts.gte
        opts.gt = this.last
      }
    } else if (this.target !== undefined) {
      // The target is inside the range (see seek), so it replaces the bound on its side.
      if (this.reverse) {
        delete opts.lt
        opts.lte = this.target
      } else {
        delete opts.gt
        opts.gte = this.target
      }
    }
    return opts
  }
}

type Db = ConstructorParameters<typeof AbstractIterator>[0]

export class IslabIterator extends AbstractIterator<Db, string | Uint8Array, string | Uint8Array> {
  constructor(
    db: Db,
    options: LevelIteratorOptions,
    private readonly cursor: Cursor,
  ) {
    super(db, options as never)
  }

  async _next(): Promise<[string | Uint8Array, string | Uint8Array | undefined] | undefined> {
    if (!this.cursor.isLive) await this.cursor.whenLive()
    return this.cursor.next(this.cursor.options.values !== false)
  }

  async _nextv(size: number): Promise<[string | Uint8Array, string | Uint8Array | undefined][]> {
    if (!this.cursor.isLive) await this.cursor.whenLive()
    return this.cursor.read(size, this.cursor.options.values !== false)
  }

  _seek(target: string | Uint8Array): void {
    this.cursor.seek(target)
  }

  async _close(): Promise<void> {
    this.cursor.close()
  }
}

export class IslabKeyIterator extends AbstractKeyIterator<Db, string | Uint8Array> {
  constructor(
    db: Db,
    options: LevelIteratorOptions,
    private readonly cursor: Cursor,
  ) {
    super(db, options as never)
  }

  async _next(): Promise<string | Uint8Array | undefined> {
    if (!this.cursor.isLive) await this.cursor.whenLive()
    return this.cursor.next(false)?.[0]
  }

  async _nextv(size: number): Promise<(string | Uint8Array)[]> {
    if (!this.cursor.isLive) await this.cursor.whenLive()
    return this.cursor.read(size, false).map((p) => p[0])
  }

  _seek(target: string | Uint8Array): void {
    this.cursor.seek(target)
  }

  async _close(): Promise<void> {
    this.cursor.close()
  }
}

export class IslabValueIterator extends AbstractValueIterator<Db, string | Uint8Array, string | Uint8Array> {
  constructor(
    db: Db,
    options: LevelIteratorOptions,
    private readonly cursor: Cursor,
  ) {
    super(db, options as never)
  }

  async _next(): Promise<string | Uint8Array | undefined> {
    if (!this.cursor.isLive) await this.cursor.whenLive()
    return this.cursor.next(true)?.[1]
  }

  async _nextv(size: number): Promise<(string | Uint8Array)[]> {
    if (!this.cursor.isLive) await this.cursor.whenLive()
    return this.cursor.read(size, true).map((p) => p[1]!)
  }

  _seek(target: string | Uint8Array): void {
    this.cursor.seek(target)
  }

  async _close(): Promise<void> {
    this.cursor.close()
  }
}
