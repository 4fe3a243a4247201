import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Database, HistoryEntry } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

async function all<V>(it: AsyncIterable<HistoryEntry<V>>): Promise<HistoryEntry<V>[]> {
  const out: HistoryEntry<V>[] = []
  for await (const e of it) out.push(e)
  return out
}

describe.each(['sync', 'buffered', 'memory'] as const)('time travel (%s)', (durability) => {
  it('answers getAt by seq and by time, and lists history both ways', async () => {
    const db = await open({ dir: tmpDir(), durability })
    // In memory mode history starts when it is first used.
    if (durability === 'memory') await db.history('warm-up')[Symbol.asyncIterator]().next()
    const t0 = Date.now()
    await db.put('k', 'v1') // 1
    await db.put('other', 1) // 2
    await db.batch([
      { type: 'put', key: 'k', value: { v: 2 } },
      { type: 'put', key: 'x', value: 0 },
    ]) // 3
    await new Promise((r) => setTimeout(r, 5))
    const tMid = Date.now()
    await new Promise((r) => setTimeout(r, 5))
    await db.delete('k') // 4
    await db.put('k', 'v3') // 5
    expect(await db.getAt('k', { seq: 0 })).toBeUndefined()
    expect(await db.getAt('k', { seq: 1 })).toBe('v1')
    expect(await db.getAt('k', { seq: 2 })).toBe('v1')
    expect(await db.getAt('k', { seq: 3 })).toEqual({ v: 2 })
    expect(await db.getAt('k', { seq: 4 })).toBeUndefined()
    expect(await db.getAt('k', { seq: 99 })).toBe('v3')
    expect(await db.getAt('k', { time: t0 - 1 })).toBeUndefined()
    expect(await db.getAt('k', { time: new Date(tMid) })).toEqual({ v: 2 })
    const h = await all(db.history('k'))
    expect(h.map((e) => [e.seq, e.type, e.value])).toEqual([
      [1, 'put', 'v1'],
      [3, 'put', { v: 2 }],
      [4, 'del', undefined],
      [5, 'put', 'v3'],
    ])
    const rev = await all(db.history('k', { reverse: true, limit: 2 }))
    expect(rev.map((e) => e.seq)).toEqual([5, 4])
    const ranged = await all(db.history('k', { from: 2, to: 4 }))
    expect(ranged.map((e) => e.seq)).toEqual([3, 4])
    await db.close()
  })
})

describe('time travel across restarts and retention', () => {
  it('rebuilds its index from the log after a restart', async () => {
    const dir = tmpDir()
    let db: Database = await open({ dir, durability: 'sync', segmentBytes: 512, walFormat: 'json' })
    for (let i = 1; i <= 30; i++) await db.put(`k${i % 3}`, i)
    await db.close()
    db = await open({ dir, durability: 'sync', segmentBytes: 512 })
    for (let i = 31; i <= 40; i++) await db.put(`k${i % 3}`, i)
    for (let s = 1; s <= 40; s++) {
      const lastWrite = [...Array(s).keys()].map((i) => i + 1).filter((i) => i % 3 === 1).pop()
      expect(await db.getAt('k1', { seq: s })).toBe(lastWrite)
    }
    expect((await all(db.history('k2'))).length).toBe(13)
    await db.close()
  })

  it('rejects ISLAB_HISTORY_GONE outside the retained log', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync', segmentBytes: 256, checkpoint: { keep: 1 } })
    for (let i = 1; i <= 60; i++) await db.put(`k${i % 4}`, i)
    await db.checkpoint()
    await db.put('k1', 'new')
    await expect(db.getAt('k1', { seq: 2 })).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    await expect(all(db.history('k1', { from: 1 }))).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    expect(await db.getAt('k1', { seq: 61 })).toBe('new')
    await db.close()
  })
})
