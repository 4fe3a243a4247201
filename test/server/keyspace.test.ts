// The write set commands use: reads see it, a failed command rolls back, one command commits as
// one put/delete or one batch. And the core invariant read-modify-write commands rely on.
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { open } from '../../src/index.js'
import type { Database } from '../../src/index.js'
import { Keyspace } from '../../src/server/keyspace.js'

let db: Database
beforeEach(async () => {
  db = await open({ durability: 'memory' })
})
afterEach(async () => {
  await db.close()
})

describe('Keyspace', () => {
  test('db.put applies to memory before it returns (INCR, APPEND and HSET read and write in one step on this)', () => {
    void db.put('k', 1)
    expect(db.get('k')).toBe(1)
    void db.batch([{ type: 'put', key: 'k', value: 2 }, { type: 'del', key: 'k' }, { type: 'put', key: 'j', value: 3 }])
    expect(db.has('k')).toBe(false)
    expect(db.get('j')).toBe(3)
  })

  test('a write set left with one key after a rollback commits that key, as one put or one delete', async () => {
    await db.put('gone', 'x')
    const ks = new Keyspace(db)
    ks.put('a', 'first')
    ks.put('a', 'second')
    const mark = ks.savepoint()
    ks.put('b', 'B')
    ks.del('gone')
    ks.rollback(mark)
    const seq = db.seq
    await ks.commit()
    expect(db.seq).toBe(seq + 1)
    expect(db.get('a')).toBe('second')
    expect(db.has('b')).toBe(false)
    expect(db.get('gone')).toBe('x')
    expect(ks.del('gone')).toBe(true)
    await ks.commit()
    expect(db.has('gone')).toBe(false)
    expect(db.seq).toBe(seq + 2)
    expect(ks.commit()).toBeUndefined()
  })

  test('reads see collected writes; commit makes one event; rollback undoes a command', async () => {
    await db.put('a', 'old')
    await db.put('gone', 'x')
    const ks = new Keyspace(db)
    ks.put('a', 'new')
    ks.put('b', 'B')
    expect(ks.del('gone')).toBe(true)
    expect(ks.del('never')).toBe(false)
    expect(ks.get('a')).toBe('new')
    expect(ks.has('gone')).toBe(false)
    expect(ks.size).toBe(2)
    expect([...ks.entries()].map(([k]) => k)).toEqual(['a', 'b'])
    const mark = ks.savepoint()
    ks.put('c', 'C')
    ks.del('a')
    ks.rollback(mark)
    expect(ks.get('a')).toBe('new')
    expect(ks.has('c')).toBe(false)
    const seq = db.seq
    await ks.commit()
    expect(db.seq).toBe(seq + 1)
    expect(db.getEntry('a')!.seq).toBe(db.getEntry('b')!.seq)
    expect(db.has('gone')).toBe(false)
    expect(ks.commit()).toBeUndefined()
  })

  test('entries merge collected writes into the index order, with after and prefix', async () => {
    for (const k of ['k1', 'k3', 'k5', 'x']) await db.put(k, k)
    const ks = new Keyspace(db)
    ks.put('k2', 'new')
    ks.del('k3')
    ks.put('k6', 'new')
    ks.put('k1', 'changed')
    expect([...ks.entries({ prefix: 'k' })]).toEqual([
      ['k1', 'changed'],
      ['k2', 'new'],
      ['k5', 'k5'],
      ['k6', 'new'],
    ])
    expect([...ks.entries({ after: 'k2' })].map(([k]) => k)).toEqual(['k5', 'k6', 'x'])
  })

  test('watched keys become ifSeq conditions: a changed one fails the commit', async () => {
    await db.put('w', 1)
    const watched = new Map([['w', db.getEntry('w')!.seq]])
    await db.put('w', 2)
    const ks = new Keyspace(db)
    ks.put('w', 3)
    await expect(ks.commit(watched)).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    expect(db.get('w')).toBe(2)
  })
})
