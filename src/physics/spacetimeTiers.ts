// Spacetime tiers: in plain words, every key's value is kept in one of three forms — decoded
// (hot), msgpack bytes (warm) or LZ4-compressed bytes (cold) — and the form follows how often the
// key is read, within a memory budget.
//
// This file owns the forms' bookkeeping (which entries are in which tier, how many bytes each
// tier holds) and *gravitational routing*, the background part of placement: each tick, warm
// entries beyond the warm budget fall to cold, lightest first; heavy cold keys that were read
// recently rise to warm when there is room; hot entries beyond a (possibly shrunk) hot budget
// are evicted; hot values get their bytes compressed and warm values their bytes settled into
// slabs. Who enters and leaves the hot tier on the read path is the event horizon's decision
// (eventHorizon.ts). Budgets count encoded (msgpack) bytes: a decoded value takes about 3–4×
// that in the JS heap, a cold one about half.
//
// The hot tier is a list (victims are sampled from it, and entries leave it in O(1) by their
// slot). The warm tier is only counted: its victims are found by a sweep over the state's
// entries, so a write — which makes a warm entry — touches no list at all.
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
/** A search for warm entries looks at most this many entries of the state. */
const SWEEP_LIMIT = 256
/** A settling pass looks at most this many entries of the state. */
const SETTLE_LOOK = 8192

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
  /** Encoded bytes of hot values: the entries in `hot`, and the values the state keeps by row (see RowKeeper). */
  hotBytes = 0
  /** Hot values kept by row in the state's base (no entry; see MemoryState.evictRows). */
  rowKeys = 0
  warmKeys = 0
  warmBytes = 0
  coldKeys = 0
  /** Stored bytes of compressed records: cold entries, and the bytes behind hot values. */
  compressedBytes = 0
  readonly slabs = new ColdSlabs()
  readonly counters: TierCounters = { promotions: 0, evictions: 0, demotions: 0, thaws: 0 }
  /**
   * Hot entries whose bytes are still uncompressed, by age: those admitted since the last tick,
   * and those admitted before it. Only the older ones are compressed, so values that come and go
   * within a tick or two (churn) never pay for it.
   */
  private hotRaw: TieredEntry[] = []
  private hotRawOld: TieredEntry[] = []
  /** Sweeps over the state's entries: one looks for warm victims, one settles loose bytes. */
  private victims: Iterator<Entry> | undefined
  private settler: Iterator<Entry> | undefined
  /** Full settling passes over the state so far. */
  sweeps = 0
  readonly rng = new Rng()

  constructor(
    public budget: TierBudget,
    private readonly entries: Map<string, Entry>,
  ) {}

  // ── EntryShaper: every new version is born warm and inherits its key's mass and links ──

  make(seq: number, time: number, bytes: Uint8Array, prev: Entry | undefined): TieredEntry {
    const e = new TieredEntry(seq, time, bytes)
    if (prev !== undefined) {
      const p = prev as TieredEntry
      e.mass = p.mass
      e.links = p.links
      this.leave(p)
    }
    this.warmKeys++
    this.warmBytes += bytes.length
    return e
  }

  /** An evaporated key comes back: cold, its packed bytes stored in a slab again (never decompressed on the way). */
  revive(seq: number, time: number, packed: Uint8Array): TieredEntry {
    const e = TieredEntry.cold(seq, time, this.slabs.writePacked(packed))
    this.coldKeys++
    this.compressedBytes += e.storedSize
    return e
  }

  leave(entry: Entry): void {
    const e = entry as TieredEntry
    const tier = e.tier
    if (tier === 'hot') {
      this.unlist(e)
      this.hotBytes -= e.size
      if (e.compressed) this.compressedBytes -= e.storedSize
    } else if (tier === 'warm') {
      this.warmKeys--
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
      this.list(e)
      this.hotBytes += e.size
      if (e.compressed) this.compressedBytes += e.storedSize
      else this.hotRaw.push(e)
    } else if (tier === 'warm') {
      this.warmKeys++
      this.warmBytes += e.size
    } else {
      this.coldKeys++
      this.compressedBytes += e.storedSize
    }
  }

  // ── Moves between tiers ──

  /** The state keeps `keys` more row values, `size` encoded bytes (they count as hot). */
  keepRows(keys: number, size: number): void {
    this.rowKeys += keys
    this.hotBytes += size
    this.counters.promotions += keys
  }

  /** The state dropped `keys` kept row values, `size` encoded bytes. */
  dropRows(keys: number, size: number): void {
    this.rowKeys -= keys
    this.hotBytes -= size
    this.counters.evictions += keys
  }

  /** Makes `e` (warm or cold) hot with its decoded, frozen value `v`. */
  toHot(e: TieredEntry, v: unknown): void {
    const size = e.size
    if (e.compressed) {
      this.coldKeys--
    } else {
      this.warmKeys--
      this.warmBytes -= size
      this.hotRaw.push(e)
    }
    e.keep(v)
    this.list(e)
    this.hotBytes += size
    this.counters.promotions++
  }

  /**
   * Drops `e`'s decoded value. It falls to warm (its bytes decompressed if need be) when the
   * warm tier has room, otherwise to cold.
   */
  evict(e: TieredEntry): void {
    this.unlist(e)
    const size = e.size
    this.hotBytes -= size
    e.cool()
    this.counters.evictions++
    if (!e.compressed) this.addWarm(size)
    else if (this.warmBytes + size <= this.budget.warmBytes) {
      this.compressedBytes -= e.storedSize
      e.decompress()
      this.addWarm(size)
    } else this.coldKeys++
  }

  /** Compresses a warm entry into the cold tier. */
  demote(e: TieredEntry): void {
    if (this.slabs.dictionary === undefined) this.slabs.train(this.samples())
    this.warmKeys--
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
    this.addWarm(e.size)
    this.counters.thaws++
  }

  /**
   * The lightest of SAMPLE random hot entries, leaving out those in `spare` (undefined when there
   * are none to choose from).
   */
  lightestHot(spare?: readonly TieredEntry[]): TieredEntry | undefined {
    const list = this.hot
    const n = list.length
    const sparing = spare !== undefined && spare.length > 0
    let best: TieredEntry | undefined
    // Draws of spared entries do not count, up to a bound: all of a small list may be spared.
    for (let found = 0, draws = 0; found < SAMPLE && found < n && draws < 4 * SAMPLE; draws++) {
      const c = list[this.rng.below(n)]!
      if (sparing && spare.includes(c)) continue
      found++
      if (best === undefined || c.mass < best.mass) best = c
    }
    return best
  }

  /**
   * The lightest of SAMPLE warm entries the sweep picks further on (undefined: none nearby). It
   * takes one warm entry in four, at random, so the sample spans a stretch of the state rather
   * than a few neighbours written together.
   */
  lightestWarm(): TieredEntry | undefined {
    if (this.warmKeys === 0) return undefined
    let best: TieredEntry | undefined
    let found = 0
    let fallback: TieredEntry | undefined
    for (let looked = 0; looked < SWEEP_LIMIT && found < SAMPLE; looked++) {
      let r = this.victims?.next()
      if (r === undefined || r.done === true) {
        this.victims = this.entries.values()
        r = this.victims.next()
        if (r.done === true) break
      }
      const e = r.value as TieredEntry
      if (e.tier !== 'warm') continue
      fallback ??= e
      if (this.rng.below(4) !== 0) continue
      found++
      if (best === undefined || e.mass < best.mass) best = e
    }
    return best ?? fallback
  }

  /**
   * Starts the sweeps over again. A Map iterator keeps the table it started on alive, with every
   * entry in it, after the Map has shrunk: call this once many entries have left the Map.
   */
  restartSweeps(): void {
    this.victims = undefined
    this.settler = undefined
  }

  // ── Gravitational routing (background) ──

  /**
   * One routing pass, doing at most `maxMoves` moves: hot budget, warm budget, compression of
   * hot bytes, settling of warm bytes, and thawing of `risers` (recently read cold entries)
   * into warm room. Returns the moves made; routing is done when it returns less than maxMoves.
   */
  route(maxMoves: number, risers: readonly TieredEntry[] = []): number {
    let moves = 0
    while (this.hotBytes > this.budget.hotBytes && moves < maxMoves) {
      const v = this.lightestHot()
      if (v === undefined) break
      this.evict(v)
      moves++
    }
    while (this.warmBytes > this.budget.warmBytes && moves < maxMoves) {
      const v = this.lightestWarm()
      if (v === undefined) break
      this.demote(v)
      moves++
    }
    moves += this.compressHot(maxMoves - moves)
    moves += this.settleLoose(maxMoves - moves)
    // Rise: a cold key read recently moves up if warm has room, or if it is heavier than a warm one.
    for (let i = 0; i < risers.length && moves < maxMoves; i++) {
      const e = risers[i]!
      if (e.tier !== 'cold') continue
      if (this.warmBytes + e.size > this.budget.warmBytes) {
        const v = this.lightestWarm()
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
   * compressed.
   */
  age(): void {
    if (this.hotRaw.length === 0) return
    this.hotRawOld = this.hotRawOld.length === 0 ? this.hotRaw : this.hotRawOld.concat(this.hotRaw)
    this.hotRaw = []
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

  /**
   * Settles the loose bytes of warm entries into slabs, sweeping a stretch of the state (at most
   * SETTLE_LOOK entries) per pass. Returns the entries settled.
   */
  private settleLoose(max: number): number {
    let n = 0
    this.settler ??= this.entries.values()
    for (let looked = 0; looked < SETTLE_LOOK && n < max; looked++) {
      const r = this.settler.next()
      if (r.done === true) {
        // A full pass is done; the next call starts another.
        this.settler = undefined
        this.sweeps++
        break
      }
      const e = r.value as TieredEntry
      if (e.loose && e.tier === 'warm') {
        e.settle(this.slabs)
        n++
      }
    }
    return n
  }

  /** A few values from the state, to train the cold dictionary on. */
  private samples(): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let i = 0; i < 64 && this.hot.length > 0; i++) out.push(this.hot[this.rng.below(this.hot.length)]!.bytes)
    let i = 0
    for (const e of this.entries.values()) {
      if (i++ >= 64) break
      out.push(e.bytes)
    }
    return out
  }

  private addWarm(size: number): void {
    this.warmKeys++
    this.warmBytes += size
  }

  private list(e: TieredEntry): void {
    e.slot = this.hot.length
    this.hot.push(e)
  }

  /** Swap-remove from the hot list: O(1), order does not matter (victims are sampled). */
  private unlist(e: TieredEntry): void {
    const list = this.hot
    const i = e.slot
    // An entry outside the list it should be in is a bookkeeping bug: fail loudly, not corrupt.
    if (i < 0 || list[i] !== e) throw new Error('physics: a hot entry is not in the hot list')
    const last = list.pop()!
    if (last !== e) {
      list[i] = last
      last.slot = i
    }
    e.slot = -1
  }
}
