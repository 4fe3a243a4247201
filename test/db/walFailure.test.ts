import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { open } from '../../src/index.js'
import type { AppendFile, FileLayer, WalFailedError } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** The real fs, except that appends fail with `code` once armed, after writing half the bytes. */
function failingLayer(code: string): { layer: FileLayer; arm(): void } {
  let armed = false
  const layer: FileLayer = {
    ...nodeFileLayer,
    openAppend(p): AppendFile {
      const f = nodeFileLayer.openAppend(p)
      return {
        ...f,
        write: async (data) => {
          if (!armed) return f.write(data)
          await f.write(data.subarray(0, data.length >> 1))
          throw Object.assign(new Error(`${code}: simulated`), { code })
        },
        datasync: () => f.datasync(),
        truncate: (n) => f.truncate(n),
        close: () => f.close(),
      }
    },
  }
  return { layer, arm: () => (armed = true) }
}

describe('WAL write failure', () => {
  it('sync mode: rejects the affected writes, undoes them in memory, refuses more, keeps what was acknowledged', async () => {
    const dir = tmpDir()
    const { layer, arm } = failingLayer('ENOSPC')
    const db = await open({ dir, durability: 'sync', fileLayer: layer })
    await db.put('a', 1)
    await db.put('b', 2)
    arm()
    const results = await Promise.allSettled([db.put('a', 100), db.put('c', 3), db.delete('b')])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    }
    expect(db.get('a')).toBe(1)
    expect(db.get('b')).toBe(2)
    expect(db.has('c')).toBe(false)
    await expect(db.put('d', 4)).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    await db.close()
    const again = await open({ dir, durability: 'sync' })
    expect(again.seq).toBe(2)
    expect([again.get('a'), again.get('b'), again.has('c')]).toEqual([1, 2, false])
    await again.close()
  })

  it('buffered mode: flush reports the failure, later writes are refused, earlier durable data survives', async () => {
    const dir = tmpDir()
    const { layer, arm } = failingLayer('EIO')
    const db = await open({ dir, durability: 'buffered', fileLayer: layer })
    await db.put('a', 1)
    await db.flush()
    arm()
    await db.put('b', 2)
    await expect(db.flush()).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    await expect(db.put('c', 3)).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    await expect(db.close()).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED', lostFromSeq: 2, lostToSeq: 2 })
    const again = await open({ dir })
    expect(again.get('a')).toBe(1)
    expect(again.seq).toBe(1)
    await again.close()
  })

  it('buffered mode: a failed background write is told by the failure event, stats(), flush() and close(), with the lost seqs', async () => {
    const dir = tmpDir()
    const { layer, arm } = failingLayer('EIO')
    const db = await open({ dir, durability: 'buffered', fileLayer: layer, syncIntervalMs: 5 })
    await db.put('a', 1)
    await db.flush()
    arm()
    const failed = new Promise<WalFailedError>((resolve) => db.once('failure', resolve))
    // Acknowledged at once; nobody calls flush(): only the background commit (timer) writes them.
    await db.put('b', 2)
    await db.put('c', 3)
    const error = await failed
    expect(error).toMatchObject({ code: 'ISLAB_WAL_FAILED', lostFromSeq: 2, lostToSeq: 3, outcomeUnknown: false })
    expect(error.message).toMatch(/Seqs 2\.\.3 are not in the log/)
    expect(db.stats().failure).toEqual({ code: 'ISLAB_WAL_FAILED', message: error.message, lostFromSeq: 2, lostToSeq: 3, outcomeUnknown: false })
    await expect(db.flush()).rejects.toBe(error)
    await expect(db.put('d', 4)).rejects.toBe(error)
    await expect(db.close()).rejects.toBe(error)
    // close() released the lock and closed the files before rejecting.
    const again = await open({ dir })
    expect(again.seq).toBe(1)
    expect(again.has('b')).toBe(false)
    await again.close()
  })
})

/**
 * The real fs with faults at rotation: once armed, creating a segment file that did not exist
 * (`create`) or writing to one (`write`) fails with ENOSPC; with `cutBack`, so does every repair
 * the writer tries afterwards (truncate, unlink).
 */
