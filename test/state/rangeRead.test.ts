import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { RangeOptions } from '../../src/index.js'
import { setSliceMs } from '../../src/io/timeSlice.js'
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

  // Issue 15, finding 10: the first range() sorted every key in one synchronous step, and a
  // for-await over the result ran on microtasks only. The time slice is made tiny here so the
  // turns show on a small database.
  describe('the first range of a large database', () => {
    const KEYS = 6000
    const key = (i: number): string => `k${String((i * 7919) % KEYS).padStart(5, '0')}`

    async function reopened(): Promise<Awaited<ReturnType<typeof open>>> {
      const dir = tmpDir()
      const db = await open({ dir, checkpoint: false })
      for (let i = 0; i < KEYS; i++) void db.put(key(i), i)
      await db.close()
      // Reopened: the keys are in the state's base table, as recovery loads them.
      return open({ dir, checkpoint: false })
    }

    it('lets the event loop turn while the index is built and while the result is read', async () => {
      const db = await reopened()
      const before = setSliceMs(0)
      try {
        let ticks = 0
        let reading = true
        const tick = (): void => {
          ticks++
          if (reading) setImmediate(tick)
        }
        setImmediate(tick)
        const got: string[] = []
        for await (const [k] of db.range()) got.push(k)
        reading = false
        expect(got).toHaveLength(KEYS)
        expect(got).toEqual([...got].sort())
        expect(ticks).toBeGreaterThan(3)
      } finally {
        setSliceMs(before)
        await db.close()
      }
    })

    it('sees the state as of each call while the index is still being built', async () => {
      const db = await reopened()
      const before = setSliceMs(0)
      try {
        const first = db.range({ prefix: 'k0000' })
        await db.put('k00001', 'changed')
        await db.delete('k00002')
        await db.put('k00000x', 'new')
        const second = db.range({ prefix: 'k0000' })
        // Still building: the writes above were logged for the index, not yet applied to it.
        expect((db as unknown as { state: { orderedIndex(): { ready: boolean } } }).state.orderedIndex().ready).toBe(false)
        await db.put('k00003', 'changed too')
        // The synchronous form finishes the build at once and still sees its own moment.
        const third = [...db.range({ prefix: 'k0000' }).entries()]
        const read = async (r: AsyncIterable<[string, unknown]>): Promise<[string, unknown][]> => {
          const out: [string, unknown][] = []
          for await (const kv of r) out.push(kv)
          return out
        }
        const original = Array.from({ length: 10 }, (_, d): [string, unknown] => [`k0000${d}`, -1])
        const valueOf = (k: string): number => {
          for (let i = 0; i < KEYS; i++) if (key(i) === k) return i
          return -1
        }
        for (const kv of original) kv[1] = valueOf(kv[0])
        expect(await read(first)).toEqual(original)
        const afterWrites: [string, unknown][] = original.filter(([k]) => k !== 'k00002').map(([k, v]) => [k, k === 'k00001' ? 'changed' : v])
        afterWrites.splice(1, 0, ['k00000x', 'new'])
        expect(await read(second)).toEqual(afterWrites)
        expect(third).toEqual(afterWrites.map(([k, v]) => [k, k === 'k00003' ? 'changed too' : v]))
        expect(await read(db.range({ prefix: 'k0000' }))).toEqual(third)
      } finally {
        setSliceMs(before)
        await db.close()
      }
    })
  })
})
