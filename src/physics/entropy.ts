// Entropy monitor: in plain words, a number from 0 to 1 saying how spread out recent reads are —
// 0 when every read is of one key, 1 when no key is read more than another.
// Maxwell's demon: in plain words, a controller that watches that number and re-balances the
// memory budget between the hot and warm tiers.
//
// The monitor keeps the last `window` reads (key and the tier that served it) and computes the
// Shannon entropy H = −Σ pᵢ·ln pᵢ of the read counts, normalized by its largest possible value
// ln(min(reads in the window, keys in the database)). It does so for all reads, per key prefix
// (the key up to its first ':') and per tier, and publishes each reading on `entropy$`.
//
// The demon's rule, applied at every reading (E = the overall normalized entropy):
//   E ≤ low  (reads concentrate): the hot set is promoted — the keys read at least twice in the
//            window are brought into the hot tier at once (at most `promote` per reading) instead
//            of each waiting to earn its way in — and churn shrinks: the escape velocity doubles,
//            so lukewarm keys stop displacing hot ones. The hot share of the budget returns
//            toward its base by `step`.
//   E ≥ high (reads spread): the warm tier widens — the hot share shrinks by `step` (down to
//            `minShare`) and the warm tier gets what it gives up, so more keys stay uncompressed
//            when no small set of them could be kept hot anyway. Escape velocity back to normal.
//   otherwise: hot share and escape velocity drift back to their base values.
// The total budget (hot + warm) never changes.
import type { TierBudget } from './spacetimeTiers.js'

export interface Spread {
  /** Fraction of the window's reads in this group. */
  share: number
  /** Normalized entropy of the reads within the group. */
  entropy: number
}

export interface EntropyReading {
  /** When it was taken (the physics clock). */
  time: number
  /** Reads in the window. */
  reads: number
  /** Normalized Shannon entropy of all reads over keys: 0 = one key, 1 = uniform. */
  entropy: number
  /** Per key prefix (up to and including the first ':'; '' for keys without one), the 16 largest shares. */
  prefixes: Record<string, Spread>
  /** Per tier that served the reads. */
  tiers: { hot: Spread; warm: Spread; cold: Spread }
}

export const TIER_HOT = 0
export const TIER_WARM = 1
export const TIER_COLD = 2
const TIER_NAMES = ['hot', 'warm', 'cold'] as const

export class EntropyMonitor {
  private readonly keys: string[]
  private readonly tiers: Uint8Array
  private head = 0
  private filled = 0

  constructor(
    readonly window: number,
    private readonly separator = ':',
  ) {
    this.keys = new Array<string>(window).fill('')
    this.tiers = new Uint8Array(window)
  }

  /** Adds reads to the window (oldest first; '' marks a gap and is skipped). */
  observe(keys: readonly string[], tiers: Uint8Array): void {
    const w = this.window
    const from = Math.max(0, keys.length - w)
    for (let i = from; i < keys.length; i++) {
      const k = keys[i]!
      if (k === '') continue // a gap between bursts of recorded reads
      this.keys[this.head] = k
      this.tiers[this.head] = tiers[i]!
      this.head = (this.head + 1) % w
      if (this.filled < w) this.filled++
    }
  }

  /** The reading over the current window; `keyCount` is the number of keys in the database. */
  read(keyCount: number, time: number): EntropyReading {
    const n = this.filled
    const all = new Map<string, number>()
    const byTier = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()]
    for (let i = 0; i < n; i++) {
      const k = this.keys[i]!
      all.set(k, (all.get(k) ?? 0) + 1)
      const m = byTier[this.tiers[i]!]!
      m.set(k, (m.get(k) ?? 0) + 1)
    }
    // Per prefix: total reads T and Σ c·ln c, enough for H = ln T − (Σ c·ln c)/T.
    const groups = new Map<string, { t: number; cl: number }>()
    let cl = 0
    for (const [k, c] of all) {
      const x = c * Math.log(c)
      cl += x
      const at = k.indexOf(this.separator)
      const p = at < 0 ? '' : k.slice(0, at + 1)
      const g = groups.get(p)
      if (g === undefined) groups.set(p, { t: c, cl: x })
      else {
        g.t += c
        g.cl += x
      }
    }
    const prefixes: Record<string, Spread> = {}
    const top = Array.from(groups).sort((a, b) => b[1].t - a[1].t).slice(0, 16)
    for (const [p, g] of top) prefixes[p] = { share: n === 0 ? 0 : g.t / n, entropy: normalized(g.t, g.cl, keyCount) }
    const tiers = {} as EntropyReading['tiers']
    for (let t = 0; t < 3; t++) {
      let total = 0
      let tcl = 0
      for (const c of byTier[t]!.values()) {
        total += c
        tcl += c * Math.log(c)
      }
      tiers[TIER_NAMES[t]!] = { share: n === 0 ? 0 : total / n, entropy: normalized(total, tcl, keyCount) }
    }
    return { time, reads: n, entropy: normalized(n, cl, keyCount), prefixes, tiers }
  }

  /** The keys read at least `min` times in the window, most read first. */
  heaviest(min: number, limit: number): string[] {
    const counts = new Map<string, number>()
    for (let i = 0; i < this.filled; i++) {
      const k = this.keys[i]!
      counts.set(k, (counts.get(k) ?? 0) + 1)
    }
    const out: [string, number][] = []
    for (const kv of counts) if (kv[1] >= min) out.push(kv)
    out.sort((a, b) => b[1] - a[1])
    return out.slice(0, limit).map((kv) => kv[0])
  }
}

