// Issue 16: a key written and never read cost a Map entry, a key string, an entry object and a
// view of its bytes. With physics.packWrites, a key's first write goes into the state's packed
// table instead, its first read decodes from there, and only its second read brings it into the Map.
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { blob } from './helpers.js'
import { encodeValue } from '../../src/events/valueCodec.js'

const encodedSize = (v: unknown): number => encodeValue(v).length

describe('packed writes (physics.packWrites)', () => {
  it('keeps new keys out of the Map, and their read values by row: the same frozen value, no entry', async () => {
    const db = await open({ durability: 'memory', physics: { tickMs: 100_000_000, packWrites: true } })
    for (let i = 0; i < 20; i++) await db.put(`k${i}`, blob(i))
    expect(db.metrics().tiers!.dormant.keys).toBe(20)
    expect(db.metrics().tiers!.warm.keys).toBe(0)
    const v = db.get('k3')
    expect(v).toEqual(blob(3))
    expect(Object.isFrozen(v)).toBe(true)
    // The first read decoded from the table and kept the value by row: the key is still there, hot.
    expect(db.metrics().tiers!.dormant.keys).toBe(20)
    expect(db.metrics().tiers!.hot).toEqual({ keys: 1, bytes: encodedSize(blob(3)) })
    expect(db.getEntry('k3')).toEqual({ value: blob(3), seq: 4, time: expect.any(Number) })
    expect(db.get('k3')).toBe(v)
    expect(db.metrics().tiers!.dormant.keys).toBe(20)
    expect(db.metrics().reads).toBe(3)
    expect(db.metrics().hits).toMatchObject({ hot: 2, warm: 1 })
    // Asking for its mass brings it into the Map, credited with the reads served by row.
    expect(db.physics.mass('k3')).toBeCloseTo(3, 5)
    expect(db.metrics().tiers!.dormant.keys).toBe(19)
    expect(db.metrics().tiers!.hot.keys).toBe(0)
    expect(db.get('k3')).toEqual(blob(3))
    await db.close()
  })

  it('drops a kept row value when its key is rewritten or deleted', async () => {
    const db = await open({ durability: 'memory', physics: { tickMs: 100_000_000, packWrites: true } })
    for (let i = 0; i < 10; i++) await db.put(`k${i}`, blob(i))
    for (let i = 0; i < 10; i++) db.get(`k${i}`)
    expect(db.metrics().tiers!.hot.keys).toBe(10)
    await db.put('k1', 'new')
    await db.delete('k2')
    await db.batch([{ type: 'put', key: 'k3', value: 'b' }, { type: 'del', key: 'k4' }])
    expect(db.get('k1')).toBe('new')
    expect(db.get('k2')).toBeUndefined()
    expect(db.get('k3')).toBe('b')
    expect(db.get('k4')).toBeUndefined()
    let kept = 0
    for (const i of [0, 5, 6, 7, 8, 9]) kept += encodedSize(blob(i))
    const m = db.metrics().tiers!
    // k1 and k3 are in the Map now (hot entries after their reads), the other six still by row.
    expect(m.hot.keys).toBe(8)
    expect(m.hot.bytes).toBe(kept + encodedSize('new') + encodedSize('b'))
    await db.close()
  })

  it('keeps row values within the hot budget, lightest out first, and reads stay right', async () => {
    const size = encodedSize(blob(0))
    const db = await open({ durability: 'memory', memory: { hotBytes: 10 * size, warmBytes: 0 }, physics: { tickMs: 100_000_000, packWrites: true, wormholes: false, demon: false } })
    for (let i = 0; i < 40; i++) await db.put(`k${i}`, blob(i))
    // k0..k4 read three times each: heavy. Then every key once.
    for (let r = 0; r < 3; r++) for (let i = 0; i < 5; i++) expect(db.get(`k${i}`)).toEqual(blob(i))
    for (let i = 0; i < 40; i++) expect(db.get(`k${i}`)).toEqual(blob(i))
    for (let r = 0; r < 3; r++) for (let i = 30; i < 40; i++) expect(db.get(`k${i}`)).toEqual(blob(i))
    const m = db.metrics()
    expect(m.tiers!.hot.bytes).toBeLessThanOrEqual(10 * size)
    expect(m.tiers!.hot.keys).toBeGreaterThan(0)
    expect(m.tiers!.dormant.keys).toBe(40)
    expect(m.counters!.evictions).toBeGreaterThan(0)
    // The heavy keys were read from kept values again (hot hits beyond the first read of each key).
    expect(m.hits!.hot).toBeGreaterThan(10)
    await db.close()
  })

  it('rewrites, conditional writes, deletes, range reads and checkpoints see packed keys', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: false, physics: { packWrites: true } })
    for (let i = 0; i < 30; i++) await db.put(`k${String(i).padStart(2, '0')}`, blob(i))
    await db.put('k01', 'rewritten')
    await expect(db.put('k02', 'x', { ifSeq: 1 })).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    await db.put('k02', 'conditional', { ifSeq: 3 })
    await db.delete('k03')
    expect(db.has('k03')).toBe(false)
    expect(db.size).toBe(29)
    expect(db.get('k01')).toBe('rewritten')
    expect(db.get('k02')).toBe('conditional')
    expect(db.getEntry('k04')).toMatchObject({ seq: 5, value: blob(4) })
    const keys: string[] = []
    for await (const [key] of db.range({ gte: 'k00', lt: 'k10' })) keys.push(key)
    expect(keys).toEqual(['k00', 'k01', 'k02', 'k04', 'k05', 'k06', 'k07', 'k08', 'k09'])
    // Written after the ordered index exists: into the Map, and in the index.
    await db.put('k05a', 'new')
    const after: string[] = []
    for await (const [key] of db.range({ gte: 'k05', lt: 'k06' })) after.push(key)
    expect(after).toEqual(['k05', 'k05a'])
    await db.checkpoint()
    await db.close()
    db = await open({ dir, physics: false })
    expect(db.size).toBe(30)
    expect(db.get('k29')).toEqual(blob(29))
    expect(db.get('k01')).toBe('rewritten')
    await db.close()
  })

  it('values kept by row and hot entries compete for one hot budget: the heavier wins either way', async () => {
    const size = encodedSize(blob(0))
    const opts = { durability: 'memory' as const, memory: { hotBytes: 5 * size, warmBytes: 100 * size }, physics: { tickMs: 100_000_000, wormholes: false, demon: false } }
    let db = await open(opts)
    for (let i = 0; i < 10; i++) await db.put(`k${i}`, blob(i))
    for (let i = 0; i < 5; i++) db.get(`k${i}`)
    expect(db.metrics().tiers!.hot).toEqual({ keys: 5, bytes: 5 * size })
    // k9 rewritten: an entry in the Map. Its second read gives it escape velocity and more mass
    // than the rows kept with one read each: one of them makes room.
    await db.put('k9', blob(9))
    db.get('k9')
    expect(db.physics.tier('k9')).toBe('warm')
    db.get('k9')
    expect(db.physics.tier('k9')).toBe('hot')
    expect(db.metrics().tiers!.hot).toEqual({ keys: 5, bytes: 5 * size })
    await db.close()

    db = await open(opts)
    for (let i = 0; i < 10; i++) await db.put(`k${i}`, blob(i))
    // Five hot entries read once each (rewritten keys are entries).
    for (let i = 0; i < 5; i++) await db.put(`k${i}`, blob(i))
    for (let i = 0; i < 5; i++) db.get(`k${i}`)
    expect(db.metrics().tiers!.hot.keys).toBe(5)
    const evictions = db.metrics().counters!.evictions
    // k7 stays in the base: its second read keeps its value by row in place of a lighter entry.
    db.get('k7')
    expect(db.metrics().counters!.evictions).toBe(evictions)
    db.get('k7')
    expect(db.metrics().counters!.evictions).toBe(evictions + 1)
    expect(db.metrics().tiers!.hot).toEqual({ keys: 5, bytes: 5 * size })
    expect(db.metrics().tiers!.dormant.keys).toBe(5)
    expect(db.get('k7')).toEqual(blob(7))
    await db.close()
  })

  it('saves the masses of keys read by row in a checkpoint: they come back after a restart', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: false, physics: { tickMs: 100_000_000 } })
    for (let i = 0; i < 10; i++) await db.put(`k${i}`, blob(i))
    for (let r = 0; r < 3; r++) db.get('k4')
    db.get('k5')
    expect(db.metrics().tiers!.dormant.keys).toBe(10)
    await db.checkpoint()
    await db.close()
    db = await open({ dir, checkpoint: false, physics: { tickMs: 100_000_000 } })
    expect(db.physics.mass('k4')).toBeCloseTo(3, 5)
    expect(db.physics.mass('k5')).toBeCloseTo(1, 5)
    expect(db.physics.mass('k6')).toBe(0)
    await db.close()
  })

  it('is on by default; off, writes make warm entries in the Map', async () => {
    let db = await open({ durability: 'memory', physics: { tickMs: 100_000_000 } })
    for (let i = 0; i < 5; i++) await db.put(`k${i}`, blob(i))
    expect(db.metrics().tiers!.dormant.keys).toBe(5)
    expect(db.metrics().tiers!.warm.keys).toBe(0)
    await db.close()
    db = await open({ durability: 'memory', physics: { tickMs: 100_000_000, packWrites: false } })
    for (let i = 0; i < 5; i++) await db.put(`k${i}`, blob(i))
    expect(db.metrics().tiers!.dormant.keys).toBe(0)
    expect(db.metrics().tiers!.warm.keys).toBe(5)
    await db.close()
  })
})

