// The log reader as change streams and `islab tail -f` use it (following a writer): records of
// any size in both formats, each byte of the log read once, damage reported instead of ending
// quietly or looping.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { WalEvent } from '../../src/events/types.js'
import type { FileLayer } from '../../src/io/fileLayer.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { FollowWriter, LogReader } from '../../src/wal/logReader.js'
import { countingLayer } from '../helpers/countingLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'


function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n))
}

function logBytes(dir: string): number {
  return segmentFiles(dir).reduce((t, f) => t + fs.statSync(f).size, 0)
}

/**
 * What LogCursor was: a reader following a writer. `read(max, maxSeq, writtenSeq)` as the
 * change streams call it.
 */
class Cursor {
  private readonly follow: FollowWriter
  private readonly reader: LogReader
  constructor(files: FileLayer, dir: string, fromSeq: number) {
    this.follow = new FollowWriter(dir)
    this.reader = new LogReader(files, dir, { fromSeq, reporter: this.follow, exactStart: true })
  }
  read(max: number, maxSeq = Infinity, writtenSeq = 0): Promise<WalEvent[]> {
    this.follow.writtenSeq = writtenSeq
    return this.reader.take(max, maxSeq)
  }
}

/** Reads everything the cursor gives, in batches of `batch`, until it has nothing more. */
async function drain(cursor: Cursor, batch = 512): Promise<WalEvent[]> {
  const out: WalEvent[] = []
  for (;;) {
    const got = await cursor.read(batch)
    if (got.length === 0) return out
    out.push(...got)
  }
}

/** ~6.7 MiB of text that does not compress (binary segments compress values). */
const big = (): string => crypto.randomBytes(5 * 1024 * 1024).toString('base64')

describe.each(['json', 'binary'] as const)('LogReader following a writer, over %s segments', (walFormat) => {
  it('reads a record of ~5 MiB and the events around it', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', walFormat, checkpoint: false })
    await db.put('before', 1)
    await db.put('big', big())
    await db.put('after', 3)
    await db.close()
    expect(logBytes(dir)).toBeGreaterThan(5 * 1024 * 1024)
    const events = await drain(new Cursor(nodeFileLayer, dir, 1))
    expect(events.map((e) => [e.seq, (e as { key: string }).key])).toEqual([
      [1, 'before'],
      [2, 'big'],
      [3, 'after'],
    ])
    // Starting right at the big record, and right after it.
    expect((await drain(new Cursor(nodeFileLayer, dir, 2))).map((e) => e.seq)).toEqual([2, 3])
    expect((await drain(new Cursor(nodeFileLayer, dir, 3))).map((e) => e.seq)).toEqual([3])
  })

  it('reads each byte of the log about once while catching up in small batches', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', walFormat, checkpoint: false, segmentBytes: 8 * 1024 * 1024 })
    const value = 'v'.repeat(100)
    for (let i = 0; i < 40_000; i++) void db.put(`key:${i % 1000}`, value)
    await db.close()
    const size = logBytes(dir)
    expect(segmentFiles(dir).length).toBeGreaterThan(0)
    const { files, bytesRead } = countingLayer()
    const events = await drain(new Cursor(files, dir, 1))
    expect(events.length).toBe(40_000)
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    // Old cursor: a 4 MiB window re-read per batch of 512 events, dozens of times the log.
    expect(bytesRead()).toBeLessThanOrEqual(1.1 * size + 4 * 1024 * 1024)
  })

  it('waits for a record still being written, then returns it', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', walFormat, checkpoint: false })
    await db.put('a', 1)
    await db.put('b', big())
    await db.close()
    const [seg] = segmentFiles(dir)
    const whole = fs.readFileSync(seg!)
    const cut = whole.length - 1000
    fs.writeFileSync(seg!, whole.subarray(0, cut))
    const cursor = new Cursor(nodeFileLayer, dir, 1)
    expect((await drain(cursor)).map((e) => e.seq)).toEqual([1])
    expect(await cursor.read(10)).toEqual([])
    fs.appendFileSync(seg!, whole.subarray(cut))
    expect((await drain(cursor)).map((e) => e.seq)).toEqual([2])
  })

  it('reports a damaged record followed by valid ones with ISLAB_CORRUPTION', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', walFormat, checkpoint: false })
    await db.put('a', 1)
    await db.put('big', big())
    await db.put('c', 3)
    await db.close()
    const [seg] = segmentFiles(dir)
    const b = fs.readFileSync(seg!)
    // A byte in the middle of the big record's value.
    expect(b.length).toBeGreaterThan(5 * 1024 * 1024)
    const at = Math.floor(b.length / 2)
    b[at] = b[at]! ^ 0x01
    fs.writeFileSync(seg!, b)
    const cursor = new Cursor(nodeFileLayer, dir, 1)
    expect((await cursor.read(1)).map((e) => e.seq)).toEqual([1])
    await expect(cursor.read(10)).rejects.toThrow(expect.objectContaining({ code: 'ISLAB_CORRUPTION' }))
  })
})

