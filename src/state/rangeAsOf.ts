// Keys in order as of a pinned seq, for ranges read through a snapshot: the live ordered index
// merged with the retained versions (keys deleted since the seq are only there; keys added since
// resolve to "absent"). Nothing is copied when the snapshot is taken. The live tree changes with
// every write, so it is read in chunks, each in one synchronous step; the next chunk starts after
// the last key seen, and whatever was written meanwhile resolves to the pinned seq all the same.
import type { Entry } from './entry.js'
import type { OrderedIndex, OrderedSnapshot } from './orderedIndex.js'
import type { OrderedSource, RangeSource } from './rangeRead.js'
import { CURRENT, pick } from './retainedVersions.js'
import type { RetainedVersions, Version } from './retainedVersions.js'

/** Keys looked at per chunk (one synchronous step). */
const CHUNK = 256

export class RangeAsOf implements RangeSource, OrderedSource {
  constructor(
    private readonly index: OrderedIndex,
    private readonly retained: RetainedVersions,
    private readonly seq: number,
    /** Throws when the snapshot was closed (checked at every chunk). */
    private readonly check: () => void,
  ) {}

  get tree(): OrderedSource | undefined {
    return this.index.ready ? this : undefined
  }

  now(): OrderedSource {
    this.index.liveNow()
    return this
  }

  async wait(): Promise<OrderedSource> {
    await this.index.whenLive()
    return this
  }

  entries(low?: string): Generator<[string, Entry]> {
    return this.walk(low, false)
  }

  entriesReversed(high?: string): Generator<[string, Entry]> {
    return this.walk(high, true)
  }

  private *walk(from: string | undefined, reverse: boolean): Generator<[string, Entry]> {
    let after = false
    for (;;) {
      const out: [string, Entry][] = []
      const last = this.chunk(from, after, reverse, out)
      yield* out
      if (last === undefined) return
      from = last
      after = true
    }
  }

  /**
   * Reads up to CHUNK keys from `from` on (after it when `after`) into `out`, resolved as of the
   * pinned seq. Returns the last key looked at, or undefined when both sources are exhausted.
   */
  private chunk(from: string | undefined, after: boolean, reverse: boolean, out: [string, Entry][]): string | undefined {
    this.check()
    const tree: OrderedSnapshot = this.index.liveNow()
    const live = reverse ? tree.entriesReversed(from) : tree.entries(from)
    const kept = this.retained.keys(from, reverse)
    let l = live.next()
    let r = kept.next()
    if (after) {
      if (!l.done && l.value[0] === from) l = live.next()
      if (!r.done && r.value[0] === from) r = kept.next()
    }
    let last: string | undefined
    for (let n = 0; n < CHUNK; n++) {
      if (l.done && r.done) return undefined
      const lk = l.done ? undefined : l.value[0]
      const rk = r.done ? undefined : r.value[0]
      // The next key in walking order: the smaller one forward, the larger one in reverse.
      const takeLive = rk === undefined || (lk !== undefined && (reverse ? lk >= rk : lk <= rk))
      const takeKept = lk === undefined || (rk !== undefined && (reverse ? rk >= lk : rk <= lk))
      const key = (takeLive ? lk : rk)!
      let e: Entry | undefined
      if (takeKept) {
        const v = pick((r.value as [string, Version[]])[1], this.seq)
        e = v !== CURRENT ? v : takeLive ? (l.value as [string, Entry])[1] : undefined
        r = kept.next()
      } else {
        e = (l.value as [string, Entry])[1]
      }
      if (takeLive) l = live.next()
      if (e !== undefined) out.push([key, e])
      last = key
    }
    return last
  }
}
