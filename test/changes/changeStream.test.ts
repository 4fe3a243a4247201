import v8 from 'node:v8'
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Change, ChangeStream } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

async function take<V>(stream: ChangeStream<V>, n: number): Promise<Change<V>[]> {
  const out: Change<V>[] = []
  if (n === 0) return out
  for await (const ch of stream) {
    out.push(ch)
    if (out.length >= n) break
  }
  return out
}

describe('changes()', () => {
  it('catches up from the log, then goes live, batches as member changes with one seq', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync' })
    await db.put('a', 1)
    await db.batch([
      { type: 'put', key: 'b', value: 2 },
      { type: 'del', key: 'a' },
    ])
    const got = take(db.changes({ since: 0 }), 4)
    await db.put('c', { three: 3 })
    const changes = await got
    expect(changes.map((c) => [c.seq, c.type, c.key, c.value])).toEqual([
      [1, 'put', 'a', 1],
      [2, 'put', 'b', 2],
      [2, 'del', 'a', undefined],
      [3, 'put', 'c', { three: 3 }],
    ])
    expect(changes[3]!.time).toBeGreaterThan(0)
    await db.close()
  })

  it('filters by prefix and by keys', async () => {
    const db = await open({ dir: tmpDir() })
    for (const k of ['user:1', 'order:1', 'user:2', 'order:2']) await db.put(k, k)
    await db.flush()
    const users = await take(db.changes({ since: 0, prefix: 'user:', live: false }), 10)
    expect(users.map((c) => c.key)).toEqual(['user:1', 'user:2'])
    const some = await take(db.changes({ since: 0, keys: ['order:2', 'user:1'], live: false }), 10)
    expect(some.map((c) => c.key)).toEqual(['user:1', 'order:2'])
    await db.close()
  })

  it('ends after catch-up with live: false, and resumes after a restart without gaps or duplicates', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync' })
    for (let i = 1; i <= 10; i++) await db.put(`k${i}`, i)
    const first = await take(db.changes({ since: 0, live: false }), 100)
    expect(first.map((c) => c.seq)).toEqual([...Array(10).keys()].map((i) => i + 1))
    const resumeFrom = first[6]!.seq
    await db.close()
    db = await open({ dir, durability: 'sync' })
    for (let i = 11; i <= 15; i++) await db.put(`k${i}`, i)
    const rest = await take(db.changes({ since: resumeFrom, live: false }), 100)
    expect(rest.map((c) => c.seq)).toEqual([8, 9, 10, 11, 12, 13, 14, 15])
    await db.close()
  })

  it('delivers only durable changes by default in buffered mode, all of them with durableOnly: false', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 60_000 })
    await db.put('a', 1)
    const durable = await take(db.changes({ since: 0, live: false }), 10)
    expect(durable).toEqual([])
    const all = await take(db.changes({ since: 0, live: false, durableOnly: false }), 10)
    expect(all.map((c) => c.key)).toEqual(['a'])
    const live = take(db.changes({ since: 0 }), 2)
    await db.put('b', 2)
    await db.flush()
    expect((await live).map((c) => c.key)).toEqual(['a', 'b'])
    await db.close()
  })

  it('reports prev for live changes', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync' })
    await db.put('k', 'old')
    const got = take(db.changes(), 2)
    await db.put('k', 'new')
    await db.delete('k')
    expect((await got).map((c) => [c.type, c.value, c.prev])).toEqual([
      ['put', 'new', 'old'],
      ['del', undefined, 'new'],
    ])
    await db.close()
  })

  it('fails with ISLAB_HISTORY_GONE when the log no longer holds since + 1', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync', segmentBytes: 256, checkpoint: { keep: 1 } })
    for (let i = 0; i < 50; i++) await db.put(`k${i % 5}`, i)
    const cp = (await db.checkpoint())!
    expect(cp.segmentsDeleted.length).toBeGreaterThan(0)
    const err = await take(db.changes({ since: 0 }), 1).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    expect((err as { oldestSeq: number }).oldestSeq).toBeGreaterThan(1)
    expect((err as Error).message).toMatch(/oldest available seq/)
    const mem = await open({ durability: 'memory' })
    await mem.put('a', 1)
    await expect(take(mem.changes({ since: 0 }), 1)).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    await mem.close()
    await db.close()
  })

  it('works as an Observable and completes when the database closes', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync' })
    const seen: number[] = []
    const done = new Promise<void>((resolve, reject) =>
      db.changes({ since: 0 }).subscribe({ next: (c) => seen.push(c.seq), complete: resolve, error: reject }),
    )
    for (let i = 0; i < 5; i++) await db.put('x', i)
    await new Promise((r) => setTimeout(r, 20))
    await db.close()
    await done
    expect(seen).toEqual([1, 2, 3, 4, 5])
  })

  it('keeps seq order with no gap or duplicate while writes pour in during catch-up', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 5, segmentBytes: 64 * 1024 })
    for (let i = 0; i < 20000; i++) void db.put(`k${i % 100}`, i)
    await db.flush()
    const target = 40000
    const got: number[] = []
    const reading = (async () => {
      for await (const ch of db.changes({ since: 0 })) {
        got.push(ch.seq)
        if (ch.seq >= target) break
      }
    })()
    for (let i = 20000; i < target; i++) {
      void db.put(`k${i % 100}`, i)
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r))
    }
    await reading
    expect(got).toEqual([...Array(target).keys()].map((i) => i + 1))
    await db.close()
  })
})

