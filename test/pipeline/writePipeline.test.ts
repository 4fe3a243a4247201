// An exception inside a pipeline stage (issue 15, finding 12) fails the database cleanly: coded
// rejections (ISLAB_FAILED), later writes refused at once, no uncaught exception, no hang, and
// flush()/close() say so. Faults are injected by replacing internal methods the stages call.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Database, WriteFailure } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

// Reaching into internals is the point here: these are the objects the stages call.
interface Internals {
  state: { replay(ev: { key: string }): void; apply(ev: { key: string }): unknown }
  feed: { markDurable(seq: number): void; publish(): unknown }
  wal: { append(ev: { key: string }): number }
}
const internals = (db: Database): Internals => db as unknown as Internals

/** Replaces `obj[name]` with a version that throws for the key 'boom' (any call, with `always`). */
function throwOn<T extends object>(obj: T, name: keyof T & string, always = false): void {
  const orig = (obj[name] as (...a: unknown[]) => unknown).bind(obj)
  ;(obj as Record<string, unknown>)[name] = (...args: unknown[]) => {
    if (always || (args[0] as { key?: string }).key === 'boom') throw new Error(`injected fault in ${name}`)
    return orig(...args)
  }
}

const uncaught: unknown[] = []
const onUncaught = (err: unknown): void => {
  uncaught.push(err)
}
beforeEach(() => {
  uncaught.length = 0
  process.on('uncaughtException', onUncaught)
})
afterEach(async () => {
  // RxJS rethrows unhandled errors from a timer: give it a few turns to show up.
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 5))
  process.off('uncaughtException', onUncaught)
  expect(uncaught).toEqual([])
})

async function expectFailedDatabase(db: Database, failure: Promise<WriteFailure>): Promise<void> {
  const error = await failure
  expect(error.code).toBe('ISLAB_FAILED')
  await expect(db.put('later', 1)).rejects.toBe(error)
  await expect(db.batch([{ type: 'put', key: 'later', value: 1 }])).rejects.toBe(error)
  await expect(db.flush()).rejects.toBe(error)
  expect(db.stats().failure).toMatchObject({ code: 'ISLAB_FAILED' })
  await expect(db.close()).rejects.toBe(error)
}

describe('a stage that throws', () => {
  for (const durability of ['buffered', 'sync', 'memory'] as const) {
    it(`applyToState (${durability}): the write rejects with ISLAB_FAILED, later ones at once, close() settles`, { timeout: 20_000 }, async () => {
      const dir = tmpDir()
      const db = await open({ dir, durability, checkpoint: false })
      await db.put('before', 1)
      await db.flush()
      const failure = new Promise<WriteFailure>((resolve) => db.once('failure', resolve))
      throwOn(internals(db).state, durability === 'sync' ? 'apply' : 'replay')
      await expect(db.put('boom', 2)).rejects.toMatchObject({ code: 'ISLAB_FAILED' })
      await expectFailedDatabase(db, failure)
      if (durability === 'memory') return
      const again = await open({ dir, checkpoint: false })
      expect(again.get('before')).toBe(1)
      expect(again.has('boom')).toBe(false)
      await again.close()
    })
  }

  it('appendToWal (buffered): the write is not acknowledged, it rejects', { timeout: 20_000 }, async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', checkpoint: false })
    const failure = new Promise<WriteFailure>((resolve) => db.once('failure', resolve))
    throwOn(internals(db).wal, 'append')
    await expect(db.put('boom', 2)).rejects.toMatchObject({ code: 'ISLAB_FAILED' })
    await expectFailedDatabase(db, failure)
  })

  it('after the acknowledgement (buffered, in publish): the acknowledged write is reported lost', { timeout: 20_000 }, async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', checkpoint: false })
    await db.put('before', 1)
    await db.flush()
    const failure = new Promise<WriteFailure>((resolve) => db.once('failure', resolve))
    // The change feed's applied$ is the last stage; a subscriber inside the pipeline that throws.
    const feed = internals(db).feed as unknown as { applied$: { pipe(...a: unknown[]): unknown } }
    const applied = feed.applied$ as unknown as { next(v: { key: string }): void }
    const next = applied.next.bind(applied)
    applied.next = (v) => {
      if (v.key === 'boom') throw new Error('injected fault in publish')
      next(v)
    }
    await expect(db.put('boom', 2)).resolves.toEqual({ seq: 2 })
    const error = await failure
    expect(error).toMatchObject({ code: 'ISLAB_FAILED', lostFromSeq: 2, lostToSeq: 2 })
    await expectFailedDatabase(db, Promise.resolve(error))
    const again = await open({ dir, checkpoint: false })
    expect(again.seq).toBe(1)
    await again.close()
  })

  it('in the commit outcome stages (sync): a durable write still resolves, later writes reject, nothing hangs', { timeout: 20_000 }, async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', checkpoint: false })
    await db.put('before', 1)
    const failure = new Promise<WriteFailure>((resolve) => db.once('failure', resolve))
    throwOn(internals(db).feed, 'markDurable', true)
    // Its commit succeeded before the stage threw: it is on disk, and says so.
    const results = await Promise.allSettled([db.put('a', 2), db.put('b', 3)])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
    await expectFailedDatabase(db, failure)
    const again = await open({ dir, checkpoint: false })
    expect([again.get('before'), again.get('a'), again.get('b')]).toEqual([1, 2, 3])
    await again.close()
  })
})
