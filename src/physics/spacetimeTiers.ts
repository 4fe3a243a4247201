// Spacetime tiers: in plain words, every key's value is kept in one of three forms — decoded
// (hot), msgpack bytes (warm) or LZ4-compressed bytes (cold) — and the form follows how often the
// key is read, within a memory budget.
//
// This file owns the forms' bookkeeping (which entries are in which tier, how many bytes each
// tier holds) and *gravitational routing*, the background part of placement: each tick, warm
// entries beyond the warm budget fall to cold, lightest first; heavy cold keys that were read
// recently rise to warm when there is room; hot entries beyond a (possibly shrunk) hot budget
// are evicted; and hot values keep their bytes compressed, since reads never need them. Who
// enters and leaves the hot tier on the read path is the event horizon's decision
// (eventHorizon.ts). Budgets count encoded (msgpack) bytes: a decoded value takes about 3–4×
// that in the JS heap, a cold one about half.
import type { Entry } from '../state/entry.js'
import { TieredEntry } from '../state/entry.js'
import type { EntryShaper } from '../state/memoryState.js'
import { ColdSlabs } from './coldSlabs.js'

export interface TierBudget {
  /** Encoded bytes of the values kept decoded. */
  hotBytes: number
  /** Encoded bytes of the values kept as plain msgpack. */
  warmBytes: number
}

export interface TierCounters {
  /** Entries that became hot (admitted on a read, prefetched, hinted, rewarmed). */
  promotions: number
  /** Hot entries whose decoded value was dropped. */
  evictions: number
  /** Warm entries compressed into the cold tier. */
  demotions: number
  /** Cold entries decompressed back to warm. */
  thaws: number
}

/** Entries sampled to find the lightest one (Redis-style approximate minimum). */
export const SAMPLE = 5

/** A small seeded PRNG (xorshift32): placement decisions are reproducible for a given history. */
export class Rng {
  private s: number
  constructor(seed = 0x9e3779b9) {
    this.s = seed >>> 0 || 1
  }
  /** An integer in [0, n). */
  below(n: number): number {
    let x = this.s
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.s = x >>> 0
    return this.s % n
  }
}

export class SpacetimeTiers implements Pick<EntryShaper, 'make' | 'leave' | 'enter'> {
  readonly hot: TieredEntry[] = []
  readonly warm: TieredEntry[] = []
  hotBytes = 0
  warmBytes = 0
  coldKeys = 0
  /** Stored bytes of compressed records: cold entries, and the bytes behind hot values. */
  compressedBytes = 0
  readonly slabs = new ColdSlabs()
  readonly counters: TierCounters = { promotions: 0, evictions: 0, demotions: 0, thaws: 0 }
  /**
   * Hot entries whose bytes are still uncompressed, by age: those admitted since the last
   * routing pass, and those admitted before it. Only the older ones are compressed, so values
   * that come and go within a tick or two (churn) never pay for it.
   */
  private hotRaw: TieredEntry[] = []
  private hotRawOld: TieredEntry[] = []
  /** Warm entries whose bytes are still loose (settled into slabs by the next ticks), by age likewise. */
  private loose: TieredEntry[] = []
  private looseOld: TieredEntry[] = []
  readonly rng = new Rng()

  constructor(public budget: TierBudget) {}

  // ── EntryShaper: every new version is born warm and inherits its key's mass and links ──

  make(seq: number, time: number, bytes: Uint8Array, prev: Entry | undefined): TieredEntry {
    const e = new TieredEntry(seq, time, bytes)
    if (prev !== undefined) {
      const p = prev as TieredEntry
      e.mass = p.mass
      e.links = p.links
      this.leave(p)
    }
    this.pushWarm(e)
    return e
  }

  leave(entry: Entry): void {
    const e = entry as TieredEntry
    const tier = e.tier
    if (tier === 'hot') {
      this.unlist(this.hot, e)
      this.hotBytes -= e.size
      if (e.compressed) this.compressedBytes -= e.storedSize
    } else if (tier === 'warm') {
      this.unlist(this.warm, e)
      this.warmBytes -= e.size
    } else {
      this.coldKeys--
      this.compressedBytes -= e.storedSize
    }
    e.release()
  }

  enter(entry: Entry): void {
    const e = entry as TieredEntry
    e.retain()
    const tier = e.tier
    if (tier === 'hot') {
      this.list(this.hot, e)
      this.hotBytes += e.size
      if (e.compressed) this.compressedBytes += e.storedSize
      else this.hotRaw.push(e)
    } else if (tier === 'warm') {
      this.pushWarm(e)
    } else {
      this.coldKeys++
      this.compressedBytes += e.storedSize
    }
  }

  // ── Moves between tiers ──

  /** Makes `e` hot with its decoded, frozen value `v`. */
  toHot(e: TieredEntry, v: unknown): void {
    const size = e.size
    if (e.compressed) {
      this.coldKeys--
    } else {
      this.unlist(this.warm, e)
      this.warmBytes -= size
      this.hotRaw.push(e)
    }
    e.keep(v)
    this.list(this.hot, e)
    this.hotBytes += size
    this.counters.promotions++
  }

  /**
   * Drops `e`'s decoded value. It falls to warm (its bytes decompressed if need be) when the
   * warm tier has room, otherwise to cold.
   */
  evict(e: TieredEntry): void {
    this.unlist(this.hot, e)
    const size = e.size
    this.hotBytes -= size
    e.cool()
    this.counters.evictions++
    if (!e.compressed) this.pushWarm(e)
    else if (this.warmBytes + size <= this.budget.warmBytes) {
      this.compressedBytes -= e.storedSize
      e.decompress()
      this.pushWarm(e)
    } else this.coldKeys++
  }

