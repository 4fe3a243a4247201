// Deadlines on a database that writes nothing of its own: a read-only open hides versions past
// their deadline, and learns of their expiry only from the writer's log (its own expiry events
// would fork it from the log it follows).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { open } from '../../src/index.js'
import type { Change } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('expiry on a read-only database', () => {
  it('hides a version past its deadline and writes no expiry event; the writer\'s expiry arrives by the log', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', expiry: { sweepIntervalMs: 5, sweepBudgetMs: 5 } })
    await w.put('a', 'soon', { ttlMs: 60_000 })
    await w.put('b', 'kept')
    const ro = await open({ dir, readOnly: true, followMs: false })
    try {
      expect(ro.get('a')).toBe('soon')
      expect(ro.getEntry('a')?.expiresAt).toBe(w.getEntry('a')?.expiresAt)
      const seqBefore = ro.seq
      vi.setSystemTime(Date.now() + 120_000)
      expect(ro.get('a')).toBeUndefined()
      expect(ro.has('a')).toBe(false)
      expect(ro.get('b')).toBe('kept')
      // A read-only database never sequences anything of its own.
      await new Promise((r) => setTimeout(r, 20))
      expect(ro.seq).toBe(seqBefore)
      // The writer's sweeper logs the expiry; the follower applies it.
      await vi.waitFor(() => expect(w.seq).toBe(seqBefore + 1), { timeout: 5000 })
      await ro.refresh()
      expect(ro.seq).toBe(seqBefore + 1)
      expect(ro.get('a')).toBeUndefined()
    } finally {
      await ro.close()
      await w.close()
    }
  })

  it('a put with a deadline that arrives after the reader opened keeps it: getEntry shows it, reads hide the key past it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', expiry: { sweepIntervalMs: 60_000 } })
    await w.put('b', 'kept')
    const ro = await open({ dir, readOnly: true, followMs: false })
    try {
      await w.put('a', 'soon', { ttlMs: 60_000 })
      await w.batch([{ type: 'put', key: 'c', value: 'soon too', ttlMs: 60_000 }])
      await ro.refresh()
      expect(ro.seq).toBe(w.seq)
      expect(ro.getEntry('a')?.expiresAt).toBe(w.getEntry('a')!.expiresAt)
      expect(ro.getEntry('c')?.expiresAt).toBe(w.getEntry('c')!.expiresAt)
      expect(ro.get('a')).toBe('soon')
      vi.setSystemTime(Date.now() + 120_000)
      expect([ro.get('a'), ro.has('a'), ro.get('c')]).toEqual([undefined, false, undefined])
      expect(ro.get('b')).toBe('kept')
    } finally {
      await ro.close()
      await w.close()
    }
  })

  it('a live change stream on a reader gets the writer\'s expiry with expired: true, as the writer\'s own stream does', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', expiry: { sweepIntervalMs: 5 } })
    await w.put('b', 'kept')
    const ro = await open({ dir, readOnly: true, followMs: 5 })
    const got: Change[] = []
    const it = ro.changes()[Symbol.asyncIterator]()
    const reading = (async () => {
      while (got.length < 2) got.push((await it.next()).value as Change)
    })()
    try {
      await w.put('a', 'soon', { ttlMs: 30 })
      await reading
      expect(got.map((c) => [c.seq, c.type, c.key, c.expired])).toEqual([
        [2, 'put', 'a', undefined],
        [3, 'del', 'a', true],
      ])
      expect(got[0]!.expiresAt).toBe(got[0]!.time + 30)
    } finally {
      await it.return!()
      await ro.close()
      await w.close()
    }
  })
})
