// Mass: how often a key is read, fading with a half-life — in plain words, a read count that
// halves every `halfLifeMs` without reads.
//
// It is kept by *forward decay* (Cormode et al., "Forward Decay", ICDE 2009): instead of every
// mass shrinking as time passes, a read at time t adds g(t) = UNIT · 2^((t − origin)/halfLife)
// units, so that a key's mass in reads at time t is m/g(t) = Σ 2^((tᵢ − t)/halfLife) over its
// reads tᵢ: exactly the exponentially decayed count. A read is one integer add on the entry
// (g is recomputed per physics tick, not per read), and masses of different keys compare
// directly, with no decay arithmetic. Masses are small integers (V8 keeps them unboxed in the
// entry): g starts at UNIT and, once it has grown 2^RESCALE_BITS-fold, every mass is shifted
// right by that many bits and the origin moves forward (one walk over the keys every few
// half-lives). Time stops while the database is closed: masses come back from a checkpoint as
// they were saved.

/** Units of mass one read adds at the clock's origin. */
export const MASS_UNIT = 64
/** Masses are rescaled once g has doubled this many times. */
const RESCALE_BITS = 4
/** Masses saturate here, so they stay small integers (about 1M reads at the largest g). */
export const MAX_MASS = 2 ** 30 - 1

export class MassClock {
  /** Units one read adds now. */
  g = MASS_UNIT
  private origin: number

  constructor(
    readonly halfLifeMs: number,
    now: number,
  ) {
    this.origin = now
  }

  /**
   * Moves the clock to `now`. Returns the number of bits every mass must be shifted right by
   * (0: none) — the caller does the shifting, then the clock is consistent again.
   */
  advance(now: number): number {
    const x = Math.max(0, (now - this.origin) / this.halfLifeMs)
    let shift = 0
    if (x >= RESCALE_BITS) {
      shift = Math.floor(x)
      this.origin += shift * this.halfLifeMs
    }
    this.g = Math.max(1, Math.round(MASS_UNIT * 2 ** (x - shift)))
    return Math.min(shift, 31)
  }

  /** A mass in reads, decayed to the clock's time. */
  reads(mass: number): number {
    return mass / this.g
  }

  /** The mass of `reads` reads made now. */
  units(reads: number): number {
    return Math.min(MAX_MASS, Math.round(reads * this.g))
  }
}

/** `m` plus `units`, saturated at MAX_MASS. */
export function addMass(m: number, units: number): number {
  const s = m + units
  return s < MAX_MASS ? s : MAX_MASS
}
