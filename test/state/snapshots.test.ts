// Snapshots pin a seq: reads through one see the state as of that seq, whatever is written
// afterwards, and closing the last one releases every version the state kept for it.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { open } from '../../src/index.js'
import type { Database } from '../../src/index.js'
import { encodeValue } from '../../src/events/valueCodec.js'
import type { WalEvent } from '../../src/events/types.js'
import { MemoryState } from '../../src/state/memoryState.js'

/** Retained versions of an open database's state (internal: what snapshots keep alive). */
function retained(db: Database): number {
  return (db as unknown as { state: MemoryState }).state.retainedVersions
}

/** The engine's collector (exposed at run time: vitest does not start node with --expose-gc). */
function gc(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

async function rangeOf(r: AsyncIterable<[string, unknown]>): Promise<[string, unknown][]> {
  const out: [string, unknown][] = []
  for await (const p of r) out.push(p)
  return out
}

describe('db.snapshot()', () => {
  it('sees the value as of its seq across puts, deletes and batches', async () => {
    const db = await open({ durability: 'memory' })
    await db.put('a', 1)
    await db.put('b', 2)
    const snap = db.snapshot()
    expect(snap.seq).toBe(2)
    await db.put('a', 10)
    await db.delete('b')
    await db.put('c', 3)
    await db.batch([
      { type: 'put', key: 'a', value: 100 },
      { type: 'put', key: 'b', value: 200 },
      { type: 'del', key: 'c' },
    ])
    expect(snap.get('a')).toBe(1)
    expect(snap.get('b')).toBe(2)
    expect(snap.get('c')).toBeUndefined()
    expect(snap.has('c')).toBe(false)
    expect(snap.has('b')).toBe(true)
    expect(snap.getEntry('a')).toMatchObject({ value: 1, seq: 1 })
    expect(db.get('a')).toBe(100)
    expect(db.get('b')).toBe(200)
    snap.close()
    await db.close()
  })

  it('ranges over the keys as of its seq, with keys added and removed after it', async () => {
    const db = await open({ durability: 'memory' })
    for (const k of ['b', 'd', 'f', 'h']) await db.put(k, k)
    const snap = db.snapshot()
    await db.put('a', 'new')
    await db.delete('d')
    await db.put('f', 'changed')
    await db.put('e', 'new')
    await db.delete('h')
    const want: [string, unknown][] = [['b', 'b'], ['d', 'd'], ['f', 'f'], ['h', 'h']]
    expect(await rangeOf(snap.range())).toEqual(want)
    expect([...snap.range().entries()]).toEqual(want)
    expect(await rangeOf(snap.range({ reverse: true }))).toEqual([...want].reverse())
    expect(await rangeOf(snap.range({ gt: 'b', lt: 'h' }))).toEqual([['d', 'd'], ['f', 'f']])
    expect(await rangeOf(snap.range({ gte: 'c', reverse: true, limit: 2 }))).toEqual([['h', 'h'], ['f', 'f']])
    expect(await rangeOf(db.range())).toEqual([['a', 'new'], ['b', 'b'], ['e', 'new'], ['f', 'changed']])
    snap.close()
    await db.close()
  })

  it('reads a range written to while it is read, chunk after chunk, as of its seq', async () => {
    const db = await open({ durability: 'memory' })
    const keys = Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(4, '0')}`)
    await db.batch(keys.map((key) => ({ type: 'put' as const, key, value: 0 })))
    const snap = db.snapshot()
    const seen: string[] = []
    let i = 0
    for await (const [k, v] of snap.range()) {
      expect(v).toBe(0)
      seen.push(k)
      // Delete what is ahead, add keys between, rewrite what was read.
      if (i + 300 < keys.length) await db.delete(keys[i + 300]!)
      await db.put(`${k}x`, 1)
      await db.put(k, 2)
      i++
    }
    expect(seen).toEqual(keys)
    snap.close()
    expect(retained(db)).toBe(0)
    await db.close()
  })

  it('keeps versions only while a snapshot needs them, and releases them all on close', async () => {
    const db = await open({ durability: 'memory' })
    await db.put('a', 0)
    await db.put('a', 1)
    expect(retained(db)).toBe(0)
    const s1 = db.snapshot()
    await db.put('a', 2)
    await db.put('b', 1)
    expect(retained(db)).toBe(2)
    const s2 = db.snapshot()
    await db.put('a', 3)
    expect(retained(db)).toBe(3)
    expect([s1.get('a'), s2.get('a'), db.get('a')]).toEqual([1, 2, 3])
    // Closing the older one drops what only it needed: the versions replaced before s2 was taken.
    s1.close()
    expect(retained(db)).toBe(1)
    expect(s2.get('a')).toBe(2)
    expect(s2.get('b')).toBe(1)
    s2.close()
    s2.close()
    expect(retained(db)).toBe(0)
    await db.put('a', 4)
    expect(retained(db)).toBe(0)
    expect(() => s2.get('a')).toThrow(expect.objectContaining({ code: 'ISLAB_CLOSED' }))
    await db.close()
  })

  it('keeps one version per key for one open snapshot, however often the key is overwritten', async () => {
    const db = await open({ durability: 'memory', physics: false })
    await db.put('counter', 0)
    await db.put('other', 'x')
    const snap = db.snapshot()
    for (let i = 1; i <= 500; i++) await db.put('counter', i)
    await db.batch([
      { type: 'put', key: 'other', value: 'y' },
      { type: 'put', key: 'other', value: 'z' },
    ])
    // Only the version each key had at the snapshot's seq is ever read.
    expect(retained(db)).toBe(2)
    expect([snap.get('counter'), snap.get('other'), db.get('counter')]).toEqual([0, 'x', 500])
    // A snapshot taken meanwhile keeps the version it reads too, and nothing more.
    const later = db.snapshot()
    for (let i = 501; i <= 600; i++) await db.put('counter', i)
    expect(retained(db)).toBe(3)
    expect([snap.get('counter'), later.get('counter'), later.get('other')]).toEqual([0, 500, 'z'])
    later.close()
    snap.close()
    await db.close()
  })

  it('drops what a closed snapshot other than the oldest read, without waiting for the oldest to close', async () => {
    const db = await open({ durability: 'memory', physics: false })
    await db.put('a', 'first')
    const oldest = db.snapshot()
    // One short-lived snapshot per write, as level iterators are, under a long-lived one.
    for (let i = 0; i < 3000; i++) {
      const s = db.snapshot()
      await db.put('a', i)
      expect(s.get('a')).toBe(i === 0 ? 'first' : i - 1)
      s.close()
    }
    // Pruned once the versions held double (plus a slack): bounded, not one per write.
    expect(retained(db)).toBeLessThan(1100)
    expect(oldest.get('a')).toBe('first')
    oldest.close()
    expect(retained(db)).toBe(0)
    await db.close()
  })

  it('lets go of what it pinned when closed, though the closed snapshot is still referenced', async () => {
    const db = await open({ durability: 'memory', physics: false })
    await db.put('a', 0)
    const snap = db.snapshot()
    for (let i = 1; i <= 100; i++) await db.put(`k${i}`, i)
    // The versions it holds (internal); whoever still holds them once the last pin goes (a range
    // read made before the close) holds nothing: the last unpin empties them.
    const ref = new WeakRef((snap as unknown as { retained: { size: number } }).retained)
    expect(ref.deref()!.size).toBe(100)
    snap.close()
    expect(ref.deref()!.size).toBe(0)
    expect(retained(db)).toBe(0)
    // `snap` stays referenced below; what it pinned must be collectable (after this job: deref()
    // keeps its target alive until then).
    await new Promise((r) => setImmediate(r))
    gc()
    expect(ref.deref()).toBeUndefined()
    expect(snap.isOpen).toBe(false)
    await db.close()
  })

  it('cannot be read once the database is closed', async () => {
    const db = await open({ durability: 'memory' })
    await db.put('a', 1)
    const snap = db.snapshot()
    await db.close()
    expect(snap.isOpen).toBe(false)
    expect(() => snap.get('a')).toThrow(expect.objectContaining({ code: 'ISLAB_CLOSED' }))
    expect(() => db.snapshot()).toThrow(expect.objectContaining({ code: 'ISLAB_CLOSED' }))
  })

  it('answers like a copy of the state taken at its seq (random writes, snapshots and closes)', async () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'é', '🔑')
    const op = fc.oneof(
      fc.record({ t: fc.constant('put' as const), key, value: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ t: fc.constant('del' as const), key }),
      fc.record({ t: fc.constant('batch' as const), keys: fc.array(key, { minLength: 1, maxLength: 3 }), value: fc.integer() }),
      fc.record({ t: fc.constant('snap' as const) }),
      fc.record({ t: fc.constant('close' as const), which: fc.nat() }),
      fc.record({ t: fc.constant('range' as const) }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.boolean(), async (ops, physics) => {
        const db = await open({ durability: 'memory', physics })
        const model = new Map<string, number>()
        const snaps: { snap: ReturnType<Database['snapshot']>; copy: Map<string, number> }[] = []
        const check = () => {
          for (const { snap, copy } of snaps) {
            for (const k of ['a', 'b', 'c', 'd', 'e', 'é', '🔑']) expect(snap.get(k)).toBe(copy.get(k))
            expect([...snap.range().entries()]).toEqual([...copy.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
          }
        }
        for (const o of ops) {
          if (o.t === 'put') {
            await db.put(o.key, o.value)
            model.set(o.key, o.value)
          } else if (o.t === 'del') {
            await db.delete(o.key)
            model.delete(o.key)
          } else if (o.t === 'batch') {
            await db.batch(o.keys.map((k, i) => (i % 2 === 0 ? { type: 'put' as const, key: k, value: o.value } : { type: 'del' as const, key: k })))
            o.keys.forEach((k, i) => (i % 2 === 0 ? model.set(k, o.value) : model.delete(k)))
          } else if (o.t === 'snap') {
            snaps.push({ snap: db.snapshot(), copy: new Map(model) })
          } else if (o.t === 'close') {
            if (snaps.length > 0) snaps.splice(o.which % snaps.length, 1)[0]!.snap.close()
          } else {
            await rangeOf(db.range())
          }
          check()
        }
        for (const { snap } of snaps) snap.close()
        expect(retained(db)).toBe(0)
        await db.close()
      }),
      { numRuns: 60 },
    )
  })
})

describe('db.snapshot() and expiry', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  /** A database whose sweeper never runs during the test: only reads decide what is expired. */
  async function expiring(): Promise<Database> {
    vi.useFakeTimers({ toFake: ['Date'] })
    return open({ durability: 'memory', expiry: { sweepIntervalMs: 3_600_000 } })
  }

  it('hides a version whose deadline passed from get, has, getEntry and range, as db.get does', async () => {
    const db = await expiring()
    const T = Date.now()
    await db.put('a', 'soon', { ttlMs: 50 })
    await db.put('b', 'kept')
    vi.setSystemTime(T + 100)
    // No db.get first: nothing has written the expiry event yet.
    const snap = db.snapshot()
    expect(db.seq).toBe(2)
    expect([snap.get('a'), snap.has('a'), snap.getEntry('a')]).toEqual([undefined, false, undefined])
    expect([...snap.range().entries()]).toEqual([['b', 'kept']])
    expect(await rangeOf(snap.range({ reverse: true }))).toEqual([['b', 'kept']])
    expect(db.get('a')).toBeUndefined()
    snap.close()
    await db.close()
  })

  it('hides a version that expires after the snapshot was taken once its deadline passes, overwritten or not', async () => {
    const db = await expiring()
    const T = Date.now()
    await db.put('a', 'a1', { ttlMs: 100 })
    await db.put('b', 'b1', { ttlMs: 100 })
    await db.put('c', 'c1', { ttlMs: 10_000 })
    const snap = db.snapshot()
    expect(snap.getEntry('a')).toMatchObject({ value: 'a1', seq: 1, expiresAt: T + 100 })
    // Overwritten after the snapshot: the snapshot's versions keep their deadlines.
    await db.put('a', 'a2', { ttlMs: 10_000 })
    await db.put('b', 'b2')
    await db.put('c', 'c2')
    expect(snap.getEntry('a')).toMatchObject({ value: 'a1', expiresAt: T + 100 })
    expect([...snap.range().entries()]).toEqual([['a', 'a1'], ['b', 'b1'], ['c', 'c1']])
    vi.setSystemTime(T + 100)
    expect([snap.get('a'), snap.has('b'), snap.get('c')]).toEqual([undefined, false, 'c1'])
    expect([...snap.range().entries()]).toEqual([['c', 'c1']])
    expect([db.get('a'), db.get('b'), db.get('c')]).toEqual(['a2', 'b2', 'c2'])
    snap.close()
    await db.close()
  })

  it('hides a version whose expiry event was written after the snapshot was taken', async () => {
    const db = await expiring()
    const T = Date.now()
    await db.put('a', 'soon', { ttlMs: 50 })
    const snap = db.snapshot()
    vi.setSystemTime(T + 60)
    expect(db.get('a')).toBeUndefined() // queues the expiry event
    await db.waitForSeq(2)
    expect(snap.get('a')).toBeUndefined()
    expect([...snap.range().entries()]).toEqual([])
    snap.close()
    await db.close()
  })
})

describe('MemoryState snapshot hook', () => {
  const put = (seq: number, key: string, v: unknown): WalEvent => ({ type: 'put', seq, time: seq, key, value: encodeValue(v) })

  it('adds nothing to writes while no snapshot is open, and keeps one version per replaced key and pin while one is', () => {
    const state = new MemoryState()
    state.apply(put(1, 'a', 1))
    state.replay(put(2, 'a', 2))
    expect(state.retainedVersions).toBe(0)
    state.pin(2)
    state.replay(put(3, 'a', 3))
    state.pin(3)
    state.apply({ type: 'batch', seq: 4, time: 4, ops: [{ type: 'del', key: 'a' }, { type: 'put', key: 'b', value: encodeValue(1) }] })
    expect(state.retainedVersions).toBe(3)
    expect(state.entryAsOf('a', 2)?.value()).toBe(2)
    expect(state.entryAsOf('a', 3)?.value()).toBe(3)
    expect(state.entryAsOf('a', 4)).toBeUndefined()
    expect(state.entryAsOf('b', 2)).toBeUndefined()
    state.unpin(2)
    // Pin 3 reads a as 3 (the version a's delete replaced) and b as absent.
    expect(state.retainedVersions).toBe(2)
    expect(state.entryAsOf('a', 3)?.value()).toBe(3)
    state.unpin(3)
    expect(state.retainedVersions).toBe(0)
    expect(state.entryAsOf('b', 3)?.value()).toBe(1)
  })
})
