import { afterEach, describe, expect, it, vi } from 'vitest'
import { open } from '../../src/index.js'
import type { Database, HistoryEntry } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { listSegments } from '../../src/wal/logReader.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import type { HistoryIndex } from '../../src/history/historyIndex.js'

async function all<V>(it: AsyncIterable<HistoryEntry<V>>): Promise<HistoryEntry<V>[]> {
  const out: HistoryEntry<V>[] = []
  for await (const e of it) out.push(e)
  return out
}

describe.each(['sync', 'buffered', 'memory'] as const)('time travel (%s)', (durability) => {
  it('answers getAt by seq and by time, and lists history both ways', async () => {
    const db = await open({ dir: tmpDir(), durability })
    // In memory mode history starts when it is first used.
    if (durability === 'memory') await db.history('warm-up')[Symbol.asyncIterator]().next()
    const t0 = Date.now()
    await db.put('k', 'v1') // 1
    await db.put('other', 1) // 2
    await db.batch([
      { type: 'put', key: 'k', value: { v: 2 } },
      { type: 'put', key: 'x', value: 0 },
    ]) // 3
    await new Promise((r) => setTimeout(r, 5))
    const tMid = Date.now()
    await new Promise((r) => setTimeout(r, 5))
    await db.delete('k') // 4
    await db.put('k', 'v3') // 5
    expect(await db.getAt('k', { seq: 0 })).toBeUndefined()
    expect(await db.getAt('k', { seq: 1 })).toBe('v1')
    expect(await db.getAt('k', { seq: 2 })).toBe('v1')
    expect(await db.getAt('k', { seq: 3 })).toEqual({ v: 2 })
    expect(await db.getAt('k', { seq: 4 })).toBeUndefined()
    // The value after db.seq is not known yet: a seq past it is refused, as changes() refuses a since past it.
    await expect(db.getAt('k', { seq: 99 })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    expect(await db.getAt('k', { seq: db.seq })).toBe('v3')
    expect(await db.getAt('k', { time: t0 - 1 })).toBeUndefined()
    expect(await db.getAt('k', { time: new Date(tMid) })).toEqual({ v: 2 })
    const h = await all(db.history('k'))
    expect(h.map((e) => [e.seq, e.type, e.value])).toEqual([
      [1, 'put', 'v1'],
      [3, 'put', { v: 2 }],
      [4, 'del', undefined],
      [5, 'put', 'v3'],
    ])
    const rev = await all(db.history('k', { reverse: true, limit: 2 }))
    expect(rev.map((e) => e.seq)).toEqual([5, 4])
    const ranged = await all(db.history('k', { from: 2, to: 4 }))
    expect(ranged.map((e) => e.seq)).toEqual([3, 4])
    await db.close()
  })
})

describe('time travel across restarts and retention', () => {
  it('rebuilds its index from the log after a restart', async () => {
    const dir = tmpDir()
    let db: Database = await open({ dir, durability: 'sync', segmentBytes: 512, walFormat: 'json' })
    for (let i = 1; i <= 30; i++) await db.put(`k${i % 3}`, i)
    await db.close()
    db = await open({ dir, durability: 'sync', segmentBytes: 512 })
    for (let i = 31; i <= 40; i++) await db.put(`k${i % 3}`, i)
    for (let s = 1; s <= 40; s++) {
      const lastWrite = [...Array(s).keys()].map((i) => i + 1).filter((i) => i % 3 === 1).pop()
      expect(await db.getAt('k1', { seq: s })).toBe(lastWrite)
    }
    expect((await all(db.history('k2'))).length).toBe(13)
    await db.close()
  })

  it('rejects ISLAB_HISTORY_GONE outside the retained log', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync', segmentBytes: 256, checkpoint: { keep: 1 } })
    for (let i = 1; i <= 60; i++) await db.put(`k${i % 4}`, i)
    await db.checkpoint()
    await db.put('k1', 'new')
    await expect(db.getAt('k1', { seq: 2 })).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    await expect(all(db.history('k1', { from: 1 }))).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    expect(await db.getAt('k1', { seq: 61 })).toBe('new')
    await db.close()
  })
})

