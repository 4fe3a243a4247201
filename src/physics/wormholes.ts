// Wormholes: in plain words, shortcuts learned between keys that are read one right after the
// other — once such a link is strong enough, reading either key loads the other into the hot
// tier, so its read a moment later is a hit.
//
// Learning happens off the read path, on the batches of recent reads the physics tick hands
// over. Two reads at most `window` reads apart count as one co-read of the pair; a key's reads
// are counted on the same sample. Both counts decay (forward decay, as masses do, with their own
// half-life), so a link strengthens with use and fades without it.
//
// Popular keys are read near everything by chance: under Zipfian reads the most read key is among
// a read's six neighbours about a third of the time. So a pair is judged on its co-reads *beyond
// chance*: a read of the less read end b finds the other end a nearby by chance 2·window·share(a)
// times on average (share = a's part of all reads), and
//   excess   = co-reads − reads(b) · 2·window·share(a)
//   strength = excess ÷ (reads(b) + 1)
// A pair becomes a wormhole when its excess is at least `minCoReads`, its co-reads are less likely
// than `significance` (10⁻⁶) under chance alone (the Poisson tail: thousands of pairs are tested,
// so a 1% test would still form dozens of chance wormholes), and its strength reaches `formAt`;
// the +1 read keeps a pair seen twice among four reads below one seen twice among two. A wormhole
// collapses when its strength falls below `collapseAt`. Each key keeps its `maxPerKey` strongest
// wormholes; the pairs tracked are bounded by `maxTracked` (the weakest are forgotten).
import { Packr } from 'msgpackr'
import type { Link } from '../state/entry.js'

export interface WormholeOptions {
  /** Half-life of co-read and read counts. */
  halfLifeMs: number
  /** Reads this close together (in reads) count as co-read. */
  window: number
  /** Strength (co-reads beyond chance ÷ (reads of the less read end + 1)) a pair needs to become a wormhole. */
  formAt: number
  /** Decayed co-reads beyond chance a pair needs to become a wormhole. */
  minCoReads: number
  /** A wormhole whose strength falls below this collapses. */
  collapseAt: number
  maxPerKey: number
  maxWormholes: number
  /** Pairs whose counts are tracked at most. */
  maxTracked: number
  /** Reads learned from per tick at most (the most recent ones). */
  samplePerTick: number
  /**
   * How unlikely by chance (Poisson tail) a new wormhole's co-reads must be. 1 turns the chance
   * correction off: co-reads are then taken as they are (for tests that want wormholes to form
   * among a handful of keys, where every key is read near every other).
   */
  significance: number
}

export const DEFAULT_WORMHOLE_OPTIONS: WormholeOptions = {
  halfLifeMs: 300_000,
  window: 3,
  formAt: 0.5,
  minCoReads: 2,
  collapseAt: 0.35,
  maxPerKey: 4,
  maxWormholes: 10_000,
  maxTracked: 50_000,
  samplePerTick: 4096,
  significance: 1e-6,
}

/** A wormhole as listed by db.physics.wormholes(). */
export interface Wormhole {
  a: string
  b: string
  /** Co-reads beyond chance ÷ (reads of the less read end + 1), between 0 and 1. */
  strength: number
  /** Decayed co-reads. */
  coReads: number
  /** Times reading one end prefetched the other. */
  uses: number
}

/** One end's view of a wormhole: the link its reads follow. Both ends share `shared`. */
class Mouth implements Link {
  readonly prefetch = true
  constructor(
    readonly key: string,
    readonly shared: { strength: number; uses: number },
  ) {}
  get weight(): number {
    return this.shared.strength
  }
}

const packr = new Packr({ useRecords: false })
/** Keys whose wormholes are re-evaluated per tick. */
const REVIEW_PER_TICK = 512
/** Counts are rescaled when the forward-decay factor passes this. */
const RESCALE_AT = 2 ** 40

