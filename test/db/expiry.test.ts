// Expiry: deadlines on puts (ttlMs / expiresAt), lazy expiry on read, the sweeper, expiry
// events in the log, change streams and time travel, and deadlines across reopen and checkpoints.
// The wall clock is faked (Date only: timers stay real), so a deadline passes when the test
// says so; tests wait for expiry events, never for a duration.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { open } from '../../src/index.js'
import type { Change, Database, Durability, OpenOptions } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { readLog } from '../../src/wal/logReader.js'
import type { WalEvent } from '../../src/events/types.js'
import { tmpDir } from '../helpers/tmpdir.js'

const T0 = 1_800_000_000_000
/** A sweeper that never runs within a test: only reads expire. */
const NO_SWEEP = { sweepIntervalMs: 3_600_000 }
/** A sweeper that runs all the time. */
const SWEEP = { sweepIntervalMs: 2 }

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(T0)
})
afterEach(() => {
  vi.useRealTimers()
})

/**
 * Records the changes of `db` from now on (subscribed at once: memory mode has no log to catch
 * up from). `until(n)` waits until n changes were seen.
 */
function record(db: Database): { seen: Change[]; until: (n: number) => Promise<Change[]> } {
  const seen: Change[] = []
  const it = db.changes()[Symbol.asyncIterator]()
  void (async () => {
    for (;;) {
      const r = await it.next().catch(() => ({ done: true as const, value: undefined }))
      if (r.done === true) return
      seen.push(r.value)
    }
  })()
  return {
    seen,
    until: async (n) => {
      while (seen.length < n) await new Promise((r) => setImmediate(r))
      return seen.slice(0, n)
    },
  }
}

/** The next `n` changes of an iterator. */
async function take(it: AsyncIterator<Change>, n: number): Promise<Change[]> {
  const out: Change[] = []
  while (out.length < n) {
    const r = await it.next()
    if (r.done === true) break
    out.push(r.value)
  }
  return out
}

async function logOf(dir: string): Promise<WalEvent[]> {
  const evs: WalEvent[] = []
  await readLog(nodeFileLayer, dir, (ev) => evs.push(ev))
  return evs
}

