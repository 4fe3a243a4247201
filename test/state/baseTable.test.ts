// BaseTable.insert may keep a reference to the buffer a value sits in instead of copying it
// (the value encoder's current slab, issue 16): the row must read back exactly those bytes,
// whatever the view's offset in its buffer, and later values written to the same slab — or a
// value the encoder gave up on halfway — must not disturb it.
import { describe, expect, it } from 'vitest'
import { currentSlabOf, keptInSlab } from '../../src/events/plainEncoder.js'
import { decodeValue, encodeValue } from '../../src/events/valueCodec.js'
import { open } from '../../src/index.js'
import { BaseTable } from '../../src/state/baseTable.js'
import { tmpDir } from '../helpers/tmpdir.js'

describe('BaseTable.insert with a shared buffer', () => {
  it('reads back the bytes at the view, not at the start of the buffer', () => {
    // A buffer that itself starts 32 bytes into its memory, as a pooled Buffer does.
    const shared = Buffer.from(new ArrayBuffer(128), 32, 64).fill(0xee)
    const t = new BaseTable()
    const views = [shared.subarray(5, 9), shared.subarray(20, 27), shared.subarray(40, 41)]
    views.forEach((v, i) => v.fill(i + 1))
    views.forEach((v, i) => expect(t.insert(`k${i}`, i + 1, 100 + i, v, shared)).toBe(-1))
    for (let i = 0; i < views.length; i++) {
      const row = t.find(`k${i}`)
      expect(row).toBeGreaterThanOrEqual(0)
      expect(Buffer.from(t.entry(row).bytes as Uint8Array)).toEqual(Buffer.alloc(views[i]!.length, i + 1))
      expect(t.seqAt(row)).toBe(i + 1)
    }
    // A key already live is left as it is, shared or not.
    expect(t.insert('k0', 9, 9, shared.subarray(0, 2), shared)).toBe(t.find('k0'))
    expect(Buffer.from(t.entry(t.find('k0')).bytes as Uint8Array)).toEqual(Buffer.alloc(4, 1))
  })

  it('the encoder names only its current slab, which later values and given-up values leave alone', () => {
    const first = encodeValue({ a: 'x'.repeat(50) })
    expect(currentSlabOf(first)).toBeDefined()
    expect(currentSlabOf(Buffer.from(first))).toBeUndefined()
    const t = new BaseTable()
    // As MemoryState does: a value the row keeps a reference to is kept in the slab.
    const insert = (key: string, seq: number, time: number, bytes: Uint8Array): void => {
      const shared = currentSlabOf(bytes)
      if (t.insert(key, seq, time, bytes, shared) < 0 && shared !== undefined) keptInSlab(bytes)
    }
    insert('first', 1, 1, first)
    // Not plain (a Date): the encoder writes part of it, gives up, and the next value reuses that space.
    encodeValue({ b: 1, when: new Date(0) })
    const values: unknown[] = []
    for (let i = 0; i < 400; i++) {
      // ~100 bytes each: several slabs' worth, so some values start a new slab.
      const v = { id: i, name: `name ${i}`, pad: 'p'.repeat(i % 90) }
      values.push(v)
      const bytes = encodeValue(v)
      insert(`k${i}`, i + 2, i, bytes)
    }
    expect(decodeValue(t.entry(t.find('first')).bytes)).toEqual({ a: 'x'.repeat(50) })
    for (let i = 0; i < values.length; i++) expect(decodeValue(t.entry(t.find(`k${i}`)).bytes)).toEqual(values[i])
  })
})

describe('bulk puts whose values stay in the encoder slabs', () => {
  it('read back, and come back from the log and from a checkpoint, as written', { timeout: 30_000 }, async () => {
    const dir = tmpDir()
    const value = (i: number, round: number): unknown => ({ id: i, round, name: `user ${i}`, tags: ['a', 'b'], pad: 'z'.repeat(i % 120) })
    const db = await open({ dir, durability: 'buffered', checkpoint: false })
    const ps: Promise<unknown>[] = []
    const model = new Map<string, unknown>()
    const put = (key: string, v: unknown): void => {
      ps.push(db.put(key, v))
      model.set(key, v)
    }
    for (let i = 0; i < 2000; i++) {
      put(`user:${i}`, value(i, 0))
      // Values the plain encoder gives up on go through msgpackr: never shared, always copied.
      if (i % 97 === 0) put(`date:${i}`, { at: new Date(i) })
    }
    // Rewrites of some keys (they move to the Map) and deletes of others.
    for (let i = 0; i < 2000; i += 7) put(`user:${i}`, value(i, 1))
    for (let i = 3; i < 2000; i += 11) {
      ps.push(db.delete(`user:${i}`))
      model.delete(`user:${i}`)
    }
    await Promise.all(ps)
    const check = (d: typeof db): void => {
      for (let i = 0; i < 2000; i++) expect(d.get(`user:${i}`)).toEqual(model.get(`user:${i}`))
      for (const [k, v] of model) expect(d.get(k)).toEqual(v)
      expect(d.stats().keys).toBe(model.size)
    }
    check(db)
    await db.close()
    const replayed = await open({ dir, durability: 'buffered', checkpoint: false })
    check(replayed)
    await replayed.checkpoint()
    await replayed.close()
    const loaded = await open({ dir, durability: 'buffered', checkpoint: false })
    expect(loaded.stats().recovery?.checkpointSeq).toBeGreaterThan(0)
    check(loaded)
    await loaded.close()
  })
})

describe('values kept in the encoder slabs, among values that die', () => {
  it('a new key among rewrites of other keys does not keep a whole slab alive', async () => {
    const db = await open({ dir: tmpDir(), durability: 'memory', checkpoint: false })
    const hot = 1000
    for (let i = 0; i < hot; i++) void db.put(`hot:${i}`, { i, pad: 'x'.repeat(80) })
    // One new key per 100 writes; the rest rewrite hot keys, whose earlier values die.
    let added = 0
    for (let r = 0; r < 200_000; r++) {
      if (r % 100 === 0) void db.put(`new:${added++}`, { added, pad: 'y'.repeat(80) })
      else void db.put(`hot:${r % hot}`, { r, pad: 'x'.repeat(80) })
    }
    expect(db.get(`new:${added - 1}`)).toEqual({ added, pad: 'y'.repeat(80) })
    // The buffers the base rows keep alive: the new keys' ~200 KB of values and a few arenas,
    // not one 8 KiB slab per new key (16 MB: each slab mostly rewrites' dead values).
    const base = (db as unknown as { state: { base: { bufBytes: number } } }).state.base
    expect(base.bufBytes).toBeLessThan(4 * 2 ** 20)
    await db.close()
  })
})