describe('time travel after pruning (exact within the retained log)', () => {
  /** First seq of the oldest segment still on disk (F). */
  const oldestSegment = (dir: string): number => listSegments(nodeFileLayer, dir)[0]!.firstSeq
  const opts = (dir: string) => ({ dir, durability: 'sync' as const, segmentBytes: 256, checkpoint: { keep: 1 } })

  it('answers a key last written before the oldest retained segment, at db.seq and at F', async () => {
    const dir = tmpDir()
    const db = await open(opts(dir))
    await db.put('old', { v: 'before' }) // 1
    await db.put('dropped', 1) // 2
    await db.delete('dropped') // 3
    for (let i = 0; i < 80; i++) await db.put(`k${i % 4}`, i)
    await db.checkpoint()
    const F = oldestSegment(dir)
    expect(F).toBeGreaterThan(4) // the writes of 'old' and 'dropped' are pruned
    await db.put('k0', 'after')
    const t = Date.now()
    expect(await db.getAt('old', { seq: db.seq })).toEqual({ v: 'before' })
    expect(await db.getAt('old', { seq: F })).toEqual({ v: 'before' })
    expect(await db.getAt('old', { seq: F - 1 })).toEqual({ v: 'before' })
    // Unchanged since seq 1: every seq from its write on is known.
    expect(await db.getAt('old', { seq: 1 })).toEqual({ v: 'before' })
    expect(await db.getAt('old', { time: t })).toEqual({ v: 'before' })
    expect(await db.getAt('dropped', { seq: db.seq })).toBeUndefined()
    expect(await db.getAt('dropped', { seq: F - 1 })).toBeUndefined()
    expect(await db.getAt('never', { seq: F })).toBeUndefined()
    // When 'dropped' was deleted, and whether it existed at seq 1, nothing retained can say.
    const gone = await db.getAt('dropped', { seq: 1 }).catch((e: unknown) => e)
    expect(gone).toMatchObject({ code: 'ISLAB_HISTORY_GONE', key: 'dropped', oldestSeq: F - 1 })
    await db.close()
  })

  it('by a time before every write, a key whose whole history is known is absent (as by seq 0), after a prune', async () => {
    const dir = tmpDir()
    const db = await open(opts(dir))
    const before = Date.now() - 60_000
    await db.put('first', 'v') // 1: its first write, later pruned from the log
    await db.put('twice', 'a') // 2
    await db.put('twice', 'b') // 3
    for (let i = 0; i < 80; i++) await db.put(`f${i % 4}`, i)
    await db.checkpoint()
    const F = oldestSegment(dir)
    expect(F).toBeGreaterThan(2)
    expect(await db.getAt('first', { seq: 0 })).toBeUndefined()
    // A time before the database existed stands for seq 0: by seq and by time agree.
    expect(await db.getAt('first', { time: before })).toBeUndefined()
    expect(await db.getAt('first', { time: new Date(2020, 0, 1) })).toBeUndefined()
    expect(await db.getAt('first', { time: Date.now() })).toBe('v')
    // A key written in the pruned range more than once: which version a time before the log
    // means is not known (the times of the pruned writes are gone), so it still says so.
    await expect(db.getAt('twice', { time: before })).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE', key: 'twice' })
    await db.close()
  })

  it('answers before a key’s first retained version from a checkpoint that covers it', async () => {
    const dir = tmpDir()
    const db = await open(opts(dir))
    await db.put('x', 'filler') // 1
    const { seq: written } = await db.put('k', 'a') // 2
    await new Promise((r) => setTimeout(r, 5))
    const tA = Date.now()
    await new Promise((r) => setTimeout(r, 5))
    for (let i = 0; i < 80; i++) await db.put(`f${i % 4}`, i)
    const cp = (await db.checkpoint())!
    const F = oldestSegment(dir)
    expect(F - 1).toBeGreaterThan(written)
    await db.put('k', 'b')
    const changed = db.seq
    // The log starts at F; 'k' changes only at `changed`: its value before is the checkpoint's.
    expect(await db.getAt('k', { seq: F - 1 })).toBe('a')
    expect(await db.getAt('k', { seq: cp.seq })).toBe('a')
    expect(await db.getAt('k', { seq: changed - 1 })).toBe('a')
    expect(await db.getAt('k', { seq: changed })).toBe('b')
    // Before the log, the checkpoint's entry says 'k' was last written at `written`.
    expect(await db.getAt('k', { seq: written })).toBe('a')
    // By time: before every write in the log, the checkpoint's entry (written before tA) answers.
    expect(await db.getAt('k', { time: tA })).toBe('a')
    const gone = await db.getAt('k', { seq: written - 1 }).catch((e: unknown) => e)
    expect(gone).toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: written, requestedSeq: written - 1 })
    await db.close()
  })

  it('rejects with the oldest answerable seq when no checkpoint covers the gap', async () => {
    const dir = tmpDir()
    const o = { ...opts(dir), history: { retainSegments: 3 } }
    let db = await open(o)
    await db.put('k', 'a') // 1
    for (let i = 0; i < 80; i++) await db.put(`f${i % 4}`, i)
    await db.checkpoint()
    const { seq: changed } = await db.put('k', 'b')
    for (let i = 0; i < 10; i++) await db.put(`f${i % 4}`, i)
    const cp = (await db.checkpoint())! // keep: 1 deletes the first one, taken before 'k' changed
    const F = oldestSegment(dir)
    expect(F).toBeGreaterThan(2)
    expect(F).toBeLessThanOrEqual(changed)
    expect(cp.seq).toBeGreaterThan(changed)
    await db.close()
    db = await open(o)
    expect(await db.getAt('k', { seq: changed })).toBe('b')
    // 'a' was written before the log and no checkpoint holds the value before `changed`.
    const gone = await db.getAt('k', { seq: changed - 1 }).catch((e: unknown) => e)
    expect(gone).toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: changed, key: 'k' })
    expect((gone as Error).message).toContain('can be read as of seq')
    await expect(db.getAt('k', { seq: 1 })).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: changed })
    expect(await db.history('k').start()).toEqual({ from: F, complete: false })
    await db.close()
  })

  it('history() says where it starts, led by the last write before the log', async () => {
    const dir = tmpDir()
    const db = await open(opts(dir))
    const fresh = db.history('k')
    expect(await fresh.start()).toEqual({ from: 0, complete: true })
    await db.put('old', 'v') // 1
    const { seq: kSeq } = await db.put('k', 'a') // 2
    for (let i = 0; i < 80; i++) await db.put(`f${i % 4}`, i)
    await db.checkpoint()
    const F = oldestSegment(dir)
    await db.put('k', 'b')
    const h = db.history('old')
    expect(await h.start()).toEqual({ from: 1, complete: false })
    expect((await all(h)).map((e) => [e.seq, e.type, e.value])).toEqual([[1, 'put', 'v']])
    const hk = db.history('k')
    expect(await hk.start()).toEqual({ from: kSeq, complete: false })
    expect((await all(hk)).map((e) => [e.seq, e.value])).toEqual([
      [kSeq, 'a'],
      [db.seq, 'b'],
    ])
    expect((await all(db.history('k', { reverse: true }))).map((e) => e.value)).toEqual(['b', 'a'])
    const fromF = db.history('k', { from: F })
    expect(await fromF.start()).toEqual({ from: F, complete: false })
    expect((await all(fromF)).map((e) => e.value)).toEqual(['b'])
    await expect(db.history('k', { from: kSeq - 1 }).start()).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: kSeq })
    await expect(all(db.history('k', { from: 0 }))).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: kSeq })
    // A key deleted before the log: nothing of it is known before F.
    expect(await db.history('nothing').start()).toEqual({ from: F, complete: false })
    await db.close()
  })

  it('forgets the versions in deleted segments for every key, looked up or not', async () => {
    const dir = tmpDir()
    const db = await open(opts(dir))
    for (let i = 0; i < 200; i++) await db.put(`k${i % 50}`, i)
    await db.getAt('k0', { seq: 1 }) // builds the index
    const index = (db as unknown as { history_: HistoryIndex }).history_
    expect(index.versionCount).toBe(200)
    expect(index.keyCount).toBe(50)
    for (let i = 200; i < 230; i++) await db.put(`k${i % 50}`, i) // k0..k29 once more
    await db.checkpoint()
    const F = oldestSegment(dir)
    expect(F).toBeGreaterThan(180)
    expect(index.from).toBe(F)
    // Exactly the versions with seq ≥ F remain: one per write from F on.
    expect(index.versionCount).toBe(db.seq - F + 1)
    const keysFromF = new Set(Array.from({ length: db.seq - F + 1 }, (_, j) => `k${(F - 1 + j) % 50}`))
    expect(index.keyCount).toBe(keysFromF.size)
    // ... and the pruned keys still answer, from the state.
    expect(await db.getAt('k40', { seq: db.seq })).toBe(190)
    await db.close()
  })
})

