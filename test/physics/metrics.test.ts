import { firstValueFrom, take, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { blob, lab } from './helpers.js'

describe('metrics', () => {
  it('reports tiers, budget, hit ratios, counters, entanglement, wormholes and entropy', async () => {
    const { db } = await lab({ memory: { hotBytes: 1000, warmBytes: 1000 }, entanglement: [{ from: 'a*', to: 'b*' }] })
    for (let i = 0; i < 50; i++) await db.put(`a${i}`, blob(i))
    await db.entangle('a1', ['a2'])
    for (let r = 0; r < 4; r++) for (let i = 0; i < 5; i++) db.get(`a${i}`)
    db.physics.settle()
    const m = db.metrics()
    expect(m).toMatchObject({
      physics: true,
      keys: 50,
      entanglement: { keys: 1, links: 1, rules: 1 },
      wormholes: 0,
      budget: { hotBytes: 1000, warmBytes: 1000 },
      reads: 20,
      escapeVelocity: 1.5,
      halfLifeMs: 60_000,
    })
    expect(m.tiers!.hot.keys + m.tiers!.warm.keys + m.tiers!.cold.keys).toBe(50)
    expect(m.tiers!.hot.bytes).toBeLessThanOrEqual(1000)
    expect(m.tiers!.warm.bytes).toBeLessThanOrEqual(1000)
    expect(m.hits!.hot + m.hits!.warm + m.hits!.cold).toBe(20)
    expect(m.hotHitRatio).toBeCloseTo(m.hits!.hot / 20, 10)
    expect(m.counters!.demotions).toBeGreaterThan(0)
    expect(m.entropy!.reads).toBe(20)
    await db.close()
  })

  it('metrics$ emits now and then every second', async () => {
    const db = await open({ durability: 'memory' })
    await db.put('k', 1)
    const first = await firstValueFrom(db.metrics$)
    expect(first).toMatchObject({ physics: true, keys: 1 })
    const two = await firstValueFrom(db.metrics$.pipe(take(2), toArray()))
    expect(two).toHaveLength(2)
    await db.close()
  }, 10_000)
})