export class WormholeNetwork {
  /** Forward-decay factor: a co-read now adds g. */
  private g = 1
  private origin: number
  private readonly reads = new Map<string, number>()
  /** All reads learned from (decayed like the counts): what a key's share is a share of. */
  private total = 0
  /** co-reads, stored once per pair under the smaller key. */
  private readonly co = new Map<string, Map<string, number>>()
  private tracked = 0
  /** Formed wormholes: key → partner → mouth (both directions). */
  private readonly holes = new Map<string, Map<string, Mouth>>()
  private holeCount = 0
  /** The last reads of the previous batch, so pairs across a batch boundary are seen. */
  private tail: string[] = []
  /** Where review() goes on next tick. */
  private reviewAt: Iterator<[string, Map<string, Mouth>]> | undefined

  constructor(
    readonly opts: WormholeOptions,
    now: number,
  ) {
    this.origin = now
  }

  get count(): number {
    return this.holeCount
  }

  /** The wormhole mouths at `key` (links for its reads). */
  mouths(key: string): Iterable<Link> {
    return this.holes.get(key)?.values() ?? []
  }

  list(): Wormhole[] {
    const out: Wormhole[] = []
    for (const [a, m] of this.holes) {
      for (const [b, mouth] of m) {
        if (a < b) out.push({ a, b, strength: mouth.shared.strength, coReads: this.coOf(a, b) / this.g, uses: mouth.shared.uses })
      }
    }
    return out.sort((x, y) => y.strength - x.strength || y.coReads - x.coReads)
  }

  /**
   * Learns from a batch of reads (oldest first; '' marks a gap) at time `now`, then re-evaluates the wormholes.
   * Returns the keys whose wormholes changed (their links must be recomputed).
   */
  learn(batch: readonly string[], now: number): Set<string> {
    this.advance(now)
    const o = this.opts
    const g = this.g
    const sample = batch.length > o.samplePerTick ? batch.slice(batch.length - o.samplePerTick) : batch
    const seq = this.tail.length === 0 ? sample : this.tail.concat(sample)
    const changed = new Set<string>()
    const formAt = o.minCoReads * g
    // Pairs are tracked only between keys read more than once lately: a wormhole needs several
    // co-reads anyway, and this keeps the long tail of one-off reads out of the pair table.
    const seen = 1.5 * g
    for (let i = seq.length - sample.length; i < seq.length; i++) {
      const k = seq[i]!
      if (k === '') continue // a gap in the recorded reads
      this.total += g
      const rk = (this.reads.get(k) ?? 0) + g
      this.reads.set(k, rk)
      if (rk < seen) continue
      for (let j = 1; j <= o.window && i - j >= 0; j++) {
        const n = seq[i - j]!
        if (n === '') break
        // Each distinct neighbour counts once per read.
        if (n === k || seq.lastIndexOf(n, i - 1) !== i - j || (this.reads.get(n) ?? 0) < seen) continue
        const a = k < n ? k : n
        const b = k < n ? n : k
        let m = this.co.get(a)
        if (m === undefined) this.co.set(a, (m = new Map()))
        const had = m.get(b)
        if (had === undefined) this.tracked++
        const co = (had ?? 0) + g
        m.set(b, co)
        // Only a pair with enough co-reads is worth checking for a new wormhole.
        if (co >= formAt && !this.holes.get(a)?.has(b)) this.maybeForm(a, b, changed)
      }
    }
    this.tail = seq.slice(Math.max(0, seq.length - o.window))
    this.review(changed, REVIEW_PER_TICK)
    if (this.tracked > o.maxTracked || this.reads.size > 2 * o.maxTracked) this.forget()
    return changed
  }

  /**
   * Everything needed to restore the formed wormholes: rows [a, b, coReads, readsA, readsB, uses],
   * then one last row [total reads] (a checkpoint written before it existed ends at the rows).
   */
  save(): Uint8Array {
    const rows: [string, string, number, number, number, number][] = []
    for (const [a, m] of this.holes) {
      for (const [b, mouth] of m) {
        if (a < b) rows.push([a, b, this.coOf(a, b) / this.g, (this.reads.get(a) ?? 0) / this.g, (this.reads.get(b) ?? 0) / this.g, mouth.shared.uses])
      }
    }
    return packr.pack([...rows, [this.total / this.g]])
  }

