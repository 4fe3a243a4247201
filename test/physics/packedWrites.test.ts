// Issue 16: a key written and never read cost a Map entry, a key string, an entry object and a
// view of its bytes. With physics.packWrites, a key's first write goes into the state's packed
// table instead, its first read decodes from there, and only its second read brings it into the Map.
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { blob } from './helpers.js'

describe('packed writes (physics.packWrites)', () => {
  it('keeps new keys out of the Map until their second read, and reads them the same', async () => {
    const db = await open({ durability: 'memory', physics: { tickMs: 100_000_000, packWrites: true } })
    for (let i = 0; i < 20; i++) await db.put(`k${i}`, blob(i))
    expect(db.metrics().tiers!.dormant.keys).toBe(20)
    expect(db.metrics().tiers!.warm.keys).toBe(0)
    const v = db.get('k3')
    expect(v).toEqual(blob(3))
    expect(Object.isFrozen(v)).toBe(true)
    // The first read decoded from the table: the key is still there.
    expect(db.metrics().tiers!.dormant.keys).toBe(20)
    expect(db.getEntry('k3')).toEqual({ value: blob(3), seq: 4, time: expect.any(Number) })
    // The second read moved it into the Map, with the mass of both reads.
    expect(db.metrics().tiers!.dormant.keys).toBe(19)
    expect(db.physics.mass('k3')).toBeCloseTo(2, 5)
    expect(db.get('k3')).toEqual(blob(3))
    expect(db.metrics().reads).toBe(3)
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

  it('is off by default: writes make warm entries in the Map', async () => {
    const db = await open({ durability: 'memory', physics: { tickMs: 100_000_000 } })
    for (let i = 0; i < 5; i++) await db.put(`k${i}`, blob(i))
    expect(db.metrics().tiers!.dormant.keys).toBe(0)
    expect(db.metrics().tiers!.warm.keys).toBe(5)
    await db.close()
  })
})

describe('reads of keys recovery loaded', () => {
  it('decode the first read from the packed table and move the key into the Map at its second read', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: false })
    for (let i = 0; i < 10; i++) await db.put(`k${i}`, blob(i))
    await db.checkpoint()
    await db.close()
    db = await open({ dir, checkpoint: false, physics: { tickMs: 100_000_000 } })
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
