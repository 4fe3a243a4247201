// Values are decoded only for the changes a stream delivers: the prefix/keys filter runs on the
// key first, for catch-up from the log and for live changes (their `prev` too).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeValue } from '../../src/events/valueCodec.js'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

vi.mock('../../src/events/valueCodec.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/events/valueCodec.js')>()
  return { ...real, decodeValue: vi.fn(real.decodeValue) }
})

const decoded = vi.mocked(decodeValue)

afterEach(() => decoded.mockClear())

describe('change filters', () => {
  it('decode no value of a change the prefix or keys filter drops, in catch-up and live', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync' })
    for (let i = 0; i < 20; i++) await db.put(`other:${i}`, { i })
    await db.batch([
      { type: 'put', key: 'other:x', value: 1 },
      { type: 'put', key: 'user:1', value: 'one' },
    ])
    decoded.mockClear()
    const caughtUp = []
    for await (const ch of db.changes({ since: 0, prefix: 'user:', live: false })) caughtUp.push(ch)
    expect(caughtUp.map((c) => [c.key, c.value])).toEqual([['user:1', 'one']])
    expect(decoded).toHaveBeenCalledTimes(1)

    decoded.mockClear()
    const live = []
    const it = db.changes({ keys: ['user:1'] })[Symbol.asyncIterator]()
    const next = it.next()
    for (let i = 0; i < 20; i++) await db.put(`other:${i}`, { again: i })
    await db.put('user:1', 'two')
    live.push((await next).value)
    await it.return!()
    // 'two' and its prev 'one': two decodes, none for the 20 others (nor their prev).
    expect(live.map((c) => [c.key, c.value, c.prev])).toEqual([['user:1', 'two', 'one']])
    expect(decoded).toHaveBeenCalledTimes(2)
    await db.close()
  })
})
