// Recovery reads a checkpoint in pieces while it loads it (readCheckpointSliced): the same
// entries as the whole-file reader, reads overlapping the load, and damage anywhere — before or
// after chunks were delivered, or at the footer — still a CheckpointDamage with the whole-file
// reader's reason, so recovery skips the file.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CheckpointDamage, readCheckpoint, readCheckpointSliced } from '../../src/checkpoint/checkpointReader.js'
import { CHECKPOINT_HEADER_BYTES } from '../../src/checkpoint/format.js'
import { open } from '../../src/index.js'
import type { FileLayer } from '../../src/io/fileLayer.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** A database with ~7 MB of checkpoint (several of the reader's 2 MiB pieces) and its file. */
async function bigCheckpoint(older = false): Promise<{ dir: string; file: string; seq: number }> {
  const dir = tmpDir()
  const db = await open({ dir, durability: 'buffered', checkpoint: false })
  // With an older checkpoint (keys 0-9), the log after it stays: recovery can fall back to it.
  if (older) {
    for (let i = 0; i < 10; i++) await db.put(`key:${i}`, { id: i, pad: 'x'.repeat(100 + (i % 50)) })
    await db.checkpoint()
  }
  for (let i = older ? 10 : 0; i < 50_000; i++) void db.put(`key:${i}`, { id: i, pad: 'x'.repeat(100 + (i % 50)) })
  await db.flush()
  const cp = (await db.checkpoint())!
  await db.close()
  return { dir, file: cp.file, seq: cp.seq }
}

/** Every entry a reader delivers, as text: key, seq, time, value bytes, hash. */
function collector(): { sink: Parameters<typeof readCheckpoint>[2]; out: string[] } {
  const out: string[] = []
  const sink = (raw: Buffer, n: number, pos: Int32Array, nums: Float64Array, hashes: Int32Array | undefined): void => {
    for (let k = 0; k < n; k++) {
      const key = raw.toString('utf8', pos[4 * k]!, pos[4 * k]! + pos[4 * k + 1]!)
      const value = raw.toString('hex', pos[4 * k + 2]!, pos[4 * k + 2]! + pos[4 * k + 3]!)
      out.push(`${key} ${nums[2 * k]} ${nums[2 * k + 1]} ${value} ${hashes?.[k]}`)
    }
  }
  return { sink, out }
}

async function damageOf(p: Promise<unknown>): Promise<CheckpointDamage> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(CheckpointDamage)
  return err as CheckpointDamage
}

function damageOfSync(f: () => unknown): CheckpointDamage {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointDamage)
    return err as CheckpointDamage
  }
  throw new Error('no damage reported')
}

describe('readCheckpointSliced (reading while loading)', () => {
  it('delivers what readCheckpoint delivers, told the count first, later pieces already being read', async () => {
    const { file, seq } = await bigCheckpoint()
    expect(fs.statSync(file).size).toBeGreaterThan(3 * 2 * 1024 * 1024)
    const whole = collector()
    const a = readCheckpoint(nodeFileLayer, file, whole.sink, undefined, seq)
    let issued = 0
    let bytes = 0
    let issuedAtFirstChunk = 0
    const files: FileLayer = {
      ...nodeFileLayer,
      readIntoAsync(p, position, target, at, length) {
        issued++
        bytes += length
        return nodeFileLayer.readIntoAsync(p, position, target, at, length)
      },
    }
    const streamed = collector()
    let counted: number | undefined
    const b = await readCheckpointSliced(
      files,
      file,
      (raw, n, pos, nums, hashes) => {
        expect(counted).toBe(50_000)
        if (issuedAtFirstChunk === 0) issuedAtFirstChunk = issued
        streamed.sink(raw, n, pos, nums, hashes)
      },
      () => undefined,
      undefined,
      seq,
      (n) => (counted = n),
    )
    expect(streamed.out).toEqual(whole.out)
    expect(streamed.out).toHaveLength(50_000)
    expect({ ...b, extensions: [...b.extensions] }).toEqual({ ...a, extensions: [...a.extensions] })
    // Later pieces were asked for before the first chunk was loaded (reads overlap the load), and each byte was read once.
    expect(issuedAtFirstChunk).toBeGreaterThan(1)
    expect(bytes).toBe(fs.statSync(file).size)
  })

  it('reports damage as readCheckpoint does: a frame near the end (after chunks were delivered), the footer, a cut file', async () => {
    const { file, seq } = await bigCheckpoint()
    const good = fs.readFileSync(file)
    const cases: [string, (b: Buffer) => Buffer][] = [
      ['a byte of the last entries frame', (b) => (b[b.length - 200] ^= 0x40, b)],
      ['a byte of the first entries frame', (b) => (b[CHECKPOINT_HEADER_BYTES + 50] ^= 0x01, b)],
      ['the footer', (b) => (b[b.length - 3] ^= 0x01, b)],
      ['cut in the middle', (b) => b.subarray(0, b.length >> 1)],
      ['cut before the footer', (b) => b.subarray(0, b.length - 33)],
      ['the header', (b) => (b[3] ^= 0x01, b)],
    ]
    for (const [what, damage] of cases) {
      fs.writeFileSync(file, damage(Buffer.from(good)))
      const want = damageOfSync(() => readCheckpoint(nodeFileLayer, file, () => undefined, undefined, seq))
      let delivered = 0
      const got = await damageOf(readCheckpointSliced(nodeFileLayer, file, (_r, n) => (delivered += n), () => undefined, undefined, seq))
      expect({ what, offset: got.offset, reason: got.reason }).toEqual({ what, offset: want.offset, reason: want.reason })
      if (what === 'a byte of the last entries frame') expect(delivered).toBeGreaterThan(0)
    }
  })

  it('recovery skips a checkpoint damaged after its first pieces were loaded, and opens from the one before it', async () => {
    const { dir, file } = await bigCheckpoint(true)
    const b = fs.readFileSync(file)
    b[b.length - 500] ^= 0x10
    fs.writeFileSync(file, b)
    const db = await open({ dir, durability: 'buffered' })
    const rec = db.stats().recovery!
    expect(rec.checkpointsSkipped).toEqual([expect.objectContaining({ file: path.basename(file), reason: 'checksum mismatch' })])
    expect(rec).toMatchObject({ checkpointSeq: 10, checkpointKeys: 10, eventsReplayed: 49_990 })
    expect(db.size).toBe(50_000)
    expect(db.get('key:49999')).toEqual({ id: 49_999, pad: 'x'.repeat(100 + (49_999 % 50)) })
    await db.close()
  })
})
