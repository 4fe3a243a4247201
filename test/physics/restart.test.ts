// Physics state that the log cannot rebuild (masses, wormholes, the demon's budget split) is
// saved in checkpoints, so a restarted database does not start cold.
import fs from 'node:fs'
import path from 'node:path'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { CHECKPOINT_HEADER_BYTES, FRAME_EXTENSION } from '../../src/checkpoint/format.js'
import { compressSync, uncompressSync } from '../../src/events/lz4.js'
import { open } from '../../src/index.js'
import type { Database, PhysicsOptions } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { blob } from './helpers.js'

const physics: PhysicsOptions = { tickMs: 100_000_000, wormholes: true, recordShare: 1, clock: () => 5_000_000 }

async function warmUp(db: Database): Promise<void> {
  for (let u = 0; u < 100; u++) for (const p of ['user', 'profile']) await db.put(`${p}:${u}`, blob(u))
  // Users 0-9 are read a lot, always with their profile, and between them another user (10-99);
  // those others are read about twice each.
  let other = 0
  for (let r = 0; r < 20; r++) {
    for (let u = 0; u < 10; u++) {
      db.get(`user:${(u * 3 + r) % 10}`)
      db.get(`profile:${(u * 3 + r) % 10}`)
      db.get(`user:${10 + (other++ % 90)}`)
    }
    db.physics.tick()
  }
}

/** The data of a checkpoint file's extension frame `name`. */
function extension(b: Buffer, name: string): Buffer {
  for (let p = CHECKPOINT_HEADER_BYTES; p < b.length; ) {
    const len = b.readUInt32LE(p + 1)
    const s = p + 9
    if (b[p] === FRAME_EXTENSION && b.toString('utf8', s + 2, s + 2 + b.readUInt16LE(s)) === name) return b.subarray(s + 2 + b.readUInt16LE(s), s + len)
    p = s + len
  }
  throw new Error(`no extension ${name}`)
}

describe('physics across a restart', () => {
  it('masses and wormholes come back from the checkpoint, and the hot set is rewarmed', async () => {
    const dir = tmpDir()
    const memory = { hotBytes: 20 * 110, warmBytes: 1e6 }
    let db = await open({ dir, memory, physics })
    await warmUp(db)
    const masses = Array.from({ length: 100 }, (_, u) => db.physics.mass(`user:${u}`))
    const holes = db.physics.wormholes()
    expect(holes.length).toBeGreaterThanOrEqual(10)
    expect(masses[0]).toBeGreaterThanOrEqual(20) // 20 reads, plus the pull of its wormhole partner
    await db.checkpoint()
    await db.close()

    db = await open({ dir, memory, physics })
    for (let u = 0; u < 100; u++) expect(db.physics.mass(`user:${u}`)).toBeCloseTo(masses[u]!, 3)
    const pairs = (ws: { a: string; b: string }[]) => ws.map((w) => `${w.a} ${w.b}`).sort()
    expect(pairs(db.physics.wormholes())).toEqual(pairs(holes))
    db.physics.settle()
    // The heaviest keys are hot again before anyone reads them.
    for (let u = 0; u < 10; u++) {
      expect(db.physics.tier(`user:${u}`)).toBe('hot')
      expect(db.physics.tier(`profile:${u}`)).toBe('hot')
    }
    const before = db.metrics().hits!.hot
    for (let u = 0; u < 10; u++) db.get(`user:${u}`)
    expect(db.metrics().hits!.hot - before).toBe(10)
    await db.close()
  })

  it('the demon\'s budget split is restored too', async () => {
    const dir = tmpDir()
    const opts = { dir, memory: 10_000, physics: { ...physics, demon: { minShare: 0.1 }, entropyEvery: 1 } }
    let db = await open(opts)
    for (let i = 0; i < 2000; i++) await db.put(`k:${i}`, i)
    for (let t = 0; t < 5; t++) {
      for (let i = 0; i < 2000; i++) db.get(`k:${(i * 7919) % 2000}`)
      db.physics.tick()
    }
    const share = db.metrics().demon!.hotShare
    expect(share).toBeLessThan(0.5)
    await db.checkpoint()
    await db.close()
    db = await open(opts)
    expect(db.metrics().demon!.hotShare).toBeCloseTo(share, 10)
    expect(db.metrics().budget!.hotBytes).toBe(Math.round(10_000 * share))
    await db.close()
  })

  it('a small physics blob is saved uncompressed (opening needs no LZ4), and an LZ4 blob of an older version still loads', async () => {
    const dir = tmpDir()
    let db = await open({ dir, physics })
    await db.put('a', 1)
    await db.put('b', 2)
    for (let r = 0; r < 5; r++) db.get('a')
    const mass = db.physics.mass('a')
    expect(mass).toBeGreaterThanOrEqual(5)
    await db.checkpoint()
    await db.close()
    const [file] = fs.readdirSync(dir).filter((n) => n.endsWith('.ckpt'))
    const blob = extension(fs.readFileSync(path.join(dir, file!)), 'islab.physics')
    expect([...blob.subarray(0, 4)]).toEqual([0, 0, 0, 0])
    // An older reader decompresses every blob: this one fails at once (it then starts cold), without allocating first.
    expect(() => uncompressSync(blob)).toThrow()
    expect(new Packr({ useRecords: false }).unpack(blob.subarray(4))).toMatchObject({ v: 1, keys: ['a'] })
    db = await open({ dir, physics })
    expect(db.physics.mass('a')).toBeCloseTo(mass, 6)
    // The form every version wrote before: an LZ4 block of the same msgpack.
    db.registerCheckpointExtension({ name: 'islab.physics', save: () => compressSync(blob.subarray(4)), load: () => undefined })
    await db.checkpoint()
    await db.close()
    db = await open({ dir, physics })
    expect(db.stats().recovery!.checkpointSeq).toBe(2)
    expect(db.physics.mass('a')).toBeCloseTo(mass, 6)
    expect(db.physics.mass('b')).toBe(0)
    await db.close()
  })

  it('a physics blob that does not decode costs a cold start, not the open', async () => {
    const dir = tmpDir()
    let db = await open({ dir, physics })
    await db.put('a', 1)
    db.registerCheckpointExtension({ name: 'islab.physics', save: () => Buffer.from('not lz4'), load: () => undefined })
    await db.checkpoint()
    await db.close()
    db = await open({ dir, physics })
    expect(db.get('a')).toBe(1)
    expect(db.physics.mass('a')).toBe(1)
    await db.close()
  })

  it('masses of many keys come back in slices after open() returns, so open does not block on them', async () => {
    const dir = tmpDir()
    const n = 30_000
    let db = await open({ dir, checkpoint: false })
    for (let i = 0; i < n; i++) void db.put(`k${i}`, i)
    await db.flush()
    for (let r = 0; r < 3; r++) for (let i = 0; i < n; i++) db.get(`k${i}`)
    const before = db.physics.mass(`k${n - 1}`)
    expect(before).toBeGreaterThan(0)
    await db.checkpoint()
    await db.close()
    db = await open({ dir, checkpoint: false })
    // Right after open the last slice has not run: that key's mass starts cold.
    expect(db.physics.mass(`k${n - 1}`)).toBe(0)
    let turns = 0
    while (db.physics.mass(`k${n - 1}`) === 0 && turns < 1000) {
      await new Promise((r) => setImmediate(r))
      turns++
    }
    expect(turns).toBeGreaterThan(1)
    expect(db.physics.mass(`k${n - 1}`)).toBeCloseTo(before, 1)
    expect(db.physics.mass('k0')).toBeGreaterThan(0)
    await db.close()
  })
})
