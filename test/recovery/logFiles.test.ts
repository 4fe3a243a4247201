// The log knows its files: the MANIFEST names the segments and checkpoints that must exist, and
// open() refuses (strict) or reports (point-in-time) a directory that lost one, shortened a
// sealed one, or holds one nothing explains; it settles interrupted rewrites itself.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { WalFormat } from '../../src/index.js'
import { forgetLockForCrashTest } from '../../src/io/dirLock.js'
import { encodeSegmentHeader, segmentName } from '../../src/wal/format.js'
import { listSegments } from '../../src/wal/logReader.js'
import { MANIFEST_FILE, readManifest } from '../../src/wal/manifest.js'
import { GrowBuffer, encodeBinaryRecord, encodeJsonRecord } from '../../src/wal/recordCodec.js'
import { convertSegment, dropCoveredPrefix } from '../../src/wal/rewrite.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { encodeValue } from '../../src/events/valueCodec.js'
import { SimFileLayer } from '../helpers/simFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.wal$/.test(n))
    .sort()
    .map((n) => path.join(dir, n))
}

async function writeLog(format: WalFormat, puts: number, opts: { segmentBytes?: number; checkpointAt?: number; retainSegments?: number } = {}): Promise<string> {
  const dir = tmpDir()
  const db = await open({
    dir,
    durability: 'sync',
    walFormat: format,
    segmentBytes: opts.segmentBytes ?? 1024,
    checkpoint: false,
    history: { retainSegments: opts.retainSegments ?? 0 },
  })
  for (let i = 1; i <= puts; i++) {
    await db.put(`k${i}`, { i })
    if (i === opts.checkpointAt) await db.checkpoint()
  }
  await db.close()
  return dir
}

describe.each(['binary', 'json'] as const)('a log that knows its files (%s)', (format) => {
  it('fails to open when the newest segment was deleted', async () => {
    const dir = await writeLog(format, 60)
    const segs = segments(dir)
    expect(segs.length).toBeGreaterThan(2)
    fs.unlinkSync(segs.at(-1)!)
    const err = await open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CORRUPTION', file: segs.at(-1) })
    expect((err as Error).message).toMatch(/missing \(the MANIFEST names it\)/)
  })

  it('reports a deleted newest segment as lost in point-in-time mode, and opens at the seq before it', async () => {
    const dir = await writeLog(format, 60)
    const segs = segments(dir)
    const first = Number(path.basename(segs.at(-1)!).slice(0, 20))
    fs.unlinkSync(segs.at(-1)!)
    const db = await open({ dir, recovery: 'point-in-time' })
    expect(db.seq).toBe(first - 1)
    expect(db.stats().recovery!.lost).toMatchObject({ fromSeq: first })
    expect(db.stats().recovery!.lost!.reason).toMatch(/missing/)
    await db.put('next', 1)
    await db.close()
    // Accepted once: the next strict open is clean.
    const again = await open({ dir })
    expect(again.seq).toBe(first)
    await again.close()
  })

  it('fails to open when the newest segment was cut short after a clean close', async () => {
    const dir = await writeLog(format, 60)
    const newest = segments(dir).at(-1)!
    fs.truncateSync(newest, Math.floor(fs.statSync(newest).size / 2))
    const err = await open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CORRUPTION' })
    expect((err as Error).message).toMatch(/MANIFEST records that seqs up to 60 were durable/)
    fs.truncateSync(newest, 0)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION' })
  })

  it('fails to open when the MANIFEST of a directory this version wrote was deleted', async () => {
    const dir = await writeLog(format, 60)
    fs.unlinkSync(path.join(dir, MANIFEST_FILE))
    fs.unlinkSync(segments(dir).at(-1)!)
    const err = await open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CORRUPTION' })
    expect((err as Error).message).toMatch(/MANIFEST is missing/)
    // Point-in-time rebuilds it from the files present, and says so.
    const db = await open({ dir, recovery: 'point-in-time' })
    expect(db.stats().recovery!.logFiles.problems.join(' ')).toMatch(/MANIFEST is missing/)
    await db.close()
    const again = await open({ dir })
    await again.close()
  })

  it('fails to open when a middle segment the checkpoint covers (kept for history) was deleted', async () => {
    const dir = await writeLog(format, 100, { checkpointAt: 90, retainSegments: 100 })
    const segs = segments(dir)
    expect(segs.length).toBeGreaterThan(3)
    fs.unlinkSync(segs[1]!)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION', file: segs[1] })
  })

  it('fails to open when a sealed segment was shortened, even one the checkpoint covers', async () => {
    const dir = await writeLog(format, 60, { checkpointAt: 55, retainSegments: 100 })
    const segs = segments(dir)
    const bytes = fs.readFileSync(segs[0]!)
    const size = bytes.length
    // Cut back to a record boundary: the segment still reads as whole.
    const cut = lastRecordStart(bytes, format)
    fs.truncateSync(segs[0]!, cut)
    const err = await open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CORRUPTION', file: segs[0] })
    expect((err as Error).message).toMatch(new RegExp(`is ${cut} bytes but was sealed at ${size} bytes`))
  })

  it('rebuilds the MANIFEST from the files present (point-in-time, when it was lost)', async () => {
    const dir = await writeLog(format, 30)
    fs.unlinkSync(path.join(dir, MANIFEST_FILE))
    const db = await open({ dir, recovery: 'point-in-time' })
    expect(db.seq).toBe(30)
    expect(db.stats().recovery!.logFiles.manifestCreated).toBe(true)
    await db.close()
    const m = readManifest(nodeFileLayer, dir)!
    const segs = listSegments(nodeFileLayer, dir)
    expect(m.segments.map((s) => s.firstSeq)).toEqual(segs.map((s) => s.firstSeq))
    // Every segment but the newest is sealed at its length.
    expect(m.segments.slice(0, -1).map((s) => s.bytes)).toEqual(segs.slice(0, -1).map((s) => s.size))
    expect(m.segments.at(-1)!.bytes).toBeUndefined()
  })

  it('opens a version 1 directory (no MANIFEST, no commit marks) and appends in a new version 2 segment', async () => {
    const dir = tmpDir()
    const out = new GrowBuffer(256)
    out.append(encodeSegmentHeader(format, 1, 1))
    for (let seq = 1; seq <= 5; seq++) {
      const ev = { type: 'put' as const, seq, time: 1000 + seq, key: `k${seq}`, value: encodeValue(seq) }
      if (format === 'binary') encodeBinaryRecord(out, ev, 1024)
      else encodeJsonRecord(out, ev)
    }
    fs.writeFileSync(path.join(dir, segmentName(1)), out.view())
    const db = await open({ dir, walFormat: format })
    expect(db.seq).toBe(5)
    expect(db.get('k3')).toBe(3)
    await db.put('k6', 6)
    await db.close()
    expect(segments(dir).map((p) => path.basename(p))).toEqual([segmentName(1), segmentName(6)])
    // The old segment is untouched; the new one has the current header.
    expect(fs.readFileSync(path.join(dir, segmentName(1))).equals(out.view())).toBe(true)
    const again = await open({ dir })
    expect(again.get('k6')).toBe(6)
    await again.close()
  })
})

