// The bounds of expiry's own work: a read over many expired keys writes their expiry events a
// sweep budget at a time (never all in one turn), a sweep while writes are refused keeps its
// deadlines for later, and deleted or overwritten keys leave no deadline record behind.
// Expiry is driven here with a fake state and a counting writer, so counts are exact; Date.now
// advances one ms per call, so the budget is spent after a known number of clock checks.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Expiry } from '../../src/db/expiry.js'
import { Deadlines } from '../../src/state/deadlines.js'
import type { MemoryState } from '../../src/state/memoryState.js'
import { open, ReadOnlyError } from '../../src/index.js'
import type { Change, Database } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

const BUDGET = 10

/** `n` keys whose current versions (seq i + 1) are due at 1000; `write` applies the expiry event as the database would. */
function world(n: number): { state: MemoryState; seqs: Map<string, number>; writes: string[]; refuse: { on: boolean } } {
  const deadlines = new Deadlines()
  const seqs = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const key = 'k' + String(i).padStart(6, '0')
    seqs.set(key, i + 1)
    deadlines.set(key, i + 1, 1000)
  }
  const state = { deadlines, seqOf: (k: string) => seqs.get(k) ?? 0 } as unknown as MemoryState
  return { state, seqs, writes: [], refuse: { on: false } }
}

function expiryOf(w: ReturnType<typeof world>): Expiry {
  return new Expiry(w.state, { sweepIntervalMs: 3_600_000, sweepBudgetMs: BUDGET }, (key) => {
    if (w.refuse.on) return false
    w.writes.push(key)
    w.seqs.delete(key)
    w.state.deadlines.clear(key)
    return true
  })
}

/** A clock that moves one ms each time it is read. */
function tickingClock(from: number): void {
  let t = from
  vi.spyOn(Date, 'now').mockImplementation(() => t++)
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('lazy expiry of what reads find', () => {
  it('writes a read\'s expiry events a budget per turn of the event loop, and all of them in the end', async () => {
    const N = 2000
    const w = world(N)
    const ex = expiryOf(w)
    tickingClock(5000)
    for (const [key, seq] of w.seqs) expect(ex.hides(key, seq, 5000)).toBe(true)
    expect(w.writes.length).toBe(0)
    // The queued flush runs as a microtask after the read: one budget's worth, not all N.
    await Promise.resolve()
    const first = w.writes.length
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThanOrEqual(CLOCK_BOUND)
    let turns = 1
    while (w.writes.length < N && turns < 1000) {
      const before = w.writes.length
      await turn()
      expect(w.writes.length - before).toBeLessThanOrEqual(CLOCK_BOUND)
      turns++
    }
    expect(w.writes.length).toBe(N)
    expect(new Set(w.writes).size).toBe(N)
    expect(turns).toBeGreaterThan(1)
    expect(w.state.deadlines.size).toBe(0)
  })

  it('queues a bounded number of expiry events; the sweeper logs the rest', async () => {
    const N = 10_000
    const w = world(N)
    const ex = expiryOf(w)
    for (const [key, seq] of w.seqs) ex.hides(key, seq, 5000)
    for (let i = 0; i < 100 && w.writes.length < N; i++) await turn()
    expect(w.writes.length).toBeGreaterThan(0)
    expect(w.writes.length).toBeLessThan(N)
    for (let i = 0; i < 1000 && w.state.deadlines.size > 0; i++) ex.sweep()
    expect(w.writes.length).toBe(N)
    expect(new Set(w.writes).size).toBe(N)
  })
})

/** Writes one budget's turn may make: the clock is read once per 32 records and moves 1 ms per read. */
const CLOCK_BOUND = 32 * (BUDGET + 1)

describe('sweeping while writes are refused', () => {
  it('keeps the due deadlines and expires them once writes are taken again', () => {
    const w = world(3)
    const ex = expiryOf(w)
    vi.spyOn(Date, 'now').mockReturnValue(5000)
    w.refuse.on = true
    ex.sweep()
    ex.sweep()
    expect(w.writes).toEqual([])
    w.refuse.on = false
    ex.sweep()
    expect([...w.writes].sort()).toEqual(['k000000', 'k000001', 'k000002'])
  })

  it('a read\'s queued expiry refused while writes are refused is still swept later', async () => {
    const w = world(1)
    const ex = expiryOf(w)
    vi.spyOn(Date, 'now').mockReturnValue(5000)
    w.refuse.on = true
    expect(ex.hides('k000000', 1, 5000)).toBe(true)
    await turn()
    expect(w.writes).toEqual([])
    w.refuse.on = false
    ex.sweep()
    expect(w.writes).toEqual(['k000000'])
  })

  it('a database that refused writes past a deadline logs the expiry once it takes writes again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const T0 = 1_800_000_000_000
    vi.setSystemTime(T0)
    const db = await open({ dir: tmpDir('islab-expiry-'), durability: 'memory', checkpoint: false, expiry: { sweepIntervalMs: 2 } })
    try {
      const seen = record(db)
      await db.put('a', 1, { ttlMs: 50 })
      await db.put('b', 1)
      db.refuseWrites(new ReadOnlyError('promoting'))
      vi.setSystemTime(T0 + 100)
      // Sweeps run (every 2 ms) while writes are refused: none may lose the deadline.
      await new Promise((r) => setTimeout(r, 40))
      expect(seen.length).toBe(2)
      db.refuseWrites(undefined)
      for (let i = 0; i < 500 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 2))
      expect(seen.map((c) => [c.seq, c.type, c.key, c.expired])).toEqual([
        [1, 'put', 'a', undefined],
        [2, 'put', 'b', undefined],
        [3, 'del', 'a', true],
      ])
    } finally {
      await db.close()
    }
  })
})

