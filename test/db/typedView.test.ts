import { describe, expect, it } from 'vitest'
import { open, TypedView } from '../../src/index.js'
import type { Change } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

interface User {
  name: string
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('db.typed<T>(prefix)', () => {
  it('reads and writes the keys under its prefix, with whole keys, through the same database', async () => {
    const db = await open({ dir: tmpDir(), physics: false, checkpoint: false })
    const users = db.typed<User>('user:')
    expect(users).toBeInstanceOf(TypedView)
    await users.put('user:ada', { name: 'Ada' })
    await db.put('order:1', { total: 3 })
    await db.put('users', 'not under user:')
    const { seq } = await users.batch([
      { type: 'put', key: 'user:bob', value: { name: 'Bob' } },
      { type: 'del', key: 'user:ada' },
    ])
    expect(users.get('user:bob')).toEqual({ name: 'Bob' })
    expect(db.get('user:bob')).toEqual({ name: 'Bob' })
    expect(users.getEntry('user:bob')?.seq).toBe(seq)
    expect([users.has('user:ada'), users.has('user:bob')]).toEqual([false, true])
    await expect(users.getAt('user:ada', { seq: 1 })).resolves.toEqual({ name: 'Ada' })
    expect((await collect(users.history('user:ada'))).map((h) => h.type)).toEqual(['put', 'del'])
    expect(await collect(users.range())).toEqual([['user:bob', { name: 'Bob' }]])
    expect(await collect(users.range({ prefix: 'user:b', limit: 5 }))).toEqual([['user:bob', { name: 'Bob' }]])
    await users.delete('user:bob')
    expect(db.has('user:bob')).toBe(false)
    await db.close()
  })

  it('refuses keys and prefixes outside its prefix, writing nothing', async () => {
    const db = await open({ dir: tmpDir(), physics: false, checkpoint: false })
    const users = db.typed<User>('user:')
    const outside = { code: 'ISLAB_INVALID_KEY', message: expect.stringMatching(/"order:1" is outside this view's prefix "user:"/) }
    await expect(users.put('order:1', { name: 'x' })).rejects.toMatchObject(outside)
    await expect(users.delete('order:1')).rejects.toMatchObject(outside)
    await expect(users.batch([{ type: 'put', key: 'user:a', value: { name: 'a' } }, { type: 'del', key: 'order:1' }])).rejects.toMatchObject(outside)
    await expect(users.getAt('order:1', { seq: 0 })).rejects.toMatchObject(outside)
    expect(() => users.get('order:1')).toThrow(expect.objectContaining(outside))
    expect(() => users.getEntry('order:1')).toThrow(expect.objectContaining(outside))
    expect(() => users.has('order:1')).toThrow(expect.objectContaining(outside))
    expect(() => users.history('order:1')).toThrow(expect.objectContaining(outside))
    expect(() => users.changes({ keys: ['user:a', 'order:1'] })).toThrow(expect.objectContaining(outside))
    expect(() => users.range({ prefix: 'order:' })).toThrow(/range: prefix "order:" is not under this view's prefix "user:"/)
    expect(() => users.changes({ prefix: 'use' })).toThrow(/changes: prefix "use" is not under this view's prefix "user:"/)
    expect(() => db.typed<User>(3 as never)).toThrow(expect.objectContaining({ code: 'ISLAB_INVALID_OPTION' }))
    // Keys that are no string get the database's own error.
    expect(() => users.get(7 as never)).toThrow(expect.objectContaining({ code: 'ISLAB_INVALID_KEY' }))
    expect(db.seq).toBe(0)
    await db.close()
  })

  it('streams the changes of keys under its prefix only', async () => {
    const db = await open({ dir: tmpDir(), physics: false, checkpoint: false })
    const users = db.typed<User>('user:')
    const seen: Change<User>[] = []
    const sub = users.changes({ since: 0 }).subscribe((c) => seen.push(c))
    await db.put('order:1', { total: 1 })
    await users.put('user:ada', { name: 'Ada' })
    await db.batch([
      { type: 'put', key: 'user:bob', value: { name: 'Bob' } },
      { type: 'put', key: 'order:2', value: { total: 2 } },
    ])
    await db.flush()
    await expect.poll(() => seen.length).toBe(2)
    sub.unsubscribe()
    expect(seen.map((c) => [c.key, c.value])).toEqual([
      ['user:ada', { name: 'Ada' }],
      ['user:bob', { name: 'Bob' }],
    ])
    const keyed = await collect(users.changes({ since: 0, keys: new Set(['user:bob']), live: false }))
    expect(keyed.map((c) => c.key)).toEqual(['user:bob'])
    await db.close()
  })
})
