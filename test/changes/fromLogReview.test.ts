// Review of events({ fromLog: true }): ends at close, wakes on failures, never waits forever.
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** Settles with 'timeout' when `p` does not settle within `ms` (a hang, not a timing assertion). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())])
}

describe('events({ fromLog: true }) review', () => {
  it.each([true, false])('a caught-up live stream ends when the database closes (durableOnly %s)', async (durableOnly) => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 2 })
    await db.put('a', 1)
    await db.flush()
    const it = db.events({ since: 0, fromLog: true, durableOnly })[Symbol.asyncIterator]()
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

describe('events({ fromLog: true }) review: checkpoints prune under a lagging stream', () => {
  it('a stream whose segments a checkpoint deleted yields in order with no gap, or fails with HISTORY_GONE: never waits forever', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 2, segmentBytes: 1024, checkpoint: { auto: false, keep: 1 }, history: { retainSegments: 0 } })
    for (let i = 0; i < 50; i++) await db.put(`k${i}`, i)
    await db.flush()
    const it = db.events({ since: 0, fromLog: true })[Symbol.asyncIterator]()
    expect((await it.next()).value?.seq).toBe(1)
    for (let i = 50; i < 2000; i++) await db.put(`k${i % 100}`, i)
    await db.flush()
    await db.checkpoint()
    await db.put('after', 1)
    await db.flush()
    const seqs: number[] = []
    const outcome = await within(
      (async () => {
        for (;;) {
          const r = await it.next()
          if (r.done) return 'done'
          seqs.push(r.value.seq)
          if (r.value.seq === db.seq) return 'caught up'
        }
      })().catch((e: unknown) => e),
      5000,
    )
    await it.return!()
    await db.close()
    expect(outcome).not.toBe('timeout')
    if (outcome === 'caught up') expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 2))
    else expect(outcome).toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
  })
})

describe('events({ fromLog: true }) review: a read-only database', () => {
  it('wakes for the events its follower applies', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'buffered', syncIntervalMs: 2 })
    await w.put('a', 1)
    await w.flush()
    const ro = await open({ dir, readOnly: true, followMs: 10 })
    expect(ro.seq).toBe(1)
    const it = ro.events({ since: 0, fromLog: true })[Symbol.asyncIterator]()
    expect((await it.next()).value?.seq).toBe(1)
    const pending = it.next()
    await w.put('b', 2)
    await w.flush()
    await ro.waitForSeq(2)
    const r = await within(pending, 3000)
    await it.return!()
    await ro.close()
    await w.close()
    expect(r).not.toBe('timeout')
    expect(r).toMatchObject({ value: { seq: 2 } })
  })
})

describe('events({ fromLog: true }) review: caught up while checkpoints prune behind it', () => {
  for (const held of [true, false]) {
    it(`yields every event in order while writes rotate segments and checkpoints prune the ones it finished (hold ${held})`, async () => {
      const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 2, segmentBytes: 512, checkpoint: { auto: false, keep: 1 }, history: { retainSegments: 0 } })
      let consumed = 0
      const release = held ? db.holdLog(() => consumed + 1) : () => undefined
      const it = db.events({ since: 0, fromLog: true })[Symbol.asyncIterator]()
      const N = 1500
      const reader = (async () => {
        const seqs: number[] = []
        while (seqs.length < N) {
          const r = await it.next()
          if (r.done) break
          seqs.push(r.value.seq)
          consumed = r.value.seq
        }
        return seqs
      })().catch((e: unknown) => e)
      for (let i = 1; i <= N; i++) {
        await db.put(`k${i % 20}`, i)
        if (i % 50 === 0) {
          await db.flush()
          await new Promise((r) => setTimeout(r, 3))
          await db.checkpoint()
        }
      }
      await db.flush()
      const got = await within(reader, 8000)
      await it.return!()
      release()
      await db.close()
      expect(got).not.toBe('timeout')
      // Held, it gets everything; unheld, a prune may pass it (it reads the log even when caught up): it says so.
      if (held || Array.isArray(got)) expect(got).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      else expect(got).toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    })
  }
})

describe('events({ fromLog: true, durableOnly: false }) review', () => {
  it('yields an applied event without waiting for the next sync', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 60_000 })
    const it = db.events({ since: 0, fromLog: true, durableOnly: false })[Symbol.asyncIterator]()
    const first = it.next()
    await new Promise((r) => setTimeout(r, 20))
    await db.put('a', 1)
    const r = await within(first, 3000)
    await it.return!()
    await db.close()
    expect(r).not.toBe('timeout')
    expect(r).toMatchObject({ value: { seq: 1 } })
  })
})

describe('events({ fromLog: true }) review: a WAL failure', () => {
  for (const durability of ['buffered', 'sync'] as const) {
    it(`a caught-up stream fails with the WAL failure (${durability}), it does not wait forever`, async () => {
      const { nodeFileLayer } = await import('../../src/io/nodeFileLayer.js')
      let fail = false
      const layer = {
        ...nodeFileLayer,
        openAppend: (p: string, o?: { dsync?: boolean }) => {
          const f = nodeFileLayer.openAppend(p, o)
          return {
            ...f,
            write: (d: Uint8Array) => (fail ? Promise.reject(Object.assign(new Error('EIO: simulated'), { code: 'EIO' })) : f.write(d)),
            datasync: () => (fail ? Promise.reject(Object.assign(new Error('EIO: simulated'), { code: 'EIO' })) : f.datasync()),
            truncate: (n: number) => f.truncate(n),
            close: () => f.close(),
          }
        },
      }
      const db = await open({ dir: tmpDir(), fileLayer: layer, durability, syncIntervalMs: 2 })
      db.on('failure', () => undefined)
      await db.put('a', 1)
      await db.flush()
      const it = db.events({ since: 0, fromLog: true })[Symbol.asyncIterator]()
      expect((await it.next()).value?.seq).toBe(1)
      const pending = it.next().then((v) => v, (e: unknown) => e)
      await new Promise((r) => setTimeout(r, 20))
      fail = true
      await db.put('b', 2).catch(() => undefined)
      await db.flush().catch(() => undefined)
      const r = await within(pending, 3000)
      await it.return!()
      await db.close().catch(() => undefined)
      expect(r).not.toBe('timeout')
      expect(r).toMatchObject({ code: expect.stringMatching(/^ISLAB_/) })
    })
  }
})
