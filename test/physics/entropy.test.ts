import { describe, expect, it } from 'vitest'
import type { EntropyReading } from '../../src/index.js'
import { EntropyMonitor } from '../../src/physics/entropy.js'
import { blob, lab, prng } from './helpers.js'

describe('entropy monitor', () => {
  it('is 0 when every read is of one key and 1 when reads are uniform', () => {
    const m = new EntropyMonitor(1000)
    m.observe(Array(1000).fill('a:1'), new Uint8Array(1000))
    expect(m.read(100, 0).entropy).toBe(0)
    m.observe(
      Array.from({ length: 1000 }, (_, i) => `a:${i % 100}`),
      new Uint8Array(1000),
    )
    expect(m.read(100, 0).entropy).toBeCloseTo(1, 10)
  })

  it('reports per prefix and per tier', () => {
    const m = new EntropyMonitor(400)
    const keys: string[] = []
    const tiers: number[] = []
    for (let i = 0; i < 200; i++) {
      keys.push('user:1', `log:${i}`)
      tiers.push(0, 2)
    }
    m.observe(keys, Uint8Array.from(tiers))
    const r = m.read(1000, 5)
    expect(r.time).toBe(5)
    expect(r.reads).toBe(400)
    expect(r.prefixes['user:']).toEqual({ share: 0.5, entropy: 0 })
    expect(r.prefixes['log:']!.share).toBe(0.5)
    expect(r.prefixes['log:']!.entropy).toBeCloseTo(1, 10)
    expect(r.tiers.hot).toEqual({ share: 0.5, entropy: 0 })
    expect(r.tiers.cold.share).toBe(0.5)
    expect(r.tiers.warm).toEqual({ share: 0, entropy: 0 })
    expect(r.entropy).toBeGreaterThan(0.4)
    expect(r.entropy).toBeLessThan(0.6)
  })

  it('publishes readings on db.physics.entropy$ and in metrics()', async () => {
    const { db } = await lab()
    for (let i = 0; i < 10; i++) await db.put(`k:${i}`, i)
    const seen: EntropyReading[] = []
    const sub = db.physics.entropy$.subscribe((r) => seen.push(r))
    for (let i = 0; i < 100; i++) db.get(`k:${i % 10}`)
    db.physics.tick()
    for (let i = 0; i < 100; i++) db.get('k:0')
    db.physics.tick()
    sub.unsubscribe()
    // The window (8192 reads) now holds both rounds: 110 reads of k:0, 10 of each other key.
    const p0 = 110 / 200
    const p = 10 / 200
    const expected = -(p0 * Math.log(p0) + 9 * p * Math.log(p)) / Math.log(10)
    expect(seen.length).toBe(2)
    expect(seen[0]!.entropy).toBeCloseTo(1, 10)
    expect(seen[1]!.entropy).toBeCloseTo(expected, 10)
    expect(db.metrics().entropy).toEqual(seen[1])
    await db.close()
  })
})

describe("Maxwell's demon", () => {
  it('when reads concentrate: promotes the hot set and doubles the escape velocity', async () => {
    const { db } = await lab({ memory: { hotBytes: 20 * 120, warmBytes: 20 * 120 }, physicsOptions: { demon: true } })
    for (let i = 0; i < 200; i++) await db.put(`k:${i}`, blob(i))
    db.physics.settle()
    // Fill the hot tier with keys read a few times, then concentrate reads on 5 keys read once each per tick.
    for (let r = 0; r < 3; r++) for (let i = 100; i < 120; i++) db.get(`k:${i}`)
    db.physics.tick()
    for (let r = 0; r < 60; r++) for (let i = 0; i < 5; i++) db.get(`k:${i}`)
    db.physics.tick()
    const m = db.metrics()
    expect(m.entropy!.entropy).toBeLessThan(0.6)
    expect(m.demon).toMatchObject({ escapeFactor: 2 })
    expect(m.demon!.concentrated).toBeGreaterThan(0)
    for (let i = 0; i < 5; i++) expect(db.physics.tier(`k:${i}`)).toBe('hot')
    await db.close()
  })

  it('when reads spread: widens the warm tier at the hot tier\'s expense, within the same total', async () => {
    const { db } = await lab({ memory: { hotBytes: 5000, warmBytes: 5000 }, physicsOptions: { demon: true } })
    for (let i = 0; i < 2000; i++) await db.put(`k:${i}`, blob(i))
    const rnd = prng(3)
    for (let t = 0; t < 5; t++) {
      for (let n = 0; n < 2000; n++) db.get(`k:${Math.floor(rnd() * 2000)}`)
      db.physics.tick()
    }
    const m = db.metrics()
    expect(m.entropy!.entropy).toBeGreaterThan(0.85)
    expect(m.budget!.warmBytes).toBeGreaterThan(8000)
    expect(m.budget!.hotBytes + m.budget!.warmBytes).toBe(10_000)
    expect(m.demon!.hotShare).toBeCloseTo(0.1, 5)
    // Back to concentrated reads: the hot share returns.
    for (let t = 0; t < 5; t++) {
      for (let n = 0; n < 2000; n++) db.get(`k:${n % 3}`)
      db.physics.tick()
    }
    expect(db.metrics().demon!.hotShare).toBeCloseTo(0.5, 5)
    await db.close()
  })
})
