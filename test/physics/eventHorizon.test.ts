import { describe, expect, it } from 'vitest'
import { blob, lab } from './helpers.js'

const ONE = 120 // hot budget for one ~100-byte value

describe('event horizon cache', () => {
  it('admits anything while the hot tier has room', async () => {
    const { db } = await lab({ memory: { hotBytes: 10 * ONE, warmBytes: 1e6 } })
    for (let i = 0; i < 5; i++) await db.put(`k${i}`, blob(i))
    for (let i = 0; i < 5; i++) db.get(`k${i}`)
    for (let i = 0; i < 5; i++) expect(db.physics.tier(`k${i}`)).toBe('hot')
    await db.close()
  })

  it('once full, a key needs escape velocity and more mass than its victim', async () => {
    const { db } = await lab({ memory: { hotBytes: ONE, warmBytes: 1e6 } })
    await db.put('a', blob(1))
    await db.put('b', blob(2))
    db.get('a') // room: a enters with mass 1
    db.get('b') // full; b has mass 1 < escape velocity 1.5
    expect([db.physics.tier('a'), db.physics.tier('b')]).toEqual(['hot', 'warm'])
    db.get('b') // mass 2 > 1.5 and > a's 1: a leaves
    expect([db.physics.tier('a'), db.physics.tier('b')]).toEqual(['warm', 'hot'])
    db.get('a') // a: 2, b: 2 — not heavier than its victim
    expect(db.physics.tier('b')).toBe('hot')
    expect(db.metrics().counters).toMatchObject({ evictions: 1, refused: 2 })
    await db.close()
  })

  it('one long scan does not flush the hot set', async () => {
    const { db } = await lab({ memory: { hotBytes: 10 * ONE, warmBytes: 1e7 } })
    for (let i = 0; i < 1010; i++) await db.put(`k${i}`, blob(i))
    for (let r = 0; r < 5; r++) for (let i = 0; i < 10; i++) db.get(`k${i}`)
    for (let i = 10; i < 1010; i++) db.get(`k${i}`)
    for (let i = 0; i < 10; i++) expect(db.physics.tier(`k${i}`)).toBe('hot')
    // The scan only took what room was left (the budget holds 12 such values).
    expect(db.metrics().tiers!.hot.keys).toBeLessThanOrEqual(12)
    await db.close()
  })

  it('Hawking radiation: mass fades with time, so yesterday\'s hot key yields to today\'s', async () => {
    const { db, advance } = await lab({ memory: { hotBytes: ONE, warmBytes: 1e6 }, physicsOptions: { halfLifeMs: 1000 } })
    await db.put('old', blob(1))
    await db.put('new', blob(2))
    for (let i = 0; i < 50; i++) db.get('old')
    db.get('new')
    db.get('new')
    expect(db.physics.tier('new')).toBe('warm') // 2 reads against 50
    advance(10_000) // ten half-lives: 50 reads weigh 50/1024
    db.physics.tick()
    expect(db.physics.mass('old')).toBeCloseTo(50 / 1024, 2)
    db.get('new')
    db.get('new')
    expect(db.physics.tier('new')).toBe('hot')
    expect(db.physics.tier('old')).toBe('warm')
    await db.close()
  })

  it('the hot tier stays within its budget under a skewed workload, with a high hit ratio', async () => {
    const { db } = await lab({ memory: { hotBytes: 50 * ONE, warmBytes: 1e7 } })
    for (let i = 0; i < 1000; i++) await db.put(`k${i}`, blob(i))
    let x = 1
    for (let n = 0; n < 20_000; n++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff
      const r = x / 0x7fffffff
      // ~80% of reads on the first 50 keys
      const k = r < 0.8 ? Math.floor(r * 62.5) : 50 + Math.floor((r - 0.8) * 4750)
      db.get(`k${k}`)
    }
    const m = db.metrics()
    expect(m.tiers!.hot.bytes).toBeLessThanOrEqual(50 * ONE)
    expect(m.hotHitRatio).toBeGreaterThan(0.7)
    await db.close()
  })
})
