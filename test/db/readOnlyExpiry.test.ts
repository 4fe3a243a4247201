// Deadlines on a database that writes nothing of its own: a read-only open hides versions past
// their deadline, and learns of their expiry only from the writer's log (its own expiry events
// would fork it from the log it follows).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { open } from '../../src/index.js'
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

  it('a deadline written after the follower opened is followed too (the follower applied puts without it)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', expiry: { sweepIntervalMs: 3_600_000 } })
    await w.put('b', 'kept')
    const ro = await open({ dir, readOnly: true, followMs: false })
    try {
      await w.put('a', 'soon', { ttlMs: 60_000 })
      await w.batch([{ type: 'put', key: 'c', value: 1, ttlMs: 60_000 }])
      await ro.refresh()
      expect(ro.getEntry('a')?.expiresAt).toBe(w.getEntry('a')?.expiresAt)
      expect(ro.getEntry('c')?.expiresAt).toBe(w.getEntry('c')?.expiresAt)
      vi.setSystemTime(Date.now() + 120_000)
      expect(ro.get('a')).toBeUndefined()
      expect(ro.get('c')).toBeUndefined()
      expect(ro.get('b')).toBe('kept')
    } finally {
      await ro.close()
      await w.close()
    }
  })
})