  /** Restores what save() wrote; returns the keys that gained wormholes. */
  load(data: Uint8Array): Set<string> {
    const rows = packr.unpack(data) as [string, string, number, number, number, number][]
    const changed = new Set<string>()
    if (!Array.isArray(rows)) return changed
    const last = rows.at(-1) as unknown[] | undefined
    const saved = Array.isArray(last) && last.length === 1 && typeof last[0] === 'number' && last[0] >= 0 ? last[0] * this.g : undefined
    const pairs: [string, string, number][] = []
    for (const r of rows) {
      if (!Array.isArray(r) || r.length < 6) continue
      const [a, b, co, ra, rb, uses] = r
      if (typeof a !== 'string' || typeof b !== 'string' || a === b) continue
      const [x, y] = a < b ? [a, b] : [b, a]
      let m = this.co.get(x)
      if (m === undefined) this.co.set(x, (m = new Map()))
      if (!m.has(y)) this.tracked++
      m.set(y, co * this.g)
      this.reads.set(a, Math.max(this.reads.get(a) ?? 0, ra * this.g))
      this.reads.set(b, Math.max(this.reads.get(b) ?? 0, rb * this.g))
      pairs.push([x, y, uses])
    }
    // Strengths need the total: a checkpoint from before it was saved gets at least the reads
    // restored, so that no share comes out above 1 and the restored wormholes are not judged
    // against a near-empty total.
    let restored = 0
    for (const v of this.reads.values()) restored += v
    this.total = Math.max(this.total, saved ?? restored)
    for (const [x, y, uses] of pairs) {
      if (!this.holes.get(x)?.has(y)) this.open(x, y, this.strengthOf(x, y), changed)
      this.holes.get(x)!.get(y)!.shared.uses = uses
    }
    return changed
  }

  private coOf(a: string, b: string): number {
    const [x, y] = a < b ? [a, b] : [b, a]
    return this.co.get(x)?.get(y) ?? 0
  }

  /** Co-reads of a pair beyond chance, and the chance count itself (see the top of this file). */
  private excessOf(a: string, b: string): { excess: number; expected: number; least: number } {
    const ra = this.reads.get(a) ?? 0
    const rb = this.reads.get(b) ?? 0
    const least = Math.min(ra, rb)
    const share = this.total > 0 && this.opts.significance < 1 ? Math.min(1, Math.max(ra, rb) / this.total) : 0
    const expected = least * 2 * this.opts.window * share
    return { excess: this.coOf(a, b) - expected, expected, least }
  }

  private strengthOf(a: string, b: string): number {
    const { excess, least } = this.excessOf(a, b)
    return Math.max(0, Math.min(1, excess / (least + this.g)))
  }

  private maybeForm(a: string, b: string, changed: Set<string>): void {
    const o = this.opts
    const { excess, expected } = this.excessOf(a, b)
    if (excess / this.g < o.minCoReads || poissonTail(Math.floor(this.coOf(a, b) / this.g), expected / this.g, o.significance) > o.significance) return
    const strength = this.strengthOf(a, b)
    if (strength < o.formAt || this.holeCount >= o.maxWormholes) return
    // A full end gives up its weakest wormhole only for a stronger one.
    for (const end of [a, b]) {
      const m = this.holes.get(end)
      if (m === undefined || m.size < o.maxPerKey) continue
      let weakest: [string, Mouth] | undefined
      for (const kv of m) if (weakest === undefined || kv[1].shared.strength < weakest[1].shared.strength) weakest = kv
      if (weakest![1].shared.strength >= strength) return
      this.close(end, weakest![0], changed)
    }
    this.open(a, b, strength, changed)
  }