describe('deadline records of deleted and overwritten keys', () => {
  it('are dropped at once, and reads take the no-deadline path again', async () => {
    const db = await open({ dir: tmpDir('islab-expiry-'), durability: 'memory', checkpoint: false })
    try {
      const N = 3000
      for (let i = 0; i < N; i += 500) {
        const ops = []
        for (let j = i; j < i + 500; j++) ops.push({ type: 'put' as const, key: 'k' + j, value: j, ttlMs: 3_600_000 })
        await db.batch(ops)
      }
      await db.put('x', 1, { ttlMs: 3_600_000 })
      await db.put('y', 1, { ttlMs: 3_600_000 })
      const internals = db as unknown as { state: MemoryState; expiry: Expiry }
      const deadlines = internals.state.deadlines
      expect(deadlines.size).toBe(N + 2)
      // Deleted one by one, by a batch, overwritten without a deadline.
      for (let i = 0; i < 100; i++) await db.delete('k' + i)
      const ops = []
      for (let j = 100; j < N; j++) ops.push({ type: 'del' as const, key: 'k' + j })
      await db.batch(ops)
      await db.put('x', 2)
      await db.batch([{ type: 'put', key: 'y', value: 2 }])
      expect(deadlines.size).toBe(0)
      // The heap let go of them too (it is rebuilt once skipped items dominate).
      expect((deadlines as unknown as { heap: unknown[] }).heap.length).toBeLessThanOrEqual(1024)
      const hides = vi.spyOn(internals.expiry, 'hides')
      const hidesKey = vi.spyOn(internals.expiry, 'hidesKey')
      expect(db.get('x')).toBe(2)
      expect(db.has('y')).toBe(true)
      expect([...db.range().entries()]).toEqual([['x', 2], ['y', 2]])
      expect(hides).not.toHaveBeenCalled()
      expect(hidesKey).not.toHaveBeenCalled()
    } finally {
      await db.close()
    }
  })
})

function record(db: Database): Change[] {
  const seen: Change[] = []
  const it = db.changes()[Symbol.asyncIterator]()
  void (async () => {
    for (;;) {
      const r = await it.next().catch(() => ({ done: true as const, value: undefined }))
      if (r.done === true) return
      seen.push(r.value)
    }
  })()
  return seen
}