describe('reads of keys recovery loaded', () => {
  it('keep their values by row (default), or move the key into the Map at its second read (packWrites: false)', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: false })
    for (let i = 0; i < 10; i++) await db.put(`k${i}`, blob(i))
    await db.checkpoint()
    await db.close()
    db = await open({ dir, checkpoint: false, physics: { tickMs: 100_000_000 } })
    expect(db.metrics().tiers!.dormant.keys).toBe(10)
    const v = db.get('k1')
    expect(v).toEqual(blob(1))
    expect(db.get('k1')).toBe(v)
    expect(db.metrics().tiers!.dormant.keys).toBe(10)
    expect(db.metrics().tiers!.hot.keys).toBe(1)
    await db.close()
    db = await open({ dir, checkpoint: false, physics: { tickMs: 100_000_000, packWrites: false } })
    expect(db.metrics().tiers!.dormant.keys).toBe(10)
    expect(db.get('k1')).toEqual(blob(1))
    expect(db.getEntry('k2')).toMatchObject({ value: blob(2), seq: 3 })
    expect(db.metrics().tiers!.dormant.keys).toBe(10)
    expect(db.get('k1')).toEqual(blob(1))
    expect(db.metrics().tiers!.dormant.keys).toBe(9)
    expect(db.physics.mass('k1')).toBeCloseTo(2, 5)
    expect(db.physics.mass('k2')).toBeCloseTo(1, 5)
    await db.close()
  })
})
