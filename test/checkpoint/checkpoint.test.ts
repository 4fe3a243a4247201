import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Database, OpenOptions } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

const files = (dir: string, ext: string) =>
  fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(ext))
    .sort()

async function fill(db: Database, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await db.put(`k${i % 40}`, { i, pad: 'x'.repeat(30) })
}

async function reopen(db: Database, extra: Partial<OpenOptions> = {}): Promise<Database> {
  await db.close()
  return open({ ...db.options, ...extra })
}

describe('checkpoints', () => {
  it('recovers from the checkpoint plus the WAL after it', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync', checkpoint: false })
    await fill(db, 1, 100)
    const cp = await db.checkpoint()
    expect(cp).toMatchObject({ seq: 100, entries: 40 })
    await fill(db, 101, 130)
    await db.delete('k5')
    const expected = new Map(Array.from({ length: 40 }, (_, i) => [`k${i}`, db.get(`k${i}`)]))
    db = await reopen(db)
    const rec = db.stats().recovery!
    expect(rec).toMatchObject({ checkpointSeq: 100, checkpointKeys: 40, eventsReplayed: 31, checkpointsSkipped: [] })
    expect(db.seq).toBe(131)
    for (const [k, v] of expected) expect(db.get(k)).toEqual(v)
    expect(db.getEntry('k10')!.seq).toBe(130)
    await db.close()
  })

  it('keeps the newest `keep` checkpoints and deletes WAL segments none of them needs', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: { keep: 2 } })
    const seqs: number[] = []
    for (let round = 0; round < 4; round++) {
      await fill(db, round * 50 + 1, round * 50 + 50)
      seqs.push((await db.checkpoint())!.seq)
    }
    expect(files(dir, '.ckpt').map((n) => Number(n.slice(0, 20)))).toEqual(seqs.slice(-2))
    const segs = files(dir, '.wal').map((n) => Number(n.slice(0, 20)))
    // Every remaining segment is needed by the older kept checkpoint (or is the live one).
    expect(segs.length).toBeGreaterThan(0)
    const oldestKept = seqs[seqs.length - 2]!
    expect(segs.length === 1 || segs[1]! - 1 > oldestKept).toBe(true)
    await fill(db, 201, 210)
    db = await reopen(db)
    expect(db.seq).toBe(210)
    expect(db.stats().recovery!.checkpointSeq).toBe(200)
    await db.close()
  })

  it('skips a damaged newest checkpoint for the previous one and reports it', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync', checkpoint: false })
    await fill(db, 1, 60)
    await db.checkpoint()
    await fill(db, 61, 90)
    const newest = (await db.checkpoint())!.file
    await fill(db, 91, 95)
    const expected = db.get('k7')
    await db.close()
    for (const damage of ['flip', 'truncate'] as const) {
      const copy = tmpDir()
      fs.cpSync(dir, copy, { recursive: true })
      const f = path.join(copy, path.basename(newest))
      const b = fs.readFileSync(f)
      if (damage === 'flip') b[60] = b[60]! ^ 0xff
      fs.writeFileSync(f, damage === 'flip' ? b : b.subarray(0, b.length - 10))
      db = await open({ dir: copy })
      const rec = db.stats().recovery!
      expect(rec.checkpointSeq).toBe(60)
      expect(rec.checkpointsSkipped).toHaveLength(1)
      expect(rec.checkpointsSkipped[0]!.file).toBe(path.basename(newest))
      expect(db.seq).toBe(95)
      expect(db.get('k7')).toEqual(expected)
      await db.close()
    }
  })

  it('fails with ISLAB_CORRUPTION when no valid checkpoint remains and the log was pruned', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 512, checkpoint: { keep: 1 } })
    await fill(db, 1, 80)
    const cp = (await db.checkpoint())!
    expect(cp.segmentsDeleted.length).toBeGreaterThan(0)
    await db.close()
    fs.writeFileSync(cp.file, fs.readFileSync(cp.file).subarray(0, 100))
    const err = await open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CORRUPTION' })
    expect((err as Error).message).toMatch(/missing/)
  })

  it('does not stop writers: writes made while a checkpoint is written land after it', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'buffered', checkpoint: false })
    for (let i = 0; i < 20000; i++) void db.put(`key${i}`, { i })
    const pending = db.checkpoint()
    const during: Promise<unknown>[] = []
    for (let i = 0; i < 500; i++) during.push(db.put(`key${i}`, { i, during: true }))
    await Promise.all(during)
    const cp = (await pending)!
    expect(cp.seq).toBe(20000)
    db = await reopen(db)
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 20000, eventsReplayed: 500 })
    expect(db.get('key3')).toEqual({ i: 3, during: true })
    expect(db.get('key19999')).toEqual({ i: 19999 })
    await db.close()
  })

  it('carries extension state through a checkpoint', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: false })
    let saved = 0
    db.registerCheckpointExtension({ name: 'test.counter', save: () => Buffer.from([++saved]), load: () => undefined })
    await db.put('a', 1)
    await db.checkpoint()
    db = await reopen(db)
    const seen: number[] = []
    db.registerCheckpointExtension({ name: 'test.counter', save: () => Buffer.from([0]), load: (d) => seen.push(d[0]!) })
    expect(seen).toEqual([1])
    await db.close()
  })

  it('reports recovery progress for both phases', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: false })
    for (let i = 0; i < 10000; i++) void db.put(`k${i}`, i)
    await db.checkpoint()
    for (let i = 0; i < 100; i++) void db.put(`k${i}`, -i)
    await db.close()
    const phases: string[] = []
    let last = { done: 0, total: 0 }
    db = await open({ dir, onProgress: (p) => (phases.push(p.phase), p.phase === 'checkpoint' && (last = p)) })
    expect(phases).toContain('checkpoint')
    expect(phases).toContain('wal')
    expect(last).toMatchObject({ done: 10000, total: 10000 })
    await db.close()
  })

  it('removes a temp file left by an interrupted checkpoint', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: false })
    await db.put('a', 1)
    await db.close()
    fs.writeFileSync(path.join(dir, '00000000000000000001.ckpt.tmp'), 'partial')
    db = await open({ dir })
    expect(fs.existsSync(path.join(dir, '00000000000000000001.ckpt.tmp'))).toBe(false)
    expect(db.get('a')).toBe(1)
    await db.close()
  })

  it('resolves with undefined in memory mode', async () => {
    const db = await open({ durability: 'memory' })
    await db.put('a', 1)
    expect(await db.checkpoint()).toBeUndefined()
    await db.close()
  })
})