describe('building the history index', () => {
  it('yields to the event loop between segments and chunks, losing and doubling no concurrent write', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', segmentBytes: 16 * 1024, checkpoint: false })
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 6000; i++) writes.push(db.put(`k${i % 10}`, i))
    await Promise.all(writes)
    await db.flush() // so that the turns counted below are the build's own
    let turns = 0
    let done = false
    const during: number[] = []
    const first = db.getAt('k1', { seq: 2 }).finally(() => (done = true))
    while (!done) {
      await new Promise((r) => setImmediate(r))
      turns++
      // A write while the index is being built: it must end up in it exactly once.
      const { seq } = await db.put('live', turns)
      during.push(seq)
    }
    expect(await first).toBe(1)
    // Old code scanned every segment in one synchronous stretch: no turn at all.
    expect(turns).toBeGreaterThan(10)
    const h = await all(db.history('live'))
    expect(h.map((e) => e.seq)).toEqual(during)
    expect(h.map((e) => e.value)).toEqual(during.map((_, i) => i + 1))
    expect((await all(db.history('k3'))).length).toBe(600)
    await db.close()
  })
})

describe('time travel in memory mode', () => {
  it('keeps its versions bounded, and answers what it still can', async () => {
    const db = await open({ dir: tmpDir(), durability: 'memory', physics: false })
    await db.put('first', 'kept') // 1
    await db.getAt('first', { seq: 1 }) // starts history at seq 2
    const big = 'x'.repeat(256 * 1024)
    for (let i = 0; i < 300; i++) await db.put(`k${i % 3}`, `${i}:${big}`) // 75 MiB of values
    const index = (db as unknown as { history_: HistoryIndex }).history_
    expect(index.versionCount).toBeLessThan(300)
    expect(index.from).toBeGreaterThan(2)
    expect(await db.getAt('k0', { seq: db.seq })).toBe(`297:${big}`)
    // 'first' is unchanged since before the history began: still known, from the state.
    expect(await db.getAt('first', { seq: db.seq })).toBe('kept')
    await expect(db.getAt('k0', { seq: 3 })).rejects.toMatchObject({ code: 'ISLAB_HISTORY_GONE', key: 'k0', oldestSeq: index.firstSeqOf('k0') })
    await db.close()
  })
})

