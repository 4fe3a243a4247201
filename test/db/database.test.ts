import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Database, Durability } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

const modes: Durability[] = ['sync', 'buffered', 'memory']

async function reopen(db: Database): Promise<Database> {
  await db.close()
  return open(db.options)
}

describe.each(modes)('Database (%s)', (durability) => {
  const openDb = () => open({ dir: tmpDir(), durability })

  it('puts, gets, deletes and counts', async () => {
    const db = await openDb()
    expect(db.seq).toBe(0)
    expect(await db.put('a', { n: 1 })).toEqual({ seq: 1 })
    expect(await db.put('b', 'two')).toEqual({ seq: 2 })
    expect(db.get('a')).toEqual({ n: 1 })
    expect(db.has('b')).toBe(true)
    expect(db.size).toBe(2)
    expect(await db.delete('a')).toEqual({ seq: 3 })
    expect(db.get('a')).toBeUndefined()
    expect(db.has('a')).toBe(false)
    expect(db.getEntry('b')).toMatchObject({ value: 'two', seq: 2 })
    expect(db.seq).toBe(3)
    await db.close()
  })

  it('applies a batch atomically under one seq', async () => {
    const db = await openDb()
    await db.put('x', 1)
    const { seq } = await db.batch([
      { type: 'put', key: 'y', value: 2 },
      { type: 'del', key: 'x' },
      { type: 'put', key: 'z', value: 3 },
    ])
    expect(seq).toBe(2)
    expect([db.get('x'), db.get('y'), db.get('z')]).toEqual([undefined, 2, 3])
    expect(db.getEntry('z')!.seq).toBe(2)
    await expect(
      db.batch([
        { type: 'put', key: 'w', value: 4 },
        { type: 'put', key: 'y', value: 5, ifSeq: 1 },
      ]),
    ).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    expect(db.has('w')).toBe(false)
    expect(db.get('y')).toBe(2)
    expect(db.seq).toBe(2)
    await db.close()
  })

  it('enforces ifSeq: 0 means absent, otherwise the current seq', async () => {
    const db = await openDb()
    await db.put('k', 'v1', { ifSeq: 0 })
    const err = await db.put('k', 'again', { ifSeq: 0 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CONFLICT', name: 'ConflictError', expectedSeq: 0, actualSeq: 1 })
    await db.put('k', 'v2', { ifSeq: 1 })
    await expect(db.delete('k', { ifSeq: 1 })).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    await db.delete('k', { ifSeq: 2 })
    expect(db.has('k')).toBe(false)
    expect(db.seq).toBe(3)
    await db.close()
  })

  it('isolates stored values from the caller’s objects and from readers', async () => {
    const db = await openDb()
    const v = { list: [1, 2], inner: { a: 1 } }
    await db.put('k', v)
    v.list.push(3)
    v.inner.a = 99
    expect(db.get('k')).toEqual({ list: [1, 2], inner: { a: 1 } })
    const got = db.get('k') as { list: number[]; inner: { a: number } }
    expect(() => got.list.push(4)).toThrow(TypeError)
    expect(() => {
      got.inner.a = 5
    }).toThrow(TypeError)
    await db.put('d', { when: new Date(1000), m: new Map([['x', 1]]) })
    const d = db.get('d') as { when: Date; m: Map<string, number> }
    d.when.setTime(0)
    d.m.set('x', 2)
    await db.put('b', { bytes: Buffer.from('abc') })
    ;(db.get('b') as { bytes: Buffer }).bytes[0] = 0x7a
    expect(db.get('b')).toEqual({ bytes: Buffer.from('abc') })
    expect(db.get('d')).toEqual({ when: new Date(1000), m: new Map([['x', 1]]) })
    await db.close()
  })

  it('rejects bad input with typed codes and leaves no trace', async () => {
    const db = await openDb()
    await db.put('keep', 1)
    const circular: Record<string, unknown> = {}
    circular.me = circular
    const bad: [() => Promise<unknown>, string][] = [
      [() => db.put('', 1), 'ISLAB_INVALID_KEY'],
      [() => db.put(42 as unknown as string, 1), 'ISLAB_INVALID_KEY'],
      [() => db.put('k'.repeat(70000), 1), 'ISLAB_INVALID_KEY'],
      [() => db.put('\ud800', 1), 'ISLAB_INVALID_KEY'],
      [() => db.put('f', () => 1), 'ISLAB_UNSERIALIZABLE'],
      [() => db.put('s', Symbol('x')), 'ISLAB_UNSERIALIZABLE'],
      [() => db.put('c', circular), 'ISLAB_UNSERIALIZABLE'],
      [() => db.put('u', undefined), 'ISLAB_UNSERIALIZABLE'],
      [() => db.put('p', JSON.parse('{"__proto__":{"x":1},"a":2}')), 'ISLAB_UNSERIALIZABLE'],
      [() => db.put('i', 1, { ifSeq: -1 }), 'ISLAB_INVALID_OPTION'],
      [() => db.batch([]), 'ISLAB_INVALID_BATCH'],
      [() => db.batch('nope' as never), 'ISLAB_INVALID_BATCH'],
      [() => db.batch([{ type: 'put', key: 'ok', value: 1 }, { type: 'upsert', key: 'x' } as never]), 'ISLAB_INVALID_BATCH'],
      [() => db.batch([{ type: 'put', key: 'ok', value: 1 }, { type: 'put', key: 'x', value: () => 1 }]), 'ISLAB_UNSERIALIZABLE'],
      [() => db.delete(''), 'ISLAB_INVALID_KEY'],
    ]
    for (const [call, code] of bad) await expect(call()).rejects.toMatchObject({ code })
    expect(db.seq).toBe(1)
    expect(db.size).toBe(1)
    expect(() => db.get(null as unknown as string)).toThrow(expect.objectContaining({ code: 'ISLAB_INVALID_KEY' }))
    const db2 = await reopen(db)
    expect(db2.seq).toBe(durability === 'memory' ? 0 : 1)
    expect(db2.has('ok')).toBe(false)
    await db2.close()
  })

  it('refuses operations after close', async () => {
    const db = await openDb()
    await db.put('a', 1)
    await db.close()
    await db.close()
    await expect(db.put('a', 2)).rejects.toMatchObject({ code: 'ISLAB_CLOSED' })
    await expect(db.delete('a')).rejects.toMatchObject({ code: 'ISLAB_CLOSED' })
    await expect(db.batch([{ type: 'del', key: 'a' }])).rejects.toMatchObject({ code: 'ISLAB_CLOSED' })
    await expect(db.flush()).rejects.toMatchObject({ code: 'ISLAB_CLOSED' })
    expect(() => db.get('a')).toThrow(expect.objectContaining({ code: 'ISLAB_CLOSED' }))
  })
})

describe.each(['sync', 'buffered'] as const)('persistence (%s)', (durability) => {
  it('brings state and seq back after reopen, and continues the sequence', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability })
    await db.put('a', { x: 1n })
    await db.batch([
      { type: 'put', key: 'b', value: new Date(7) },
      { type: 'put', key: 'c', value: Buffer.from('c') },
    ])
    await db.delete('a')
    db = await reopen(db)
    expect(db.seq).toBe(3)
    expect(db.get('a')).toBeUndefined()
    expect(db.get('b')).toEqual(new Date(7))
    expect(db.get('c')).toEqual(Buffer.from('c'))
    expect(db.stats().recovery).toMatchObject({ eventsReplayed: 3, tornBytesTruncated: 0 })
    expect((await db.put('d', 4)).seq).toBe(4)
    await db.close()
  })

  it('rotates segments at segmentBytes and replays across them', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability, segmentBytes: 4096 })
    for (let i = 0; i < 300; i++) await db.put(`key:${i % 50}`, { i, pad: 'p'.repeat(40) })
    db = await reopen(db)
    const segs = fs.readdirSync(dir).filter((n) => n.endsWith('.wal'))
    expect(segs.length).toBeGreaterThan(3)
    for (const s of segs) expect(fs.statSync(path.join(dir, s)).size).toBeLessThan(4096 + 200)
    expect(db.seq).toBe(300)
    expect(db.get('key:49')).toEqual({ i: 299, pad: 'p'.repeat(40) })
    await db.close()
  })

  it('compresses large values and reads them back', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability })
    const big = { text: 'lorem ipsum '.repeat(2000) }
    await db.put('big', big)
    db = await reopen(db)
    expect(db.get('big')).toEqual(big)
    const wal = fs.readdirSync(dir).find((n) => n.endsWith('.wal'))!
    expect(fs.statSync(path.join(dir, wal)).size).toBeLessThan(4000)
    await db.close()
  })

  it('reads a log that switches between binary and json segments', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability, walFormat: 'binary' })
    await db.put('a', 1)
    await db.close()
    db = await open({ dir, durability, walFormat: 'json' })
    await db.put('b', { when: new Date(3), n: 2n })
    await db.close()
    db = await open({ dir, durability, walFormat: 'binary' })
    await db.put('c', 3)
    db = await reopen(db)
    const segs = fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).sort()
    expect(segs).toHaveLength(3)
    const jsonLines = fs.readFileSync(path.join(dir, segs[1]!), 'utf8').trim().split('\n')
    expect(JSON.parse(jsonLines[1]!)).toMatchObject({ seq: 2, type: 'put', key: 'b', value: { n: { $bigint: '2' } } })
    expect([db.get('a'), db.get('b'), db.get('c')]).toEqual([1, { when: new Date(3), n: 2n }, 3])
    await db.close()
  })
})

describe('directory lock', () => {
  it('rejects a second open of the same directory in this process with ISLAB_LOCKED', async () => {
    const dir = tmpDir()
    const db = await open({ dir })
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_LOCKED' })
    await db.close()
    const again = await open({ dir })
    await again.close()
  })

  it('rejects an open while another live process holds the lock', async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({ pid: process.ppid }))
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_LOCKED', holderPid: process.ppid })
  })

  it('takes over a lock left by a dead process', async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({ pid: 2 ** 22 + 12345 }))
    const db = await open({ dir })
    await db.put('a', 1)
    await db.close()
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
  })
})