/** Normalized entropy of `total` reads with Σ c·ln c = `cl`, over at most `keyCount` keys. */
function normalized(total: number, cl: number, keyCount: number): number {
  const max = Math.log(Math.min(total, Math.max(keyCount, 1)))
  if (total <= 1 || max <= 0) return 0
  const h = Math.log(total) - cl / total
  return Math.min(1, Math.max(0, h / max))
}

export interface DemonOptions {
  /** Entropy at or below which reads count as concentrated. */
  low: number
  /** Entropy at or above which reads count as spread. */
  high: number
  /** How far the hot share moves per reading. */
  step: number
  /** The hot share never goes below this fraction of the total budget. */
  minShare: number
  /** Keys promoted per reading when concentrated. */
  promote: number
  /** Escape velocity multiplier while concentrated. */
  churnFactor: number
}

export const DEFAULT_DEMON_OPTIONS: DemonOptions = { low: 0.6, high: 0.95, step: 0.1, minShare: 0.1, promote: 256, churnFactor: 2 }

export interface DemonState {
  /** Hot tier's share of the total budget now. */
  hotShare: number
  /** Escape velocity multiplier now. */
  escapeFactor: number
  /** Readings that found reads concentrated / spread. */
  concentrated: number
  spread: number
  /** Keys the demon promoted into the hot tier. */
  promoted: number
}

/** What the demon acts on: the tiers' budget, the horizon's escape velocity, promotions. */
export interface DemonLevers {
  budget: TierBudget
  setEscapeFactor(f: number): void
  promote(keys: readonly string[]): number
}

export class MaxwellDemon {
  readonly state: DemonState
  private readonly total: number
  private readonly baseShare: number

  constructor(
    base: TierBudget,
    private readonly opts: DemonOptions,
    private readonly levers: DemonLevers,
  ) {
    this.total = base.hotBytes + base.warmBytes
    this.baseShare = this.total === 0 ? 0.5 : base.hotBytes / this.total
    this.state = { hotShare: this.baseShare, escapeFactor: 1, concentrated: 0, spread: 0, promoted: 0 }
  }

  act(r: EntropyReading, monitor: EntropyMonitor): void {
    const o = this.opts
    const s = this.state
    if (r.reads < 2) return
    let target = this.baseShare
    if (r.entropy <= o.low) {
      s.concentrated++
      s.escapeFactor = o.churnFactor
      s.promoted += this.levers.promote(monitor.heaviest(2, o.promote))
    } else if (r.entropy >= o.high) {
      s.spread++
      s.escapeFactor = 1
      target = Math.min(this.baseShare, o.minShare)
    } else {
      s.escapeFactor = 1
    }
    s.hotShare = s.hotShare < target ? Math.min(target, s.hotShare + o.step) : Math.max(target, s.hotShare - o.step)
    this.levers.setEscapeFactor(s.escapeFactor)
    this.levers.budget.hotBytes = Math.round(this.total * s.hotShare)
    this.levers.budget.warmBytes = this.total - this.levers.budget.hotBytes
  }

  /** Restores a saved state (checkpoint). */
  restore(saved: Partial<DemonState>): void {
    if (typeof saved.hotShare === 'number' && saved.hotShare >= 0 && saved.hotShare <= 1) this.state.hotShare = saved.hotShare
    if (typeof saved.escapeFactor === 'number' && saved.escapeFactor >= 1) this.state.escapeFactor = saved.escapeFactor
    this.levers.setEscapeFactor(this.state.escapeFactor)
    this.levers.budget.hotBytes = Math.round(this.total * this.state.hotShare)
    this.levers.budget.warmBytes = this.total - this.levers.budget.hotBytes
  }
}