describe('time travel when the wall clock steps back', () => {
  afterEach(() => vi.restoreAllMocks())

  it('stamps no event earlier than the one before it, so getAt by time finds the newest event at or before it, across a restart', async () => {
    let now = 1_000_000
    vi.spyOn(Date, 'now').mockImplementation(() => now)
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync', physics: false, checkpoint: false })
    now = 1_000_000
    await db.put('k', 'A') // seq 1
    now = 1_001_000
    await db.put('k', 'B') // seq 2
    now = 9_000_000
    await db.put('x', 0) // seq 3: the clock jumped forward...
    now = 1_002_000
    await db.put('k', 'C') // seq 4: ...and NTP stepped it back
    expect(db.getEntry('k')!.time).toBe(9_000_000)
    await db.close()
    db = await open({ dir, durability: 'sync', physics: false, checkpoint: false })
    now = 1_003_000
    await db.put('k', 'D') // seq 5, after a restart: still no earlier than seq 4
    expect(db.getEntry('k')!.time).toBe(9_000_000)
    // Between seq 2 and seq 3: B. Anything from seq 3's time on: the newest event by then.
    expect(await db.getAt('k', { time: 1_002_500 })).toBe('B')
    expect(await db.getAt('k', { time: 9_000_000 })).toBe('D')
    await db.close()
  })
})