describe('changes().toReadable()', () => {
  it('keeps memory bounded with a consumer reading one change per 10 ms while 1M writes happen', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 20, checkpoint: false })
    const readable = db.changes({ since: 0 }).toReadable({ highWaterMark: 16 })
    const received: number[] = []
    let reading = true
    const consumer = (async () => {
      for await (const ch of readable) {
        received.push((ch as { seq: number }).seq)
        if (!reading) break
        await new Promise((r) => setTimeout(r, 10))
      }
    })()
    const value = { payload: 'x'.repeat(80) }
    // Live heap, not garbage awaiting collection: collect before each reading.
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const liveHeap = () => (gc(), process.memoryUsage().heapUsed)
    const before = liveHeap()
    let peak = 0
    for (let i = 0; i < 1_000_000; i++) {
      void db.put(`k${i % 1000}`, value)
      if (i % 20000 === 0) {
        // The writer flushes now and then, so what is measured is the stream, not unflushed writes.
        await db.flush()
        if (i % 100000 === 0) peak = Math.max(peak, liveHeap() - before)
        expect(readable.readableLength).toBeLessThanOrEqual(16)
      }
    }
    await db.flush()
    peak = Math.max(peak, liveHeap() - before)
    reading = false
    await consumer
    // 1M changes held in memory would take hundreds of MB; the stream holds at most a queue and a segment.
    expect(peak).toBeLessThan(64 * 1024 * 1024)
    expect(received.length).toBeGreaterThan(0)
    expect(received).toEqual(received.map((_, i) => i + 1))
    await db.close()
  })
})

describe('history retention', () => {
  it('keeps the newest retainSegments segments past checkpoints, so old changes stay readable', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 256, checkpoint: { keep: 1 }, history: { retainSegments: 1000 } })
    for (let i = 0; i < 50; i++) await db.put(`k${i % 5}`, i)
    const cp = (await db.checkpoint())!
    expect(cp.segmentsDeleted).toEqual([])
    const all = await take(db.changes({ since: 0, live: false }), 1000)
    expect(all.map((c) => c.seq)).toEqual([...Array(50).keys()].map((i) => i + 1))
    expect(await db.getAt('k0', { seq: 1 })).toBe(0)
    await db.close()
  })

  it('rejects a negative retention with ISLAB_INVALID_OPTION', async () => {
    await expect(open({ dir: tmpDir(), history: { retainSegments: -1 } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
  })
})