/** Where the last record of a segment starts. */
function lastRecordStart(b: Buffer, format: WalFormat): number {
  if (format === 'json') return b.lastIndexOf(0x0a, b.length - 2) + 1
  let p = 32
  let last = p
  while (p < b.length) {
    last = p
    p += 8 + b.readUInt32LE(p)
  }
  return last
}

describe('interrupted rewrites', () => {
  it('open() itself removes an uncommitted .wal.rewrite and completes a committed one', async () => {
    // Every crash point of `islab compact`'s rewrite, on the crash simulator: the next open
    // settles it, in strict mode, with nothing left behind and every write there.
    for (let crashAt = 1; ; crashAt++) {
      const sim = new SimFileLayer()
      const dir = '/sim/rewrite'
      const db = await open({ dir, durability: 'sync', fileLayer: sim, segmentBytes: 512, checkpoint: { keep: 1 } })
      for (let i = 1; i <= 30; i++) await db.put(`k${i}`, i)
      // A write during the checkpoint: the segment goes on past seq 30 (an idle one would start a new segment).
      await Promise.all([db.checkpoint(), db.put('k31', 31)])
      for (let i = 32; i <= 33; i++) await db.put(`k${i}`, i)
      await db.close()
      const segs = listSegments(sim, dir)
      expect(segs).toHaveLength(1) // the checkpoint pruned the rest; this one straddles seq 30
      const crashing = crashAfter(sim, crashAt)
      let finished = false
      try {
        await dropCoveredPrefix(crashing.layer, dir, segs[0]!, 30)
        finished = true
      } catch (err) {
        if ((err as { code?: string }).code !== 'EIO') throw err
      }
      const image = crashing.image()
      forgetLockForCrashTest(dir)
      const again = await open({ dir, fileLayer: image, checkpoint: false })
      expect(again.seq).toBe(33)
      for (let i = 1; i <= 33; i++) expect(again.get(`k${i}`)).toBe(i)
      expect(image.list(dir).filter((n) => n.endsWith('.rewrite'))).toEqual([])
      expect(listSegments(image, dir).map((s) => s.firstSeq)).toEqual(crashing.committed() ? [31] : [segs[0]!.firstSeq])
      await again.close()
      if (finished) break
    }
  })

  it('open() settles an interrupted `islab convert` of a sealed segment the same way', async () => {
    for (let crashAt = 1; ; crashAt++) {
      const sim = new SimFileLayer()
      const dir = '/sim/convert'
      const db = await open({ dir, durability: 'sync', fileLayer: sim, segmentBytes: 512, checkpoint: false })
      for (let i = 1; i <= 30; i++) await db.put(`k${i}`, i)
      await db.close()
      const seg = listSegments(sim, dir)[0]!
      const crashing = crashAfter(sim, crashAt)
      let finished = false
      try {
        await convertSegment(crashing.layer, dir, seg, 'json', 1024)
        finished = true
      } catch (err) {
        if ((err as { code?: string }).code !== 'EIO') throw err
      }
      const image = crashing.image()
      forgetLockForCrashTest(dir)
      const again = await open({ dir, fileLayer: image, checkpoint: false })
      expect(again.seq).toBe(30)
      for (let i = 1; i <= 30; i++) expect(again.get(`k${i}`)).toBe(i)
      expect(image.list(dir).filter((n) => n.endsWith('.rewrite'))).toEqual([])
      const first = image.readRange(path.join(dir, seg.name), 0, 1)[0]
      expect(first === 0x7b).toBe(crashing.committed())
      await again.close()
      if (finished) break
    }
  })
})