describe('LogReader following a writer, and records known to be written', () => {
  it('waits for a cut-short last record, unless the caller knows it was written: then ISLAB_CORRUPTION', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', walFormat: 'json', checkpoint: false })
    for (let i = 1; i <= 3; i++) await db.put(`k${i}`, i)
    await db.close()
    const [seg] = segmentFiles(dir)
    fs.truncateSync(seg!, fs.statSync(seg!).size - 5)
    const waiting = new Cursor(nodeFileLayer, dir, 1)
    expect((await drain(waiting)).map((e) => e.seq)).toEqual([1, 2])
    const knowing = new Cursor(nodeFileLayer, dir, 1)
    expect((await knowing.read(2, Infinity, 3)).map((e) => e.seq)).toEqual([1, 2])
    await expect(knowing.read(10, Infinity, 3)).rejects.toThrow(expect.objectContaining({ code: 'ISLAB_CORRUPTION' }))
  })
})

describe('LogReader following a writer, across segments', () => {
  it('reports a sealed segment that stops short of the next one (events missing) with ISLAB_CORRUPTION', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 256, checkpoint: false })
    for (let i = 0; i < 30; i++) await db.put(`k${i}`, i)
    await db.close()
    const segs = segmentFiles(dir)
    expect(segs.length).toBeGreaterThan(2)
    // Cut the last record of the first segment in half: its seq is in no segment now.
    const first = fs.readFileSync(segs[0]!)
    const events = await drain(new Cursor(nodeFileLayer, dir, 1))
    expect(events.length).toBe(30)
    fs.writeFileSync(segs[0]!, first.subarray(0, first.length - 5))
    const cursor = new Cursor(nodeFileLayer, dir, 1)
    await expect(drain(cursor)).rejects.toThrow(expect.objectContaining({ code: 'ISLAB_CORRUPTION' }))
  })
})

describe('LogReader following a writer, while it rotates', () => {
  it('reads a new segment whose header was not written yet when first looked at, though later segments exist by then', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 256, checkpoint: false })
    for (let i = 0; i < 30; i++) await db.put(`k${i}`, i)
    await db.close()
    const segs = segmentFiles(dir)
    expect(segs.length).toBeGreaterThan(2)
    // The reader finds segment 2 just created (0 bytes) and reads its header; the writer then
    // writes it, fills it and starts segment 3 before the reader looks at the list again.
    const second = fs.readFileSync(segs[1]!)
    fs.writeFileSync(segs[1]!, Buffer.alloc(0))
    let raced = false
    const racing: FileLayer = {
      ...nodeFileLayer,
      readIntoAsync: async (p, position, target, at, length) => {
        const n = await nodeFileLayer.readIntoAsync(p, position, target, at, length)
        if (p === segs[1] && !raced) {
          raced = true
          fs.writeFileSync(segs[1]!, second)
        }
        return n
      },
    }
    const from = Number(path.basename(segs[1]!, '.wal'))
    const events = await drain(new Cursor(racing, dir, from))
    expect(raced).toBe(true)
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 31 - from }, (_, i) => i + from))
  })
})

