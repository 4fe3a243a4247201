// Review of events({ fromLog: true }): ends at close, wakes on failures, never waits forever.
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** Settles with 'timeout' when `p` does not settle within `ms` (a hang, not a timing assertion). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())])
}

describe('events({ fromLog: true }) review', () => {
  it('a caught-up live stream ends when the database closes (durableOnly true)', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 2 })
    await db.put('a', 1)
    await db.flush()
    const it = db.events({ since: 0, fromLog: true })[Symbol.asyncIterator]()
    expect((await it.next()).value?.seq).toBe(1)
    const pending = it.next()
    await new Promise((r) => setTimeout(r, 30))
    await db.close()
    const r = await within(pending, 2000)
    await it.return!()
    expect(r).not.toBe('timeout')
    expect(r).toMatchObject({ done: true })
  })

  it('a caught-up live stream ends when the database closes (durableOnly false)', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 2 })
    await db.put('a', 1)
    await db.flush()
    const it = db.events({ since: 0, fromLog: true, durableOnly: false })[Symbol.asyncIterator]()
    expect((await it.next()).value?.seq).toBe(1)
    const pending = it.next()
    await new Promise((r) => setTimeout(r, 30))
    await db.close()
    const r = await within(pending, 2000)
    await it.return!()
    expect(r).not.toBe('timeout')
    expect(r).toMatchObject({ done: true })
  })
})
