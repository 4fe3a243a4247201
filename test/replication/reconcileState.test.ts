// Review of reconcile's state check (fencing.ts stateHolds) for a primary whose log no longer
// holds the stream's last seq: cases where it accepted a database that is not the stream's
// writer (divergence), or accepted one that cannot publish what it wrote (its unpublished writes
// left unreported, retried forever).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { open as openCore } from '../../src/index.js'
import type { Database } from '../../src/index.js'
import { openReplicated } from '../../src/replication/index.js'
import type { ReplicatedDatabase } from '../../src/replication/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'
import { streamMessages } from './helpers.js'

let nats: Nats
let streams = 0
const newStream = () => `RS${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

const CORE = { durability: 'buffered', checkpoint: { auto: false, keep: 1 } } as const

function open(dir: string, stream: string): Promise<ReplicatedDatabase> {
  return openReplicated({ dir, ...CORE, replication: { servers: nats.url, stream, role: 'primary', snapshots: false } })
}

/** The first 'fenced' error; 'published' once `write`'s event is in the stream; 'stuck' when neither comes within 10 s. */
async function outcome(p: ReplicatedDatabase, write: () => Promise<{ seq: number }>): Promise<unknown> {
  const fenced = new Promise<unknown>((resolve) => p.replication.once('fenced', resolve))
  const published = (async () => {
    const r = await write()
    await p.replication.replicated(r.seq)
    return 'published'
  })().catch((err: unknown) => err)
  let timer: NodeJS.Timeout | undefined
  const stuck = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('stuck'), 10_000)))
  try {
    return await Promise.race([fenced, published, stuck])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Runs `mine` on the local database and `theirs` on the stream's primary in the same
 * millisecond (retried until their times agree): two writers' events at one seq that carry the
 * same time, as two primaries of one stream may write them. Each write puts `k`.
 */
async function sameMillisecond(mine: Database, theirs: ReplicatedDatabase, write: (db: Database, who: 'mine' | 'theirs') => Promise<{ seq: number }>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [a, b] = await Promise.all([write(mine, 'mine'), write(theirs, 'theirs')])
    expect(a.seq).toBe(b.seq)
    // Every write here puts `k`: its entry carries the event's time.
    if (mine.getEntry('k')!.time === theirs.getEntry('k')!.time) return
  }
  throw new Error('never wrote in the same millisecond')
}

describe("reconcile's state check does not accept another writer's event", () => {
  it('an event at the same seq and millisecond that put the same key with another value: fenced', async () => {
    const stream = newStream()
    const dirA = tmpDir()
    const theirs = await open(tmpDir(), stream)
    const mine = await openCore({ dir: dirA, ...CORE })
    // Both write `k` as their event 1 (a retry loop: each attempt is a new seq for both).
    await sameMillisecond(mine, theirs, (db, who) => db.put('k', who))
    const top = theirs.seq
    await theirs.replication.replicated(top)
    await mine.checkpoint()
    await theirs.close()
    await mine.close()
    const a = await open(dirA, stream)
    expect(a.get('k')).toBe('mine')
    const r = await outcome(a, () => a.put('after', 1))
    // Accepted, it would publish seq top + 1 on top of the other writer's `k` = 'theirs'.
    expect(r).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: top })
    expect((await streamMessages(nats.url, stream)).length).toBe(top)
    await a.close()
  })

  it("a batch of the other writer's that also deleted a key this database still holds (its own writes follow): fenced", async () => {
    const stream = newStream()
    const dirA = tmpDir()
    const theirs = await open(tmpDir(), stream)
    const mine = await openCore({ dir: dirA, ...CORE })
    await mine.put('d', 1)
    await theirs.put('d', 1)
    await sameMillisecond(mine, theirs, (db, who) =>
      who === 'mine' ? db.put('k', 'same') : db.batch([{ type: 'put', key: 'k', value: 'same' }, { type: 'del', key: 'd' }]),
    )
    const top = theirs.seq
    await theirs.replication.replicated(top)
    await mine.checkpoint()
    // Its own write after the checkpoint, never published: the state is past `top`.
    await mine.put('own', 'unpublished')
    await theirs.close()
    await mine.close()
    const a = await open(dirA, stream)
    expect(a.get('d')).toBe(1)
    const r = await outcome(a, () => a.put('after', 1))
    expect(r).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: top })
    expect((await streamMessages(nats.url, stream)).length).toBe(top)
    await a.close()
  })
})

describe('a primary whose log lost its own unpublished writes to a checkpoint', () => {
  it('is fenced with them reported, not accepted to retry a publish it can never make', async () => {
    const stream = newStream()
    const dir = tmpDir()
    const p = await open(dir, stream)
    await p.put('k', 'published')
    await p.replication.replicated(p.seq)
    const published = p.seq
    await p.close()
    // Written without replication (NATS away), then compacted: the checkpoint lets the log go
    // below it, its own unpublished event with it.
    const local = await openCore({ dir, ...CORE })
    await local.put('new:1', 'unpublished')
    await local.checkpoint()
    await local.put('new:2', 'unpublished too')
    await local.close()
    const again = await open(dir, stream)
    expect(again.seq).toBe(published + 2)
    const r = await outcome(again, () => again.put('more', 1))
    expect(r).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: published + 1, unpublishedToSeq: published + 3 })
    await again.close()
  })
})

describe('…while its own event is still accepted', () => {
  it('a key its event at the stream\'s last seq deleted and its unpublished write put again: publishes', async () => {
    const stream = newStream()
    const dir = tmpDir()
    const p = await open(dir, stream)
    await p.put('d', 'old')
    await p.batch([{ type: 'put', key: 'k', value: { n: 1, at: new Date(0), m: new Map([[1, 2]]) } }, { type: 'del', key: 'd' }])
    await p.replication.replicated(p.seq)
    await p.checkpoint()
    const published = p.seq
    await p.close()
    const local = await openCore({ dir, ...CORE })
    await local.put('d', 'again')
    await local.close()
    const again = await open(dir, stream)
    expect(await outcome(again, () => again.put('more', 1))).toBe('published')
    expect((await streamMessages(nats.url, stream)).map((m) => m.eventSeq)).toEqual([1, published, published + 1, published + 2])
    await again.close()
  })

  it('its event at the stream\'s last seq wrote one key twice (a delete then a put, two puts): the last op of each key decides, publishes', async () => {
    const stream = newStream()
    const dir = tmpDir()
    const p = await open(dir, stream)
    await p.put('k', 0)
    await p.batch([{ type: 'del', key: 'k' }, { type: 'put', key: 'k', value: 3 }, { type: 'put', key: 'j', value: 1 }, { type: 'put', key: 'j', value: 2 }])
    expect([p.get('k'), p.get('j')]).toEqual([3, 2])
    await p.replication.replicated(p.seq)
    await p.checkpoint()
    await p.close()
    const again = await open(dir, stream)
    expect(await outcome(again, () => again.put('more', 1))).toBe('published')
    await again.close()
  })

  it('opened while NATS is away, its writes meanwhile replacing the key of the stream\'s last event: the state as opened decides once NATS is back', async () => {
    const stream = newStream()
    const dir = tmpDir()
    const p = await open(dir, stream)
    await writeMixed(p)
    await p.put('k', 'published')
    await p.replication.replicated(p.seq)
    await p.checkpoint()
    const published = p.seq
    await p.close()
    await nats.stop()
    let again: ReplicatedDatabase | undefined
    try {
      again = await open(dir, stream)
      // Written before the first reconcile: the state now shows another version of `k`.
      await again.put('k', 'rewritten while NATS was away')
      for (let i = 0; i < 50; i++) await again.put(`outage:${i}`, i)
      await again.flush()
    } finally {
      await nats.start()
    }
    const db = again!
    expect(await outcome(db, () => db.put('more', 1))).toBe('published')
    expect((await streamMessages(nats.url, stream)).length).toBe(published + 52)
    await db.close()
  })
})

describe('a primary whose log no longer holds the first seq the stream lacks', () => {
  it('opened on an empty stream after a checkpoint: stalled and said (the stalled event), not disconnected forever', async () => {
    const dir = tmpDir()
    const local = await openCore({ dir, ...CORE })
    for (let i = 0; i < 5; i++) await local.put(`k${i}`, i)
    await local.checkpoint()
    await local.close()
    const p = await open(dir, newStream())
    let timer: NodeJS.Timeout | undefined
    const stalled = await Promise.race([
      new Promise<unknown>((resolve) => p.replication.once('stalled', resolve)),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no stalled event'), 10_000))),
    ])
    clearTimeout(timer)
    expect(stalled).toMatchObject({ code: 'ISLAB_REPLICATION', message: expect.stringContaining('no longer holds seq 1') })
    expect(p.stats().replication).toMatchObject({ state: 'stalled', appliedSeq: 0 })
    await p.close()
  })
})

async function writeMixed(db: Database): Promise<void> {
  for (let i = 0; i < 20; i++) await db.put(`m:${i % 7}`, i)
}

