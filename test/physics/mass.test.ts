import { describe, expect, it } from 'vitest'
import { MASS_UNIT, MAX_MASS, MassClock, addMass } from '../../src/physics/mass.js'

describe('mass (forward-decayed read count)', () => {
  it('a read adds one read of mass; mass halves every half-life', () => {
    const c = new MassClock(1000, 0)
    let m = addMass(0, c.g)
    m = addMass(m, c.g)
    expect(c.reads(m)).toBe(2)
    expect(c.advance(1000)).toBe(0)
    expect(c.reads(m)).toBeCloseTo(1, 5)
    m = addMass(m, c.g)
    expect(c.reads(m)).toBeCloseTo(2, 5)
    c.advance(3000)
    expect(c.reads(m)).toBeCloseTo(0.5, 5)
  })

  it('rescales: after several half-lives masses shift right and keep their value in reads', () => {
    const c = new MassClock(1000, 0)
    c.advance(3500)
    const m = addMass(0, 3 * c.g)
    const before = c.reads(m)
    const shift = c.advance(4500)
    expect(shift).toBe(4)
    expect(c.g).toBe(Math.round(MASS_UNIT * 2 ** 0.5))
    expect(c.reads(m >> shift)).toBeCloseTo(before / 2, 1)
  })

  it('saturates instead of growing past a small integer', () => {
    expect(addMass(MAX_MASS - 1, 100)).toBe(MAX_MASS)
    const c = new MassClock(1000, 0)
    expect(c.units(1e12)).toBe(MAX_MASS)
  })

  it('a clock that goes back in time does not make reads worth more than one', () => {
    const c = new MassClock(1000, 10_000)
    c.advance(5000)
    expect(c.g).toBe(MASS_UNIT)
  })
})
