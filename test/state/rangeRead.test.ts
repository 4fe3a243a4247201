import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { RangeOptions } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

const keys = ['a', 'ab', 'abc', 'abd', 'b', 'ba', 'c', 'user:1', 'user:10', 'user:2', 'userx']

describe('range()', () => {
  it('returns keys in order within every kind of bound, forward and reverse', async () => {
    const db = await open({ durability: 'memory' })
    for (const k of [...keys].reverse()) await db.put(k, k.toUpperCase())
    const cases: [RangeOptions, string[]][] = [
      [{}, keys],
      [{ gte: 'ab', lt: 'b' }, ['ab', 'abc', 'abd']],
      [{ gt: 'ab', lte: 'b' }, ['abc', 'abd', 'b']],
      [{ prefix: 'ab' }, ['ab', 'abc', 'abd']],
      [{ prefix: 'user:' }, ['user:1', 'user:10', 'user:2']],
      [{ prefix: 'user:', gt: 'user:1' }, ['user:10', 'user:2']],
      [{ limit: 2 }, ['a', 'ab']],
      [{ prefix: 'zzz' }, []],
    ]
    for (const [opts, want] of cases) {
      const fwd: string[] = []
      for await (const [k, v] of db.range(opts)) {
        fwd.push(k)
        expect(v).toBe(k.toUpperCase())
      }
      expect(fwd).toEqual(want)
      const rev: string[] = []
      for await (const [k] of db.range({ ...opts, reverse: true, limit: undefined })) rev.push(k)
      expect(rev).toEqual((opts.limit === undefined ? want : keys).slice().reverse().filter((k) => opts.limit !== undefined || want.includes(k)))
    }
    await db.close()
  })

  it('reads a snapshot: writes after the range started are not seen', async () => {
    const db = await open({ dir: tmpDir() })
    for (let i = 0; i < 1000; i++) await db.put(`k${String(i).padStart(4, '0')}`, i)
    const seen: [string, unknown][] = []
    const it = db.range({ prefix: 'k' })[Symbol.asyncIterator]()
    seen.push((await it.next()).value)
    await db.put('k0500', 'changed')
    await db.delete('k0600')
    await db.put('k9999', 'new')
    for (let r = await it.next(); !r.done; r = await it.next()) seen.push(r.value)
    expect(seen).toHaveLength(1000)
    expect(seen[500]).toEqual(['k0500', 500])
    expect(seen[600]).toEqual(['k0600', 600])
    const now: string[] = []
    for await (const [k] of db.range({ gte: 'k0599', lte: 'k0601' })) now.push(k)
    expect(now).toEqual(['k0599', 'k0601'])
    await db.close()
  })

  it('keeps the ordered index in step with writes, recovery and toReadable()', async () => {
    const dir = tmpDir()
    let db = await open({ dir })
    await db.put('m', 1)
    for await (const _ of db.range()) void _
    await db.batch([
      { type: 'put', key: 'a', value: 2 },
      { type: 'del', key: 'm' },
      { type: 'put', key: 'z', value: 3 },
    ])
    const rows: [string, unknown][] = []
    for await (const row of db.range().toReadable()) rows.push(row as [string, unknown])
    expect(rows).toEqual([
      ['a', 2],
      ['z', 3],
    ])
    await db.close()
    db = await open({ dir })
    const after: string[] = []
    for await (const [k] of db.range()) after.push(k)
    expect(after).toEqual(['a', 'z'])
    await db.close()
  })

  it('rejects bad bounds with ISLAB_INVALID_OPTION', async () => {
    const db = await open({ durability: 'memory' })
    expect(() => db.range({ gte: 5 as unknown as string })).toThrow(expect.objectContaining({ code: 'ISLAB_INVALID_OPTION' }))
    expect(() => db.range({ limit: -1 })).toThrow(expect.objectContaining({ code: 'ISLAB_INVALID_OPTION' }))
    await db.close()
  })
})
