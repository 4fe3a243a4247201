// Change and event streams on a directory whose log has no segment at all: what `islab compact
// --keep 1` and `islab replay --out` leave (one checkpoint), until the next write creates one.
// Everything up to the checkpoint's seq is gone from the log, so a stream from before it must
// say so (ISLAB_HISTORY_GONE, oldest seq = checkpoint + 1), as it does when segments exist but
// start later — not complete empty, or wait.
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { run as compact } from '../../src/cli/commands/compact.js'
import { open } from '../../src/index.js'
import type { Change, ChangeStream, Database } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

async function take<V>(stream: ChangeStream<V>, n: number): Promise<Change<V>[]> {
  const out: Change<V>[] = []
  for await (const ch of stream) {
    out.push(ch)
    if (out.length >= n) break
  }
  return out
}

/** Resolves to 'hung' if `p` has not settled after `ms` (a liveness check, not a timing one). */
function settles<T>(p: Promise<T>, ms = 3000): Promise<T | 'hung'> {
  return Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms).unref())])
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return settles(p.then(() => 'no error', (err: unknown) => err))
}

const walFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.wal'))

/** A database of 60 events compacted to one checkpoint: no WAL segment left. */
async function compacted(): Promise<string> {
  const dir = tmpDir()
  const w = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: false })
  for (let i = 0; i < 60; i++) await w.put(`k${i % 7}`, i)
  await w.close()
  const write = process.stdout.write
  process.stdout.write = () => true // compact's report
  try {
    expect(await compact({ values: { keep: '1' }, positionals: [dir] })).toBe(0)
  } finally {
    process.stdout.write = write
  }
  expect(walFiles(dir)).toEqual([])
  return dir
}

/** From before the checkpoint: rejects at once with ISLAB_HISTORY_GONE, live or not, changes or events. */
async function expectHistoryGone(db: Database): Promise<void> {
  for (const since of [50, 0]) {
    for (const live of [false, true]) {
      const err = await failure(take(db.changes({ since, live }), 1))
      expect(err).toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: 61 })
      expect((err as Error).message).toMatch(/oldest available seq is 61/)
      const it = db.events({ since, live })[Symbol.asyncIterator]()
      expect(await failure(it.next())).toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: 61 })
    }
  }
  // Only the seqs the log cannot hold are refused: from the checkpoint on, nothing is missing.
  expect(await settles(take(db.changes({ since: 60, live: false }), 1))).toEqual([])
}

describe('changes() on a log with no segment', () => {
  it('a writer: rejects a stream from before the checkpoint, and streams from its seq on', async () => {
    const dir = await compacted()
    const db = await open({ dir, durability: 'sync', checkpoint: false })
    expect(db.seq).toBe(60)
    await expectHistoryGone(db)
    const live = take(db.changes({ since: db.seq }), 2)
    await db.put('after', 1)
    await db.put('after', 2)
    expect((await live).map((c) => [c.seq, c.value])).toEqual([
      [61, 1],
      [62, 2],
    ])
    // Now that a segment exists, the same stream from before the checkpoint says the same.
    expect(await failure(take(db.changes({ since: 50, live: false }), 1))).toMatchObject({ code: 'ISLAB_HISTORY_GONE', oldestSeq: 61 })
    await db.close()
  })

  it('a read-only database: the same, and follows what a writer then writes', async () => {
    const dir = await compacted()
    const ro = await open({ dir, readOnly: true, followMs: false })
    expect(ro.seq).toBe(60)
    await expectHistoryGone(ro)
    const live = take(ro.changes({ since: ro.seq }), 2)
    const w = await open({ dir, durability: 'sync', checkpoint: false })
    await w.put('after', 1)
    await w.put('after', 2)
    expect(await ro.refresh()).toBe(62)
    expect((await live).map((c) => [c.seq, c.value])).toEqual([
      [61, 1],
      [62, 2],
    ])
    await w.close()
    await ro.close()
  })
})