/** Turns of the event loop: a queued expiry (a microtask) runs, an immediate-scheduled commit too. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r))
}

describe.each(['sync', 'buffered', 'memory'] as Durability[])('expiry (%s)', (durability) => {
  const openDb = (o: OpenOptions = {}): Promise<Database> => open({ dir: tmpDir('islab-expiry-'), durability, checkpoint: false, ...o })

  it('hides a key on read once its deadline passes, then logs its expiry', async () => {
    const db = await openDb({ expiry: NO_SWEEP })
    const changes = record(db)
    await db.put('k', 'v', { ttlMs: 1000 })
    await db.put('other', 1)
    expect(db.getEntry('k')).toEqual({ value: 'v', seq: 1, time: T0, expiresAt: T0 + 1000 })
    vi.setSystemTime(T0 + 999)
    expect(db.get('k')).toBe('v')
    expect(db.has('k')).toBe(true)
    vi.setSystemTime(T0 + 1000)
    expect(db.get('k')).toBeUndefined()
    expect(db.has('k')).toBe(false)
    expect(db.getEntry('k')).toBeUndefined()
    expect([...db.range().entries()]).toEqual([['other', 1]])
    expect(db.seq).toBe(2)
    await settle()
    // The read queued the expiry event: a delete with seq 3, and the key is gone from the state.
    expect(db.seq).toBe(3)
    expect(db.size).toBe(1)
    const seen = await changes.until(3)
    expect(seen.map((c) => [c.seq, c.type, c.key, c.expired, c.expiresAt])).toEqual([
      [1, 'put', 'k', undefined, T0 + 1000],
      [2, 'put', 'other', undefined, undefined],
      [3, 'del', 'k', true, undefined],
    ])
    await db.close()
  })

  it('expiresAt(key) answers the current deadline without the value, as getEntry does', async () => {
    const db = await openDb({ expiry: NO_SWEEP })
    await db.put('plain', 'v')
    expect(db.expiresAt('plain')).toBeUndefined()
    await db.put('k', 'v', { ttlMs: 1000 })
    expect(db.expiresAt('k')).toBe(T0 + 1000)
    expect(db.expiresAt('nokey')).toBeUndefined()
    expect(db.expiresAt('plain')).toBeUndefined()
    // A put without a deadline clears it; a new deadline replaces it.
    await db.put('k', 'w')
    expect(db.expiresAt('k')).toBeUndefined()
    await db.batch([{ type: 'put', key: 'k', value: 'x', expiresAt: T0 + 500 }])
    expect(db.expiresAt('k')).toBe(db.getEntry('k')!.expiresAt)
    vi.setSystemTime(T0 + 500)
    expect(db.expiresAt('k')).toBeUndefined()
    expect(db.has('k')).toBe(false)
    await db.close()
  })

  it('the sweeper expires keys nobody reads, and change streams see it', async () => {
    const db = await openDb({ expiry: SWEEP })
    const changes = record(db)
    await db.batch([
      { type: 'put', key: 'a', value: 1, ttlMs: 50 },
      { type: 'put', key: 'b', value: 2, expiresAt: T0 + 20 },
      { type: 'put', key: 'c', value: 3 },
    ])
    await db.put('d', 4, { ttlMs: 10_000 })
    expect(db.getEntry('a')?.expiresAt).toBe(T0 + 50)
    expect(db.getEntry('b')?.expiresAt).toBe(T0 + 20)
    expect(db.getEntry('c')).not.toHaveProperty('expiresAt')
    await changes.until(4) // a batch is one change per op
    vi.setSystemTime(T0 + 60)
    const expired = (await changes.until(6)).slice(4)
    // Earliest deadline first.
    expect(expired.map((c) => [c.type, c.key, c.expired])).toEqual([
      ['del', 'b', true],
      ['del', 'a', true],
    ])
    expect(db.size).toBe(2)
    expect(db.get('c')).toBe(3)
    expect(db.get('d')).toBe(4)
    await db.close()
  })

  it('a put without a deadline clears the old one; a put with one replaces it', async () => {
    const db = await openDb({ expiry: SWEEP })
    await db.put('k', 1, { ttlMs: 100 })
    await db.put('k', 2)
    await db.put('j', 1, { ttlMs: 100 })
    await db.put('j', 2, { ttlMs: 1000 })
    expect(db.getEntry('k')).not.toHaveProperty('expiresAt')
    expect(db.getEntry('j')?.expiresAt).toBe(T0 + 1000)
    const changes = record(db)
    vi.setSystemTime(T0 + 500)
    await db.put('probe', 0, { ttlMs: 1 })
    vi.setSystemTime(T0 + 502)
    // The probe's expiry comes after every deadline before it was examined (the heap is ordered).
    const seen = await changes.until(2)
    expect(seen.map((c) => [c.type, c.key])).toEqual([
      ['put', 'probe'],
      ['del', 'probe'],
    ])
    expect(db.get('k')).toBe(2)
    expect(db.get('j')).toBe(2)
    await db.close()
  })

  it('a write that refreshed the key before its expiry event is never deleted by it', async () => {
    const db = await openDb({ expiry: NO_SWEEP })
    await db.put('k', 'old', { ttlMs: 10 })
    vi.setSystemTime(T0 + 10)
    expect(db.get('k')).toBeUndefined() // queues the expiry of seq 1
    const refreshed = db.put('k', 'new') // seq 2, before the queued expiry runs
    await refreshed
    await settle()
    expect(db.get('k')).toBe('new')
    expect(db.seq).toBe(2)
    await db.close()
  })

  it('rejects bad deadlines before anything is logged', async () => {
    const db = await openDb()
    const bad: unknown[] = [
      { ttlMs: 1, expiresAt: T0 },
      { ttlMs: -1 },
      { ttlMs: Number.NaN },
      { ttlMs: Infinity },
      { ttlMs: '100' },
      { expiresAt: -5 },
      { expiresAt: Infinity },
      { expiresAt: new Date(T0) },
      { ttl: 5 },
    ]
    for (const opts of bad) {
      await expect(db.put('k', 1, opts as never)).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
      await expect(db.batch([{ type: 'put', key: 'k', value: 1, ...(opts as object) }])).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    }
    await expect(db.put('k', 1, { ttlMs: 1, expiresAt: 2 })).rejects.toThrow(/either ttlMs .* or expiresAt/)
    await expect(db.put('k', 1, { ttlMs: -1 })).rejects.toThrow(/leave it out for a key that never expires/)
    expect(db.seq).toBe(0)
    expect(db.size).toBe(0)
    await db.close()
  })
})

describe.each(['binary', 'json'] as const)('expiry in the log (%s WAL)', (walFormat) => {
  const base = (dir: string, o: OpenOptions = {}): OpenOptions => ({ dir, durability: 'sync', walFormat, checkpoint: false, ...o })

  it('logs deadlines and expiry events; after a reopen the key stays gone', async () => {
    const dir = tmpDir('islab-expiry-log-')
    const db = await open(base(dir, { expiry: SWEEP }))
    const live = db.changes()[Symbol.asyncIterator]()
    await db.put('k', { n: 1 }, { ttlMs: 30 })
    await db.batch([
      { type: 'put', key: 'b1', value: 'x'.repeat(2000), ttlMs: 40 },
      { type: 'put', key: 'b2', value: 2 },
    ])
    vi.setSystemTime(T0 + 100)
    await take(live, 4)
    await db.close()
    const log = await logOf(dir)
    expect(log.map((ev) => (ev.type === 'batch' ? ev.ops.map((o) => ({ ...o, value: undefined })) : { ...ev, value: undefined }))).toEqual([
      { type: 'put', seq: 1, time: T0, key: 'k', value: undefined, expiresAt: T0 + 30 },
      [
        { type: 'put', key: 'b1', value: undefined, expiresAt: T0 + 40 },
        { type: 'put', key: 'b2', value: undefined },
      ],
      { type: 'del', seq: 3, time: T0 + 100, key: 'k', value: undefined, expired: true },
      { type: 'del', seq: 4, time: T0 + 100, key: 'b1', value: undefined, expired: true },
    ])
    const again = await open(base(dir, { expiry: NO_SWEEP }))
    expect(again.seq).toBe(4)
    expect(again.get('k')).toBeUndefined()
    expect(again.get('b1')).toBeUndefined()
    expect(again.get('b2')).toBe(2)
    expect(again.size).toBe(1)
    await again.close()
  })

  it('deadlines survive a reopen; versions recovered past their deadline are hidden at once, then expired', async () => {
    const dir = tmpDir('islab-expiry-rec-')
    const db = await open(base(dir))
    await db.put('soon', 1, { ttlMs: 100 })
    await db.put('later', 2, { expiresAt: T0 + 10_000 })
    await db.put('never', 3)
    await db.close()

    const mid = await open(base(dir, { expiry: NO_SWEEP }))
    expect(mid.getEntry('soon')).toEqual({ value: 1, seq: 1, time: T0, expiresAt: T0 + 100 })
    expect(mid.getEntry('later')?.expiresAt).toBe(T0 + 10_000)
    expect(mid.getEntry('never')).not.toHaveProperty('expiresAt')
    await mid.close()

    vi.setSystemTime(T0 + 5000)
    const late = await open(base(dir, { expiry: NO_SWEEP }))
    expect(late.get('soon')).toBeUndefined()
    expect(late.get('later')).toBe(2)
    await late.close()

    // With the sweeper on, the expiry event is written without any read.
    const swept = await open(base(dir, { expiry: SWEEP }))
    const rest = swept.changes({ since: 3 })[Symbol.asyncIterator]()
    const [ch] = await take(rest, 1)
    expect(ch).toMatchObject({ type: 'del', key: 'soon', expired: true })
    expect(swept.size).toBe(2)
    await swept.close()
  })

  it('a checkpoint keeps the deadlines of the versions it holds', async () => {
    const dir = tmpDir('islab-expiry-ckpt-')
    const db = await open(base(dir, { expiry: NO_SWEEP }))
    await db.put('a', 1, { ttlMs: 100 })
    await db.put('b', 2, { expiresAt: T0 + 200 })
    await db.put('c', 3, { ttlMs: 100 })
    await db.put('c', 4) // its deadline goes with its old version
    await db.put('d', 5)
    const cp = await db.checkpoint()
    expect(cp?.seq).toBe(5)
    await db.close()

    const again = await open(base(dir, { expiry: NO_SWEEP }))
    expect(again.stats().recovery?.checkpointSeq).toBe(5)
    expect(again.getEntry('a')?.expiresAt).toBe(T0 + 100)
    expect(again.getEntry('b')?.expiresAt).toBe(T0 + 200)
    expect(again.getEntry('c')).toEqual({ value: 4, seq: 4, time: T0 })
    expect(again.getEntry('d')).not.toHaveProperty('expiresAt')
    vi.setSystemTime(T0 + 150)
    expect(again.get('a')).toBeUndefined()
    expect(again.get('b')).toBe(2)
    expect(again.get('c')).toBe(4)
    await again.close()
  })
})

describe('expiry and time travel', () => {
  it('getAt and history see the key until its expiry event, absent from it on', async () => {
    const dir = tmpDir('islab-expiry-tt-')
    const db = await open({ dir, durability: 'sync', checkpoint: false, expiry: SWEEP })
    const live = db.changes()[Symbol.asyncIterator]()
    await db.put('k', 'v', { ttlMs: 100 }) // seq 1 at T0
    await take(live, 1)
    vi.setSystemTime(T0 + 500)
    const [exp] = await take(live, 1) // seq 2, at T0 + 500
    expect(exp).toMatchObject({ seq: 2, type: 'del', expired: true, time: T0 + 500 })
    expect(await db.getAt('k', { seq: 1 })).toBe('v')
    expect(await db.getAt('k', { seq: 2 })).toBeUndefined()
    // Time travel answers from the log: past the deadline but before the expiry event, the value is there.
    expect(await db.getAt('k', { time: T0 + 200 })).toBe('v')
    expect(await db.getAt('k', { time: T0 + 500 })).toBeUndefined()
    const versions = []
    for await (const v of db.history('k')) versions.push([v.seq, v.type])
    expect(versions).toEqual([
      [1, 'put'],
      [2, 'del'],
    ])
    await db.close()
  })
})

describe('expiry options', () => {
  it('checks the expiry option names and values', async () => {
    await expect(open({ durability: 'memory', expiry: { sweepIntervalMS: 5 } as never })).rejects.toThrow(/expiry\.sweepIntervalMs/)
    await expect(open({ durability: 'memory', expiry: { sweepBudgetMs: 0 } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    const db = await open({ durability: 'memory', expiry: { sweepIntervalMs: 7, sweepBudgetMs: 3 } })
    expect(db.options.expiry).toEqual({ sweepIntervalMs: 7, sweepBudgetMs: 3 })
    await db.close()
  })
})