  /** Compresses a warm entry into the cold tier. */
  demote(e: TieredEntry): void {
    if (this.slabs.dictionary === undefined) this.slabs.train(this.samples())
    this.unlist(this.warm, e)
    this.warmBytes -= e.size
    e.compress(this.slabs)
    this.coldKeys++
    this.compressedBytes += e.storedSize
    this.counters.demotions++
  }

  /** Decompresses a cold entry back to warm. */
  thaw(e: TieredEntry): void {
    this.coldKeys--
    this.compressedBytes -= e.storedSize
    e.decompress()
    this.pushWarm(e)
    this.counters.thaws++
  }

  /** The lightest of SAMPLE random entries of `list` (undefined when empty). */
  lightest(list: readonly TieredEntry[]): TieredEntry | undefined {
    const n = list.length
    if (n === 0) return undefined
    let best = list[this.rng.below(n)]!
    for (let i = 1; i < SAMPLE && i < n; i++) {
      const c = list[this.rng.below(n)]!
      if (c.mass < best.mass) best = c
    }
    return best
  }

  // ── Gravitational routing (background) ──

  /**
   * One routing pass, doing at most `maxMoves` moves: hot budget, warm budget, compression of
   * hot bytes, and thawing of `risers` (recently read cold entries) into free warm room.
   * Returns the moves made; routing is done when it returns less than maxMoves.
   */
  route(maxMoves: number, risers: readonly TieredEntry[] = []): number {
    let moves = 0
    while (this.hotBytes > this.budget.hotBytes && moves < maxMoves) {
      const v = this.lightest(this.hot)
      if (v === undefined) break
      this.evict(v)
      moves++
    }
    while (this.warmBytes > this.budget.warmBytes && moves < maxMoves) {
      const v = this.lightest(this.warm)
      if (v === undefined) break
      this.demote(v)
      moves++
    }
    moves += this.compressHot(maxMoves - moves)
    moves += this.settleLoose(maxMoves - moves)
    // Rise: a cold key read recently and heavier than a sampled warm one moves up if warm has room.
    for (let i = 0; i < risers.length && moves < maxMoves; i++) {
      const e = risers[i]!
      if (e.tier !== 'cold') continue
      if (this.warmBytes + e.size > this.budget.warmBytes) {
        const v = this.lightest(this.warm)
        if (v === undefined || v.mass >= e.mass) continue
        this.demote(v)
        moves++
        if (this.warmBytes + e.size > this.budget.warmBytes) continue
      }
      this.thaw(e)
      moves++
    }
    return moves
  }

  /**
   * A tick went by: hot entries admitted before it become old enough to have their bytes
   * compressed, warm entries written before it to have them settled.
   */
  age(): void {
    if (this.hotRaw.length > 0) {
      this.hotRawOld = this.hotRawOld.length === 0 ? this.hotRaw : this.hotRawOld.concat(this.hotRaw)
      this.hotRaw = []
    }
    if (this.loose.length > 0) {
      this.looseOld = this.looseOld.length === 0 ? this.loose : this.looseOld.concat(this.loose)
      this.loose = []
    }
  }

  /** Settles the loose bytes of warm entries that stayed warm for a tick into slabs. */
  private settleLoose(max: number): number {
    let n = 0
    const list = this.looseOld
    while (list.length > 0 && n < max) {
      const e = list.pop()!
      if (!e.loose || e.slot < 0 || this.warm[e.slot] !== e) continue
      e.settle(this.slabs)
      n++
    }
    return n
  }

  /** Compresses the bytes of hot entries that stayed hot for a tick (their decoded value serves reads). */
  private compressHot(max: number): number {
    let n = 0
    const list = this.hotRawOld
    while (list.length > 0 && n < max) {
      const e = list.pop()!
      if (e.tier !== 'hot' || e.compressed || e.slot < 0 || this.hot[e.slot] !== e) continue
      if (this.slabs.dictionary === undefined) this.slabs.train(this.samples())
      e.compress(this.slabs)
      this.compressedBytes += e.storedSize
      n++
    }
    return n
  }

  /** A few values from the warm and hot tiers, to train the cold dictionary on. */
  private samples(): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const list of [this.warm, this.hot]) {
      for (let i = 0; i < 64 && list.length > 0; i++) out.push(list[this.rng.below(list.length)]!.bytes)
    }
    return out
  }

  private pushWarm(e: TieredEntry): void {
    this.list(this.warm, e)
    this.warmBytes += e.size
    if (e.loose) this.loose.push(e)
  }

  private list(list: TieredEntry[], e: TieredEntry): void {
    e.slot = list.length
    list.push(e)
  }

  /** Swap-remove: O(1), order does not matter (victims are sampled). */
  private unlist(list: TieredEntry[], e: TieredEntry): void {
    const i = e.slot
    // An entry outside the list it should be in is a bookkeeping bug: fail loudly, not corrupt.
    if (i < 0 || list[i] !== e) throw new Error(`physics: a ${e.tier} entry is not where its tier keeps it`)
    const last = list.pop()!
    if (last !== e) {
      list[i] = last
      last.slot = i
    }
    e.slot = -1
  }
}
