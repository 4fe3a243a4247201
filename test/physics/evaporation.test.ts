import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { blob, lab } from './helpers.js'

describe('evaporation (Hawking radiation)', () => {
  it('moves cold keys lighter than one read out of the Map; reads bring them back with the same values', async () => {
    const { db } = await lab({ memory: { hotBytes: 1000, warmBytes: 1000 }, physicsOptions: { evaporateBelow: 1 } })
    for (let i = 0; i < 200; i++) await db.put(`k${i}`, blob(i))
    // Two keys are read: they have mass and stay in the Map.
    for (let r = 0; r < 3; r++) {
      db.get('k1')
      db.get('k2')
    }
    db.physics.settle()
    const m = db.metrics()
    expect(m.counters!.evaporated).toBeGreaterThan(150)
    expect(m.tiers!.dormant.keys).toBe(m.counters!.evaporated)
    expect(m.tiers!.dormant.bytes).toBeGreaterThan(150 * 90)
    expect(db.size).toBe(200)
    expect(db.physics.mass('k1')).toBeGreaterThan(1)
    for (let i = 0; i < 200; i++) expect(db.get(`k${i}`)).toEqual(blob(i))
    // Read, every key is back in the Map.
    expect(db.metrics().tiers!.dormant.keys).toBe(0)
    await db.close()
  })

  it('writes, conditional writes and deletes of evaporated keys act on their current version', async () => {
    const { db } = await lab({ memory: { hotBytes: 0, warmBytes: 0 }, physicsOptions: { evaporateBelow: 1 } })
    for (let i = 0; i < 50; i++) await db.put(`k${i}`, blob(i))
    db.physics.settle()
    expect(db.metrics().tiers!.dormant.keys).toBe(50)
    const seq7 = (await db.put('k7', 'x', { ifSeq: 8 })).seq
    expect(db.get('k7')).toBe('x')
    await expect(db.put('k8', 'y', { ifSeq: 1 })).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    await db.delete('k9')
    expect(db.has('k9')).toBe(false)
    expect(db.has('k10')).toBe(true)
    expect(db.size).toBe(49)
    expect(db.getEntry('k11')).toMatchObject({ seq: 12, value: blob(11) })
    expect(seq7).toBe(51)
    await db.close()
  })

  it('checkpoints write evaporated keys as their original bytes, and a reopen reads them back', async () => {
    const dir = tmpDir()
    let db = await open({ dir, memory: { hotBytes: 0, warmBytes: 0 }, physics: { tickMs: 100_000_000, evaporateBelow: 1 } })
    for (let i = 0; i < 300; i++) await db.put(`k${i}`, blob(i, 120 + (i % 7) * 40))
    db.physics.settle()
    expect(db.metrics().tiers!.dormant.keys).toBeGreaterThan(250)
    await db.checkpoint()
    await db.close()
    db = await open({ dir, physics: false })
    expect(db.stats().recovery!.eventsReplayed).toBe(0)
    for (let i = 0; i < 300; i++) expect(db.get(`k${i}`)).toEqual(blob(i, 120 + (i % 7) * 40))
    await db.close()
  })

  it('is off with evaporateBelow: false', async () => {
    const { db } = await lab({ memory: { hotBytes: 0, warmBytes: 0 }, physicsOptions: { evaporateBelow: false } })
    for (let i = 0; i < 50; i++) await db.put(`k${i}`, blob(i))
    db.physics.settle()
    expect(db.metrics().tiers!.dormant.keys).toBe(0)
    expect(db.metrics().tiers!.cold.keys).toBe(50)
    await db.close()
  })
})