function rotationFaults(where: 'create' | 'write' | 'records', opts: { cutBack?: boolean } = {}): { layer: FileLayer; arm(): void } {
  let armed = false
  const enospc = (): Error => Object.assign(new Error('ENOSPC: simulated'), { code: 'ENOSPC' })
  const layer: FileLayer = {
    ...nodeFileLayer,
    unlink(p) {
      if (armed && opts.cutBack === true) throw enospc()
      nodeFileLayer.unlink(p)
    },
    openAppend(p, o): AppendFile {
      // Only files created after arming: the open segment keeps working.
      const isNew = armed && !nodeFileLayer.exists(p)
      if (isNew && where === 'create') throw enospc()
      const f = nodeFileLayer.openAppend(p, o)
      let writes = 0
      return {
        write: async (data) => {
          // 'records': the new segment's header is written (and it is named in the MANIFEST), its records are not.
          if (isNew && (where === 'write' || (where === 'records' && writes > 0))) throw enospc()
          writes++
          return f.write(data)
        },
        datasync: () => f.datasync(),
        truncate: async (n) => {
          if (armed && opts.cutBack === true) throw enospc()
          return f.truncate(n)
        },
        close: () => f.close(),
      }
    },
  }
  return { layer, arm: () => (armed = true) }
}

describe('WAL failure at rotation inside a group commit (sync mode)', () => {
  for (const where of ['create', 'write', 'records'] as const) {
    it(`cuts the old segment back, so no rejected write reappears after reopen (new segment fails at ${where})`, async () => {
      const dir = tmpDir()
      const { layer, arm } = rotationFaults(where)
      const db = await open({ dir, durability: 'sync', fileLayer: layer, segmentBytes: 600, checkpoint: false })
      for (let i = 0; i < 3; i++) await db.put(`acked${i}`, i)
      arm()
      // One group: enough records to fill the open segment and start the next one.
      const settled = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => db.put(`group${i}`, 'x'.repeat(20))))
      const rejected = settled.filter((r) => r.status === 'rejected')
      expect(rejected.length).toBe(40)
      for (const r of rejected) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ISLAB_WAL_FAILED', outcomeUnknown: false })
      expect(db.has('group0')).toBe(false)
      await db.close()

      const again = await open({ dir, durability: 'sync', checkpoint: false, segmentBytes: 600 })
      expect(again.seq).toBe(3)
      for (let i = 0; i < 40; i++) expect(again.has(`group${i}`)).toBe(false)
      expect([again.get('acked0'), again.get('acked1'), again.get('acked2')]).toEqual([0, 1, 2])
      // The log goes on from there: the removed segment's name is free again.
      await Promise.all(Array.from({ length: 40 }, (_, i) => again.put(`later${i}`, 'y'.repeat(20))))
      await again.close()
      const third = await open({ dir, checkpoint: false })
      expect(third.seq).toBe(43)
      expect(third.get('later39')).toBe('y'.repeat(20))
      await third.close()
    })
  }

  it('says the outcome is unknown when the log cannot be cut back', async () => {
    const dir = tmpDir()
    const { layer, arm } = rotationFaults('create', { cutBack: true })
    const db = await open({ dir, durability: 'sync', fileLayer: layer, segmentBytes: 600, checkpoint: false })
    await db.put('a', 1)
    arm()
    const settled = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => db.put(`group${i}`, 'x'.repeat(20))))
    const reason = (settled[0] as PromiseRejectedResult).reason as WalFailedError
    expect(reason).toMatchObject({ code: 'ISLAB_WAL_FAILED', outcomeUnknown: true })
    expect(reason.message).toMatch(/outcome of its writes is unknown/)
    await expect(db.put('b', 2)).rejects.toBe(reason)
    await expect(db.close()).rejects.toBe(reason)
    expect(db.stats().failure).toMatchObject({ code: 'ISLAB_WAL_FAILED', outcomeUnknown: true })
  })
})

describe('a full disk at rotation (sync mode)', () => {
  /** Once armed, new files take no data (the new segment, MANIFEST.tmp); the open segment still takes appends. */
  function fullDisk(dir: string): { layer: FileLayer; arm(): void } {
    let armed = false
    let before = new Set<string>()
    const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
    const layer: FileLayer = {
      ...nodeFileLayer,
      writeFileDurable(p, d) {
        if (armed) throw enospc()
        nodeFileLayer.writeFileDurable(p, d)
      },
      openAppend(p, o): AppendFile {
        const f = nodeFileLayer.openAppend(p, o)
        return {
          write: async (d) => {
            if (armed && !before.has(p)) throw enospc()
            return f.write(d)
          },
          datasync: () => f.datasync(),
          truncate: (n) => f.truncate(n),
          close: () => f.close(),
        }
      },
    }
    return {
      layer,
      arm: () => {
        armed = true
        before = new Set(fs.readdirSync(dir).map((n) => path.join(dir, n)))
      },
    }
  }

  it('rejects the group, cuts the log back without needing the MANIFEST, and the writes never come back', async () => {
    const dir = tmpDir()
    const { layer, arm } = fullDisk(dir)
    const db = await open({ dir, durability: 'sync', fileLayer: layer, segmentBytes: 4096, compressThreshold: 1 << 30, checkpoint: false, physics: false })
    await db.put('a', 'x'.repeat(3000))
    arm()
    // One group commit: seq 2 still goes to the open segment, seq 3 rotates to a new one.
    const settled = await Promise.allSettled([db.put('b', 'y'.repeat(3000)), db.put('c', 'z'.repeat(10))])
    for (const r of settled) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ISLAB_WAL_FAILED', outcomeUnknown: false })
    await db.close()
    const again = await open({ dir, durability: 'sync', checkpoint: false, physics: false })
    expect(again.seq).toBe(1)
    expect(again.has('b')).toBe(false)
    await again.close()
  })
})