describe('LogReader windows', () => {
  it('classifies damage over the whole rest of the file, not the window it was found in', async () => {
    const dir = tmpDir()
    // Each sync put is a commit of its own, so every record carries the commit mark.
    const db = await open({ dir, durability: 'sync', walFormat: 'binary', checkpoint: false })
    await db.put('a', 1)
    await db.put('b', crypto.randomBytes(20_000))
    await db.put('c', 3)
    await db.close()
    const [seg] = segmentFiles(dir)
    const b = fs.readFileSync(seg!)
    // A byte of the first record's payload (its header is 32 bytes, its frame header 8).
    b[32 + 8 + 20] = b[32 + 8 + 20]! ^ 0x01
    fs.writeFileSync(seg!, b)
    // The first window (4 KiB) holds record 1 and only part of record 2: within it, nothing valid follows the damage.
    const reader = new LogReader(nodeFileLayer, dir, { window: 4096 })
    expect(await reader.read(() => undefined)).toBe('problem')
    expect(reader.problem).toMatchObject({ kind: 'corruption', offset: 32, lastSegment: true, validRecordsFollow: true, unfinished: false })
    expect(reader.problem!.bytes).toBe(b.length - 32)
  })

  it('hands a record sink one buffer per window, however many slices the window is decoded in', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', walFormat: 'binary', checkpoint: false })
    for (let i = 0; i < 40_000; i++) void db.put(`k${i}`, i)
    await db.close()
    let reads = 0
    const files: FileLayer = {
      ...nodeFileLayer,
      readIntoAsync(p, position, target, at, length) {
        reads++
        return nodeFileLayer.readIntoAsync(p, position, target, at, length)
      },
    }
    const buffers = new Set<Buffer>()
    let puts = 0
    const sink = {
      begin: () => undefined,
      put: (kb: Buffer) => {
        buffers.add(kb)
        puts++
      },
      del: () => undefined,
      expires: () => undefined,
      entangle: () => undefined,
    }
    // ~1.5 MiB of records, ~6,000 to a window: several slices of decoding each.
    const reader = new LogReader(files, dir, { sink, window: 256 * 1024 })
    expect(await reader.read(() => undefined)).toBe('end')
    expect(puts).toBe(40_000)
    expect(reads).toBeGreaterThan(3)
    // The state keeps record bytes in place, one entry per distinct buffer: a view per slice
    // made it count each window several times and compact everything after replay.
    expect(buffers.size).toBeLessThanOrEqual(reads)
  })

  it('reads ahead: the same records, each byte read once, while a window is decoded the next one is already being read', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', walFormat: 'binary', checkpoint: false })
    // Values of varied sizes (some over the room kept for a cut record, 64 KiB), so windows end inside records of every size.
    for (let i = 0; i < 3000; i++) void db.put(`k${i}`, i % 97 === 0 ? crypto.randomBytes(70_000 + i) : crypto.randomBytes(i % 300))
    await db.close()
    const plain: WalEvent[] = []
    expect(await new LogReader(nodeFileLayer, dir, { window: 64 * 1024 }).read((ev) => plain.push(ev))).toBe('end')
    const { files, bytesRead } = countingLayer()
    let pending = 0
    let overlapped = 0
    const watched: FileLayer = {
      ...files,
      readIntoAsync(p, position, target, at, length) {
        pending++
        return files.readIntoAsync(p, position, target, at, length).finally(() => pending--)
      },
    }
    const ahead: WalEvent[] = []
    const windows: number[] = []
    const reader = new LogReader(watched, dir, {
      window: 64 * 1024,
      readAhead: true,
      onWindow: (records) => windows.push(records),
    })
    expect(
      await reader.read((ev) => {
        if (pending > 0) overlapped++
        ahead.push(ev)
      }),
    ).toBe('end')
    // Compared by digest: deep equality over 2 MB of Buffers is slow.
    const digest = (evs: WalEvent[]): string[] => evs.map((ev) => (ev.type === 'put' ? `${ev.seq} ${ev.key} ${crypto.createHash('sha1').update(ev.value).digest('hex')}` : `${ev.seq}`))
    expect(digest(ahead)).toEqual(digest(plain))
    expect(ahead.length).toBe(3000)
    // Records were decoded while a read was under way.
    expect(overlapped).toBeGreaterThan(0)
    // Each whole record is counted in the window it is first whole in (a record cut by a window's end is counted in the next).
    expect(windows.reduce((a, b) => a + b, 0)).toBe(3000)
    expect(bytesRead()).toBeLessThan(logBytes(dir) * 1.05)
  })
})

describe('LogReader reading ahead next to a writer', () => {
  it('does not hand out records a cut-back removed after they were read ahead', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', walFormat: 'binary', checkpoint: false })
    for (let i = 0; i < 400; i++) void db.put(`k${i}`, crypto.randomBytes(200 + (i % 50)))
    await db.close()
    const [seg] = segmentFiles(dir)
    const window = 16 * 1024
    // Record offsets, to cut the file back at a record boundary as a failed commit's undo does.
    const offsets: number[] = []
    expect(await new LogReader(nodeFileLayer, dir, { window }).read((_ev, off) => offsets.push(off))).toBe('end')
    const cut = offsets.find((o) => o > window + window / 2)!
    expect(cut).toBeLessThan(2 * window)
    // Reads complete at once (as a fast disk's would), so what is read ahead is the file as it was then.
    const files: FileLayer = {
      ...nodeFileLayer,
      readIntoAsync(p, position, target, at, length) {
        const fd = fs.openSync(p, 'r')
        try {
          return Promise.resolve(fs.readSync(fd, target, at, length, position))
        } finally {
          fs.closeSync(fd)
        }
      },
    }
    const seen: { seq: number; offset: number }[] = []
    const reader = new LogReader(files, dir, { window, readAhead: true })
    await reader.read((ev, offset) => {
      // While the first window is decoded (the second one read ahead), the writer's failed commit is undone.
      if (seen.length === 0) fs.truncateSync(seg!, cut)
      seen.push({ seq: ev.seq, offset })
    })
    // Every record handed out is in the file as it is now; the ones after the cut were never acknowledged.
    expect(seen.filter((r) => r.offset >= cut)).toEqual([])
    expect(seen.length).toBe(offsets.indexOf(cut))
  })
})