/**
 * Wraps a SimFileLayer so that the machine goes down before the `n`th mutating operation made
 * through the wrapper, and tells whether the rewrite's MANIFEST commit was made durable by then.
 */
function crashAfter(sim: SimFileLayer, n: number): { layer: SimFileLayer; image: () => SimFileLayer; committed: () => boolean } {
  let ops = 0
  let committed = false
  const layer = new Proxy(sim, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown
      if (typeof v !== 'function' || !['writeFileDurable', 'rename', 'unlink', 'syncDir', 'truncate'].includes(String(prop))) {
        return typeof v === 'function' ? v.bind(target) : v
      }
      return (...args: unknown[]) => {
        if (++ops >= n) {
          sim.crash()
          throw Object.assign(new Error('simulated machine is down'), { code: 'EIO' })
        }
        const r = (v as (...a: unknown[]) => unknown).apply(target, args)
        // The commit is durable once the renamed MANIFEST's directory entry is synced.
        if (prop === 'syncDir' && pendingManifest) {
          committed = readManifest(sim, args[0] as string)!.rewrites.length > 0 || committed
          pendingManifest = false
        }
        if (prop === 'rename' && String(args[1]).endsWith(MANIFEST_FILE)) pendingManifest = true
        return r
      }
    },
  })
  let pendingManifest = false
  return { layer, image: () => sim.crash(), committed: () => committed }
}

describe.each(['binary', 'json'] as const)('torn tails as the disk tears them (%s)', (format) => {
  /** A log whose last commit holds 8 writes of ~700 bytes (several 4 KiB pages); returns where that commit starts. */
  async function lastCommitOfEight(): Promise<{ dir: string; seg: string; start: number }> {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', walFormat: format, compressThreshold: 1 << 30 })
    for (let i = 1; i <= 4; i++) await db.put(`a${i}`, 'a'.repeat(700))
    const seg = segments(dir)[0]!
    const start = fs.statSync(seg).size
    await Promise.all(Array.from({ length: 8 }, (_, i) => db.put(`b${i}`, 'b'.repeat(700))))
    // The process dies here, with no clean close (which would record seq 12 in the MANIFEST).
    forgetLockForCrashTest(dir)
    return { dir, seg, start }
  }

  it('opens in strict mode when a crash kept a later page of the last commit but not an earlier one', async () => {
    const { dir, seg, start } = await lastCommitOfEight()
    const bytes = fs.readFileSync(seg)
    expect(bytes.length - start).toBeGreaterThan(4096 + 1500)
    // The page holding the commit's start never reached the disk: zeros; the next one did.
    const page = Math.floor(start / 4096)
    bytes.fill(0, start, (page + 1) * 4096)
    fs.writeFileSync(seg, bytes)
    const db = await open({ dir })
    const rec = db.stats().recovery!
    expect(db.seq).toBe(4)
    expect(rec.tornAt).toMatchObject({ file: path.basename(seg), offset: start })
    expect(rec.tornBytesTruncated).toBe(bytes.length - start)
    expect(fs.statSync(seg).size).toBe(start)
    expect((await db.put('next', 1)).seq).toBe(5)
    await db.close()
  })

  it('still fails in strict mode when damage lies before the last commit', async () => {
    const { dir, seg, start } = await lastCommitOfEight()
    const bytes = fs.readFileSync(seg)
    bytes.fill(0, start - 300, start - 200) // inside the fourth write, an earlier (durable) commit
    fs.writeFileSync(seg, bytes)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION', file: seg })
  })
})