describe('undoing a failed commit (sync mode)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('changes nothing a snapshot reads: those taken before the failed writes and those that saw them read as they did', async () => {
    const { layer, arm } = failingLayer('EIO')
    const db = await open({ dir: tmpDir(), durability: 'sync', fileLayer: layer, checkpoint: false })
    await db.put('k', 'old')
    await db.put('gone', 'here')
    const before = db.snapshot()
    arm()
    const writes = [db.put('k', 'new'), db.delete('gone'), db.put('added', 1)]
    const mid = db.snapshot() // sees the writes not yet durable, as db.get does
    const partly = db.snapshot()
    const w2 = db.batch([
      { type: 'put', key: 'k', value: 'newer' },
      { type: 'put', key: 'k', value: 'newest' },
    ])
    const last = db.snapshot()
    const seen = (s: typeof before) => [s.get('k'), s.has('gone'), s.get('added'), [...s.range().entries()]]
    const want = [before, mid, last].map(seen)
    expect(want[1]).toEqual(['new', false, 1, [['added', 1], ['k', 'new']]])
    expect(want[2]![0]).toBe('newest')
    for (const r of await Promise.allSettled([...writes, w2])) expect(r.status).toBe('rejected')
    expect([db.get('k'), db.get('gone'), db.has('added')]).toEqual(['old', 'here', false])
    expect([before, mid, last].map(seen)).toEqual(want)
    // Closing some of them releases what they kept; the others go on reading the same.
    partly.close()
    mid.close()
    expect(seen(before)).toEqual(want[0])
    expect(seen(last)).toEqual(want[2])
    // A snapshot taken now reads the state as undone.
    const after = db.snapshot()
    expect(seen(after)).toEqual(['old', true, undefined, [['gone', 'here'], ['k', 'old']]])
    before.close()
    last.close()
    expect(seen(after)).toEqual(['old', true, undefined, [['gone', 'here'], ['k', 'old']]])
    after.close()
    await db.close().catch(() => undefined)
  })

  it('gives the version it restores its deadline back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const T = Date.now()
    const { layer, arm } = failingLayer('EIO')
    const db = await open({ dir: tmpDir(), durability: 'sync', fileLayer: layer, checkpoint: false, expiry: { sweepIntervalMs: 3_600_000 } })
    await db.put('k', 'v1', { expiresAt: T + 1000 })
    await db.batch([{ type: 'put', key: 'b', value: 'b1', expiresAt: T + 1000 }])
    const snap = db.snapshot()
    arm()
    const failed = Promise.allSettled([
      db.put('k', 'v2', { expiresAt: T + 5000 }),
      db.batch([
        { type: 'put', key: 'b', value: 'b2', expiresAt: T + 4000 },
        { type: 'put', key: 'b', value: 'b3', expiresAt: T + 5000 },
      ]),
    ])
    const saw = db.snapshot()
    expect(saw.getEntry('b')).toMatchObject({ value: 'b3', expiresAt: T + 5000 })
    for (const r of await failed) expect(r.status).toBe('rejected')
    expect(db.getEntry('k')).toMatchObject({ value: 'v1', seq: 1, expiresAt: T + 1000 })
    expect(db.getEntry('b')).toMatchObject({ value: 'b1', seq: 2, expiresAt: T + 1000 })
    expect(saw.getEntry('k')).toMatchObject({ value: 'v2', expiresAt: T + 5000 })
    expect(saw.getEntry('b')).toMatchObject({ value: 'b3', expiresAt: T + 5000 })
    vi.setSystemTime(T + 1000)
    expect([db.get('k'), db.get('b'), snap.get('k'), snap.get('b')]).toEqual([undefined, undefined, undefined, undefined])
    expect([saw.get('k'), saw.get('b')]).toEqual(['v2', 'b3'])
    snap.close()
    saw.close()
    await db.close().catch(() => undefined)
  })
})