  private open(a: string, b: string, strength: number, changed: Set<string>): void {
    const shared = { strength, uses: 0 }
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      let m = this.holes.get(x)
      if (m === undefined) this.holes.set(x, (m = new Map()))
      m.set(y, new Mouth(y, shared))
      changed.add(x)
    }
    this.holeCount++
  }

  private close(a: string, b: string, changed: Set<string>): void {
    if (this.holes.get(a)?.has(b) !== true) return
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const m = this.holes.get(x)
      m?.delete(y)
      if (m?.size === 0) this.holes.delete(x)
      changed.add(x)
    }
    this.holeCount--
  }

  /**
   * Updates the strength of the wormholes at up to `max` keys, continuing where the last call
   * stopped (a full pass takes a few ticks); collapses the ones that faded.
   */
  private review(changed: Set<string>, max: number): void {
    const o = this.opts
    const gone: [string, string][] = []
    let n = 0
    this.reviewAt ??= this.holes.entries()
    while (n < max) {
      const next = this.reviewAt.next()
      if (next.done === true) {
        // A full pass is done; the next call starts another.
        this.reviewAt = undefined
        break
      }
      const [a, m] = next.value
      for (const [b, mouth] of m) {
        if (a > b) continue
        const s = this.strengthOf(a, b)
        mouth.shared.strength = s
        if (s < o.collapseAt || this.coOf(a, b) / this.g < o.minCoReads / 4) gone.push([a, b])
      }
      n++
    }
    for (const [a, b] of gone) this.close(a, b, changed)
  }

  /**
   * Drops the weaker half of the tracked pairs (never a formed wormhole's), and reads of keys
   * left in none. The cut is the median of a sample, so a call costs one pass, not a sort.
   */
  private forget(): void {
    const sample: number[] = []
    const every = Math.max(1, Math.floor(this.tracked / 1024))
    let i = 0
    for (const m of this.co.values()) for (const v of m.values()) if (i++ % every === 0) sample.push(v)
    sample.sort((x, y) => x - y)
    const cut = sample[sample.length >> 1]!
    for (const [a, m] of this.co) {
      for (const [b, v] of m) {
        if (v <= cut && !this.holes.get(a)?.has(b)) {
          m.delete(b)
          this.tracked--
        }
      }
      if (m.size === 0) this.co.delete(a)
    }
    // Keys read about once lately and in no pair are forgotten too.
    const inPairs = new Set<string>()
    for (const [a, m] of this.co) {
      inPairs.add(a)
      for (const b of m.keys()) inPairs.add(b)
    }
    const little = 1.5 * this.g
    for (const [k, r] of this.reads) if (r < little && !inPairs.has(k)) this.reads.delete(k)
  }

  private advance(now: number): void {
    this.g = 2 ** (Math.max(0, now - this.origin) / this.opts.halfLifeMs)
    if (this.g < RESCALE_AT) return
    const f = 1 / this.g
    for (const [k, v] of this.reads) this.reads.set(k, v * f)
    this.total *= f
    for (const m of this.co.values()) for (const [k, v] of m) m.set(k, v * f)
    this.origin = now
    this.g = 1
  }
}

/**
 * P(X ≥ k) for X ~ Poisson(λ): how likely chance alone gives k co-reads. The sum stops once it
 * passes `enough` (a caller comparing with a threshold needs no more).
 */
export function poissonTail(k: number, lambda: number, enough = Infinity): number {
  if (k <= 0) return 1
  if (lambda <= 0) return 0
  if (k <= lambda) {
    // Up to the mean: 1 − P(X < k), the terms summed in log space (e^−λ underflows for large λ).
    let cdf = 0
    for (let i = 0; i < k; i++) cdf += Math.exp(-lambda + i * Math.log(lambda) - logFactorial(i))
    return Math.max(0, 1 - cdf)
  }
  let term = Math.exp(-lambda + k * Math.log(lambda) - logFactorial(k))
  let sum = 0
  // Past the mean the terms only shrink, slowly near it: 40·√λ terms on, they are far below 1e-12 of the sum.
  const last = k + 40 * Math.ceil(Math.sqrt(lambda)) + 40
  for (let i = k; term > sum * 1e-12 && i < last && sum <= enough; i++) {
    sum += term
    term *= lambda / (i + 1)
  }
  return Math.min(1, sum)
}

function logFactorial(k: number): number {
  if (k < 20) {
    let s = 0
    for (let i = 2; i <= k; i++) s += Math.log(i)
    return s
  }
  return k * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI * k) + 1 / (12 * k)
}