describe('point-in-time recovery', () => {
  it('keeps the valid prefix, moves damaged files aside and reports exactly the lost seqs', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: false })
    await fill(db, 1, 100)
    await db.close()
    const segs = files(dir, '.wal')
    expect(segs.length).toBeGreaterThan(3)
    const victim = path.join(dir, segs[1]!)
    const original = fs.readFileSync(victim)
    const b = Buffer.from(original)
    b[200] = b[200]! ^ 0x55
    fs.writeFileSync(victim, b)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION' })
    const pit = await open({ dir, recovery: 'point-in-time' })
    const rec = pit.stats().recovery!
    const firstLost = pit.seq + 1
    expect(pit.seq).toBeGreaterThanOrEqual(Number(segs[1]!.slice(0, 20)) - 1)
    expect(rec.lost).toMatchObject({ fromSeq: firstLost, toSeq: 100 })
    expect(rec.lost!.movedAside).toEqual(segs.slice(1).map((s) => `${s}.damaged`))
    // Nothing is deleted: the damaged segment is kept byte for byte.
    expect(fs.readFileSync(`${victim}.damaged`)).toEqual(b)
    // State is the model after exactly `pit.seq` writes.
    for (let k = 0; k < 40; k++) {
      const lastWrite = [...Array(pit.seq).keys()].map((i) => i + 1).filter((i) => i % 40 === k).pop()
      expect(pit.get(`k${k}`)).toEqual(lastWrite === undefined ? undefined : { i: lastWrite, pad: 'x'.repeat(30) })
    }
    expect((await pit.put('after', 1)).seq).toBe(firstLost)
    await pit.close()
    const again = await open({ dir })
    expect(again.get('after')).toBe(1)
    await again.close()
  })
})
