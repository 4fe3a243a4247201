import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { blob, lab } from './helpers.js'

describe('spacetime tiers', () => {
  it('a write is born warm, a read makes it hot while the hot tier has room', async () => {
    const { db } = await lab()
    await db.put('k', { a: 1 })
    expect(db.physics.tier('k')).toBe('warm')
    expect(db.get('k')).toEqual({ a: 1 })
    expect(db.physics.tier('k')).toBe('hot')
    expect(Object.isFrozen(db.get('k'))).toBe(true)
    expect(db.metrics()).toMatchObject({ reads: 2, hits: { hot: 1, warm: 1, cold: 0 }, tiers: { hot: { keys: 1 } } })
    await db.close()
  })

  it('keeps the warm tier within its budget by compressing the lightest keys, and reads return the same values', async () => {
    const { db } = await lab({ memory: { hotBytes: 0, warmBytes: 2000 } })
    for (let i = 0; i < 100; i++) await db.put(`k${i}`, blob(i))
    // Keys 0-9 are read, so they have mass; the rest are massless.
    for (let r = 0; r < 3; r++) for (let i = 0; i < 10; i++) db.get(`k${i}`)
    db.physics.settle()
    const m = db.metrics()
    expect(m.tiers!.warm.bytes).toBeLessThanOrEqual(2000)
    expect(m.tiers!.cold.keys).toBeGreaterThan(70)
    expect(m.tiers!.warm.keys + m.tiers!.cold.keys).toBe(100)
    // Victims are the lightest of small samples: the keys that were read mostly stay warm.
    const warm = Array.from({ length: 10 }, (_, i) => db.physics.tier(`k${i}`)).filter((t) => t === 'warm').length
    expect(warm).toBeGreaterThanOrEqual(8)
    for (let i = 0; i < 100; i++) expect(db.get(`k${i}`)).toEqual(blob(i))
    expect(db.getEntry('k50')).toMatchObject({ value: blob(50), seq: 51 })
    expect(db.metrics().hits!.cold).toBeGreaterThan(0)
    await db.close()
  })

  it('compresses with a dictionary: cold values take less than their encoded size', async () => {
    const { db } = await lab({ memory: { hotBytes: 0, warmBytes: 0 } })
    let encoded = 0
    for (let i = 0; i < 500; i++) {
      const v = { id: i, name: `user ${i}`, email: `user${i}@example.com`, plan: i % 3 ? 'free' : 'pro', tags: ['alpha', 'beta'] }
      await db.put(`user:${i}`, v)
    }
    encoded = db.stats().valueBytes
    db.physics.settle()
    const m = db.metrics()
    expect(m.tiers!.cold.keys).toBe(500)
    expect(m.tiers!.cold.bytes).toBeLessThan(encoded * 0.8)
    expect(db.get('user:123')).toMatchObject({ id: 123, email: 'user123@example.com' })
    await db.close()
  })

  it('a put hint places the value: hot decodes it now, cold compresses it now', async () => {
    const { db } = await lab()
    await db.put('h', { x: 1 }, { tier: 'hot' })
    await db.put('c', { y: 2 }, { tier: 'cold' })
    await db.put('w', { z: 3 }, { tier: 'warm' })
    expect([db.physics.tier('h'), db.physics.tier('c'), db.physics.tier('w')]).toEqual(['hot', 'cold', 'warm'])
    expect(db.get('c')).toEqual({ y: 2 })
    await expect(db.put('bad', 1, { tier: 'lukewarm' as never })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await db.close()
  })

  it('range reads and change streams see the same values in every tier, and range reads do not heat keys', async () => {
    const { db } = await lab({ memory: { hotBytes: 300, warmBytes: 300 } })
    for (let i = 0; i < 20; i++) await db.put(`r${String(i).padStart(2, '0')}`, blob(i, 60))
    db.physics.settle()
    const hotBefore = db.metrics().tiers!.hot.keys
    const seen = Array.from(db.range({ prefix: 'r' }).entries())
    expect(seen.map(([, v]) => v)).toEqual(Array.from({ length: 20 }, (_, i) => blob(i, 60)))
    expect(db.metrics().tiers!.hot.keys).toBe(hotBefore)
    await db.close()
  })

  it('values that cannot be frozen (Dates, Maps) stay warm and come back as fresh copies', async () => {
    const { db } = await lab()
    await db.put('d', { when: new Date(5), m: new Map([[1, 2]]) })
    const a = db.get<{ when: Date }>('d')!
    const b = db.get<{ when: Date }>('d')!
    expect(a).toEqual({ when: new Date(5), m: new Map([[1, 2]]) })
    expect(a).not.toBe(b)
    expect(db.physics.tier('d')).toBe('warm')
    await db.close()
  })

  it('writes replace cold entries and deletes remove them, keeping the byte counts exact', async () => {
    const { db } = await lab({ memory: { hotBytes: 0, warmBytes: 0 } })
    for (let i = 0; i < 50; i++) await db.put(`k${i}`, blob(i))
    db.physics.settle()
    for (let i = 0; i < 25; i++) await db.delete(`k${i}`)
    for (let i = 25; i < 50; i++) await db.put(`k${i}`, blob(i + 1000))
    db.physics.settle()
    const m = db.metrics()
    expect(m.tiers!.cold.keys).toBe(25)
    expect(m.tiers!.warm.keys + m.tiers!.hot.keys).toBe(0)
    for (let i = 25; i < 50; i++) expect(db.get(`k${i}`)).toEqual(blob(i + 1000))
    await db.close()
  })

  it('compacts slabs that writes have emptied, without changing any value', async () => {
    const { db } = await lab({ memory: { hotBytes: 0, warmBytes: 0 } })
    // Values that barely compress, so each round fills more than a 1 MiB slab.
    const big = (i: number, round: number) => {
      let x = i * 7919 + round * 104729 + 1
      let pad = ''
      for (let j = 0; j < 3000; j++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff
        pad += x.toString(36).slice(-4)
      }
      return { i, round, pad }
    }
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 60; i++) await db.put(`k${i}`, big(i, round))
      db.physics.settle()
    }
    const m = db.metrics()
    // Four rounds wrote about 3 MiB of records; a quarter of them are live, in at most two more slabs than they need.
    expect(m.tiers!.compressed.bytes).toBeGreaterThan(600_000)
    expect(m.tiers!.compressed.slabBytes).toBeLessThanOrEqual(m.tiers!.compressed.bytes + 2 * (1 << 20))
    for (let i = 0; i < 60; i++) expect(db.get(`k${i}`)).toEqual(big(i, 3))
    await db.close()
  })

  it('checkpoints write cold and hot values as their original bytes', async () => {
    const dir = tmpDir()
    let db = await open({ dir, memory: { hotBytes: 500, warmBytes: 0 }, physics: { tickMs: 100_000_000, evaporateBelow: false, packWrites: false } })
    for (let i = 0; i < 40; i++) await db.put(`k${i}`, blob(i))
    for (let i = 0; i < 3; i++) db.get('k1')
    db.physics.settle()
    expect(db.metrics().tiers!.cold.keys).toBeGreaterThan(30)
    await db.checkpoint()
    await db.close()
    db = await open({ dir, physics: false })
    for (let i = 0; i < 40; i++) expect(db.get(`k${i}`)).toEqual(blob(i))
    await db.close()
  })

  it('physics: false is the flat map: first reads cache, no tiers in metrics', async () => {
    const db = await open({ durability: 'memory', physics: false })
    await db.put('k', { a: 1 })
    expect(db.get('k')).toBe(db.get('k'))
    expect(db.physics.enabled).toBe(false)
    expect(db.physics.tier('k')).toBe('hot')
    expect(db.metrics()).toEqual({ physics: false, keys: 1, entanglement: { keys: 0, links: 0, rules: 0 }, wormholes: 0 })
    await db.close()
  })
})
