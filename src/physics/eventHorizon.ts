// Event horizon cache: in plain words, the hot tier's door policy — a value is kept decoded only
// if its key is read often enough, and when room is needed the least-read hot value leaves.
//
// - Hawking radiation: masses decay with time (mass.ts), so a key that stops being read loses
//   its claim on the hot tier without any sweep.
// - The coldest mass leaves first: a victim is the lightest of a few hot entries sampled at
//   random (the approximation Redis uses for LRU/LFU eviction), O(1) per eviction.
// - Escape velocity: while the tier has room anything may enter; once it is full, a key enters
//   only with at least `escapeVelocity` reads of mass *and* more mass than the victim it would
//   push out (TinyLFU's admission rule). One long scan reads each key once, so it never reaches
//   escape velocity and cannot flush the hot set, which plain LRU lets it do.
import { freezeDecoded } from '../events/valueCodec.js'
import type { TieredEntry } from '../state/entry.js'
import type { MassClock } from './mass.js'
import { addMass } from './mass.js'
import type { SpacetimeTiers } from './spacetimeTiers.js'

/** At most this many victims are pushed out to admit one value. */
const MAX_VICTIMS = 8

export class EventHorizon {
  /** Escape velocity in mass units at the clock's current g (refresh() after each tick). */
  private escapeUnits = 0
  /** The demon scales the escape velocity (1 = as configured). */
  factor = 1
  /** Admissions refused because the key was too light. */
  refused = 0
  /** Entries one read brought in together (the read key and its prefetched partners): none evicts another. */
  private readonly together: TieredEntry[] = []
  /**
   * Drops hot values the state keeps by row that are lighter than `mass` until `size` bytes are
   * freed (see MemoryState.evictRows); set by the physics layer when rows keep values.
   */
  evictRows: ((size: number, mass: number) => number) | undefined

  constructor(
    private readonly tiers: SpacetimeTiers,
    private readonly clock: MassClock,
    /** Reads of (decayed) mass a key needs to enter a full hot tier. */
    readonly escapeVelocity: number,
  ) {
    this.refresh()
  }

  /** Recomputes the threshold for the clock's current g and the demon's factor. */
  refresh(): void {
    this.escapeUnits = this.clock.units(this.escapeVelocity * this.factor)
  }

  /** The escape velocity in force, in mass units at the clock's current g. */
  get escapeMass(): number {
    return this.escapeUnits
  }

  /** The escape velocity in force, in reads. */
  get escape(): number {
    return this.escapeVelocity * this.factor
  }

  /**
   * Decides whether `e` (just read, its mass already counted) becomes hot with the frozen value
   * `v`, evicting lighter entries if the tier is full. Returns true if it did.
   */
  admit(e: TieredEntry, v: unknown): boolean {
    const t = this.tiers
    const size = e.size
    const budget = t.budget.hotBytes
    if (size > budget) return false
    if (t.hotBytes + size > budget) {
      if (e.mass < this.escapeUnits) {
        this.refused++
        return false
      }
      for (let n = 0; t.hotBytes + size > budget; n++) {
        const victim = t.lightestHot()
        if (victim === undefined || n >= MAX_VICTIMS || victim.mass >= e.mass) {
          // Hot values kept by row compete for the same budget: lighter ones make room too.
          if (t.rowKeys > 0 && this.evictRows !== undefined) this.evictRows(t.hotBytes + size - budget, e.mass)
          if (t.hotBytes + size <= budget) break
          this.refused++
          return false
        }
        t.evict(victim)
      }
    }
    t.toHot(e, v)
    return true
  }

  /**
   * Brings `e` into the hot tier whatever its mass (wormhole prefetch, put hints, the demon's
   * promotions), evicting the lightest sampled entries to make room; its mass is raised to the
   * escape velocity so it is not the next victim. Entries held by hold() are not evicted for it.
   * Returns false for values that cannot be kept decoded (not freezable, or larger than the
   * whole budget) and when no room could be made (MAX_VICTIMS evictions, or only held entries).
   */
  force(e: TieredEntry): boolean {
    if (e.tier === 'hot') return true
    const t = this.tiers
    const size = e.size
    const budget = t.budget.hotBytes
    if (size > budget) return false
    const value = e.value()
    if (!freezeDecoded(value)) return false
    for (let n = 0; t.hotBytes + size > budget && n < MAX_VICTIMS; n++) {
      const victim = t.lightestHot(this.together)
      if (victim === undefined) break
      t.evict(victim)
    }
    if (t.hotBytes + size > budget) return false
    if (e.mass < this.escapeUnits) e.mass = addMass(0, this.escapeUnits)
    t.toHot(e, value)
    return true
  }

  /** Keeps `e` from being evicted by force() until release(): a read's partners come in together. */
  hold(e: TieredEntry): void {
    this.together.push(e)
  }

  /** Ends what hold() started. */
  release(): void {
    this.together.length = 0
  }
}
