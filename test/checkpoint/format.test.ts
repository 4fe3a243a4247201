import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { CheckpointDamage, readCheckpoint } from '../../src/checkpoint/checkpointReader.js'
import { CHECKPOINT_HEADER_BYTES, FRAME_ENTRIES, FRAME_PLAIN_ENTRIES } from '../../src/checkpoint/format.js'
import { open } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

// Written by the version 1 writer (git 6eea80f): user:0…user:4999 ({ id, name, tags, score }),
// user:7 rewritten as 'rewritten', non-ASCII keys, a byte value, 'gone' deleted, 'user:1'
// entangled with 'user:2', 'expiring' with a deadline in 2100. Seq 5009, 5005 keys, two chunks.
const V1 = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/checkpoint-v1/00000000000000005009.ckpt')

function withV1(): string {
  const dir = tmpDir()
  fs.copyFileSync(V1, path.join(dir, path.basename(V1)))
  return dir
}

/** The frames of a checkpoint file: kind and payload start, in order. */
function frames(b: Buffer): { kind: number; at: number; len: number }[] {
  const out: { kind: number; at: number; len: number }[] = []
  for (let p = CHECKPOINT_HEADER_BYTES; p < b.length; ) {
    const len = b.readUInt32LE(p + 1)
    out.push({ kind: b[p]!, at: p, len })
    p += 9 + len
  }
  return out
}

describe('checkpoint format versions', () => {
  it('opens a database from a version 1 checkpoint (LZ4 chunks), with its extensions', async () => {
    const dir = withV1()
    const db = await open({ dir, durability: 'buffered' })
    const rec = db.stats().recovery!
    expect(rec).toMatchObject({ checkpointSeq: 5009, checkpointKeys: 5005, checkpointsSkipped: [], eventsReplayed: 0 })
    expect(db.seq).toBe(5009)
    expect(db.size).toBe(5005)
    expect(db.get('user:0')).toEqual({ id: 0, name: 'n0', tags: ['a', 0], score: 0 })
    expect(db.get('user:4999')).toEqual({ id: 4999, name: 'n4999', tags: ['a', 4999 % 7], score: 4999 / 8 })
    expect(db.get('user:7')).toBe('rewritten')
    expect(db.get('ключ')).toBe('значение')
    expect(db.get('日本')).toEqual([1, 2, 3])
    expect(db.get('emoji 😀')).toEqual({ nested: { deep: true } })
    expect(db.get('bytes')).toEqual(new Uint8Array([0, 1, 2, 255]))
    expect(db.has('gone')).toBe(false)
    expect(db.get('expiring')).toBe('later')
    await db.close()
  })

  it('writes version 2 (plain entries frames) after loading a version 1 checkpoint, and reads it back the same', async () => {
    const dir = withV1()
    let db = await open({ dir, durability: 'buffered' })
    const before = new Map([...Array(5000).keys()].map((i) => [`user:${i}`, db.get(`user:${i}`)]))
    await db.put('after', 1)
    const cp = (await db.checkpoint())!
    await db.close()
    const b = fs.readFileSync(cp.file)
    expect(b.readUInt16LE(8)).toBe(2)
    const kinds = frames(b).map((f) => f.kind)
    expect(kinds.filter((k) => k === FRAME_PLAIN_ENTRIES)).toHaveLength(2) // 5006 keys: 4096 + 1910
    expect(kinds).not.toContain(FRAME_ENTRIES)
    db = await open({ dir, durability: 'buffered' })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 5010, checkpointKeys: 5006, eventsReplayed: 0 })
    for (const [k, v] of before) expect(db.get(k)).toEqual(v)
    expect(db.get('after')).toBe(1)
    expect(db.get('ключ')).toBe('значение')
    expect(db.has('gone')).toBe(false)
    await db.close()
  })

  it('treats a version 1 entries frame in a version 2 file as damage (the kind byte is outside the checksum)', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', checkpoint: false })
    await db.batch([...Array(5000).keys()].map((i) => ({ type: 'put' as const, key: `k${i}`, value: i })))
    const cp = (await db.checkpoint())!
    await db.close()
    const b = fs.readFileSync(cp.file)
    // The second chunk: found at verification, not after the first chunk was delivered.
    const entries = frames(b).filter((f) => f.kind === FRAME_PLAIN_ENTRIES)[1]!
    b[entries.at] = FRAME_ENTRIES
    fs.writeFileSync(cp.file, b)
    let delivered = 0
    expect(() => readCheckpoint(nodeFileLayer, cp.file, (_r, n) => (delivered += n))).toThrow(CheckpointDamage)
    expect(delivered).toBe(0)
    // And a plain entries frame in a version 1 file.
    const v1 = fs.readFileSync(V1)
    v1[frames(v1).find((f) => f.kind === FRAME_ENTRIES)!.at] = FRAME_PLAIN_ENTRIES
    const bad = path.join(dir, 'v1.ckpt')
    fs.writeFileSync(bad, v1)
    expect(() => readCheckpoint(nodeFileLayer, bad, () => undefined)).toThrow(/unknown frame kind 3/)
  })
})

describe('a new WAL segment after a checkpoint', () => {
  const segments = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).sort()

  it('starts one at seq + 1 when nothing was written meanwhile: the covered segment is pruned and open reads none of it', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync', checkpoint: { keep: 1, auto: false } })
    for (let i = 1; i <= 50; i++) await db.put(`k${i}`, i)
    await db.checkpoint()
    expect(segments(dir)).toEqual(['00000000000000000051.wal'])
    await db.close()
    db = await open({ dir, durability: 'sync' })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 50, eventsReplayed: 0, segmentsRead: 1 })
    await db.put('k51', 51)
    await db.close()
    db = await open({ dir })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 50, eventsReplayed: 1 })
    for (let i = 1; i <= 51; i++) expect(db.get(`k${i}`)).toBe(i)
    expect(segments(dir)).toEqual(['00000000000000000051.wal'])
    await db.close()
  })

  it('regression: the empty segment a checkpoint started is replaced, not sealed, when reopened with another walFormat', async () => {
    // The writer sealed the empty 2.wal at its header's length in the MANIFEST, then started a
    // JSON 2.wal under the same name and wrote to it: the next open failed with ISLAB_CORRUPTION.
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync', checkpoint: { keep: 1, auto: false } })
    await db.put('a', 1)
    await db.checkpoint()
    expect(segments(dir)).toEqual(['00000000000000000002.wal'])
    await db.close()
    db = await open({ dir, durability: 'sync', walFormat: 'json' })
    await db.put('b', 2)
    await db.close()
    db = await open({ dir })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 1, eventsReplayed: 1 })
    expect([db.get('a'), db.get('b')]).toEqual([1, 2])
    await db.close()
  })

  it('keeps the segment going when a write arrived during the checkpoint, and loses nothing', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync', checkpoint: { keep: 1, auto: false } })
    for (let i = 1; i <= 50; i++) await db.put(`k${i}`, i)
    const [cp] = await Promise.all([db.checkpoint(), db.put('k51', 51)])
    expect(cp!.seq).toBe(50)
    expect(segments(dir)).toEqual(['00000000000000000001.wal'])
    await db.close()
    db = await open({ dir })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 50, eventsReplayed: 1 })
    for (let i = 1; i <= 51; i++) expect(db.get(`k${i}`)).toBe(i)
    await db.close()
  })
})
