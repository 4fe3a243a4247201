import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { forgetLockForCrashTest } from '../../src/io/dirLock.js'
import type { WalEvent } from '../../src/events/types.js'
import { encodeValue } from '../../src/events/valueCodec.js'
import { encodeSegmentHeader } from '../../src/wal/format.js'
import { GrowBuffer, encodeBinaryRecord, encodeJsonRecord } from '../../src/wal/recordCodec.js'
import { scanSegment } from '../../src/wal/segmentReader.js'
import type { SegmentScan } from '../../src/wal/segmentReader.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** A segment in which each event was its own commit (as sequential writes in sync mode leave it). */
function segment(format: 'binary' | 'json', events: WalEvent[]): Buffer {
  const out = new GrowBuffer(64)
  out.append(encodeSegmentHeader(format, events[0]!.seq))
  for (const ev of events) {
    if (format === 'binary') encodeBinaryRecord(out, ev, 1024, true)
    else encodeJsonRecord(out, ev, true)
  }
  return Buffer.from(out.view())
}

const events: WalEvent[] = [
  { type: 'put', seq: 5, time: 1000, key: 'a', value: encodeValue({ n: 1 }) },
  { type: 'del', seq: 6, time: 1001, key: 'a' },
  {
    type: 'batch',
    seq: 7,
    time: 1002,
    ops: [
      { type: 'put', key: 'b', value: encodeValue('x'.repeat(3000)) },
      { type: 'del', key: 'c' },
    ],
  },
]

/** Values compare as plain byte arrays, whichever Uint8Array subclass carries them. */
function normalize(ev: WalEvent): unknown {
  const bytes = (v: Uint8Array) => Array.from(v)
  if (ev.type === 'batch') return { ...ev, ops: ev.ops.map((op) => (op.type === 'put' ? { ...op, value: bytes(op.value) } : op)) }
  return ev.type === 'put' ? { ...ev, value: bytes(ev.value) } : ev
}

function scan(b: Buffer): { scan: SegmentScan; seen: WalEvent[] } {
  const seen: WalEvent[] = []
  const s = scanSegment(b, (ev) => seen.push(ev))
  if ('headerError' in s) throw new Error(s.headerError)
  return { scan: s, seen }
}

describe.each(['binary', 'json'] as const)('scanSegment (%s)', (format) => {
  it('reads back every event it was given', () => {
    const { scan: s, seen } = scan(segment(format, events))
    expect(seen.map(normalize)).toEqual(events.map(normalize))
    expect(s.damage).toBeUndefined()
    expect(s.lastSeq).toBe(7)
    expect(s.records).toBe(3)
  })

  it('reports a record cut short at the end as damage with nothing valid after it', () => {
    const full = segment(format, events)
    const cut = full.subarray(0, full.length - 7)
    const { scan: s, seen } = scan(cut)
    expect(seen.map((e) => e.seq)).toEqual([5, 6])
    expect(s.damage).toMatchObject({ validRecordsFollow: false })
    expect(s.validEnd).toBe(s.damage!.offset)
  })

  it('reports a flipped byte in a middle record as damage followed by valid records', () => {
    const full = segment(format, events)
    // Find where record 6 starts by scanning a segment holding only record 5.
    const firstOnly = segment(format, events.slice(0, 1))
    const damaged = Buffer.from(full)
    damaged[firstOnly.length + 12]! ^= 0x40
    const { scan: s, seen } = scan(damaged)
    expect(seen.map((e) => e.seq)).toEqual([5])
    expect(s.damage).toMatchObject({ offset: firstOnly.length, validRecordsFollow: true })
  })

  it('treats garbage appended after the last record as damage with nothing valid after it', () => {
    const full = segment(format, events)
    const junk = Buffer.concat([full, Buffer.from([0x13, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02])])
    const { scan: s } = scan(junk)
    expect(s.lastSeq).toBe(7)
    expect(s.damage).toMatchObject({ offset: full.length, validRecordsFollow: false })
  })

  it('flags a sequence gap even when checksums are fine', () => {
    const gap = segment(format, [events[0]!, { ...events[1]!, seq: 9 } as WalEvent])
    const { scan: s } = scan(gap)
    expect(s.damage?.reason).toMatch(/sequence gap/)
    expect(s.damage?.validRecordsFollow).toBe(true)
  })

  it('skips records below fromSeq without visiting them', () => {
    const seen: number[] = []
    scanSegment(segment(format, events), (ev) => seen.push(ev.seq), { fromSeq: 6 })
    expect(seen).toEqual([6, 7])
  })
})

describe('scanSegment before fromSeq', () => {
  // Records a checkpoint covers are walked by length and seq only (docs/wal-format.md): damage in
  // their checksum or contents costs nothing, damage to the walk itself is reported. (A corruption
  // property case, seed -926100892, flipped such a checksum byte.)
  const scanFrom = (b: Buffer, fromSeq: number) => {
    const seen: WalEvent[] = []
    const s = scanSegment(b, (ev) => seen.push(ev), { fromSeq })
    if ('headerError' in s) throw new Error(s.headerError)
    return { s, seen }
  }

  it('walks over a covered record whose checksum or value is damaged', () => {
    for (const at of [32 + 4, 32 + 8, 32 + 30]) {
      const b = segment('binary', events)
      b[at]! ^= 1
      const { s, seen } = scanFrom(b, 7)
      expect(s.damage).toBeUndefined()
      expect(seen.map((e) => e.seq)).toEqual([7])
    }
  })

  it('reports a covered record whose length or seq is damaged', () => {
    for (const at of [32, 32 + 1, 32 + 9]) {
      const b = segment('binary', events)
      b[at]! ^= 1
      const { s, seen } = scanFrom(b, 7)
      expect(s.damage, `byte ${at}`).toBeDefined()
      expect(s.damage!.validRecordsFollow).toBe(true)
      expect(seen).toEqual([])
    }
  })
})

describe.each(['binary', 'json'] as const)('torn tails by commit (%s)', (format) => {
  // Version 2 marks the first record of each commit. A crash may persist a later page of the
  // last write and lose an earlier one: damage followed only by records of its own commit is a
  // torn tail; a marked record after it means a later commit was written after this one was durable.
  const put = (seq: number): WalEvent => ({ type: 'put', seq, time: 1000 + seq, key: `k${seq}`, value: encodeValue('v'.repeat(40)) })

  /** A segment of `commits` (lists of seqs), and the offset each record starts at. */
  function segmentOf(version: number, commits: number[][]): { bytes: Buffer; at: Map<number, number> } {
    const out = new GrowBuffer(64)
    out.append(encodeSegmentHeader(format, commits[0]![0]!, version))
    const at = new Map<number, number>()
    for (const commit of commits) {
      commit.forEach((seq, i) => {
        at.set(seq, out.pos)
        const start = version >= 2 && i === 0
        if (format === 'binary') encodeBinaryRecord(out, put(seq), 1024, start)
        else encodeJsonRecord(out, put(seq), start)
      })
    }
    return { bytes: Buffer.from(out.view()), at }
  }

  /** Zeroes the bytes of record `seq` (a page the crash did not persist) and scans. */
  function lose(seg: { bytes: Buffer; at: Map<number, number> }, seq: number): SegmentScan {
    const b = Buffer.from(seg.bytes)
    const end = seg.at.get(seq + 1) ?? b.length
    b.fill(0, seg.at.get(seq)!, end)
    const s = scanSegment(b, () => undefined)
    if ('headerError' in s) throw new Error(s.headerError)
    return s
  }

  it('reads an unpersisted first record of the last commit, with later records of it intact, as a torn tail', () => {
    const seg = segmentOf(2, [[1], [2, 3], [4, 5, 6]])
    const s = lose(seg, 4)
    expect(s.lastSeq).toBe(3)
    expect(s.damage).toMatchObject({ offset: seg.at.get(4), validRecordsFollow: false })
  })

  it('reads damage in the middle of the last commit as a torn tail', () => {
    const seg = segmentOf(2, [[1], [2, 3], [4, 5, 6]])
    expect(lose(seg, 5).damage).toMatchObject({ offset: seg.at.get(5), validRecordsFollow: false })
  })

  it('reads damage followed by a later commit as corruption', () => {
    const seg = segmentOf(2, [[1], [2, 3], [4, 5, 6]])
    expect(lose(seg, 3).damage).toMatchObject({ offset: seg.at.get(3), validRecordsFollow: true })
    expect(lose(seg, 2).damage).toMatchObject({ offset: seg.at.get(2), validRecordsFollow: true })
  })

  it('keeps the older rule for version 1 segments: any valid record after damage is corruption', () => {
    const seg = segmentOf(1, [[1], [2, 3], [4, 5, 6]])
    // (In JSON the zeros of record 4 run into record 5's line; record 6 is valid after both.)
    expect(lose(seg, 4).damage).toMatchObject({ offset: seg.at.get(4), validRecordsFollow: true })
    expect(lose(seg, 6).damage).toMatchObject({ offset: seg.at.get(6), validRecordsFollow: false })
  })

  it('reads the mark back only as a mark: records decode to the same events', () => {
    const seen: WalEvent[] = []
    scanSegment(segmentOf(2, [[1, 2], [3]]).bytes, (ev) => seen.push(ev))
    expect(seen.map(normalize)).toEqual([put(1), put(2), put(3)].map(normalize))
  })
})

describe('torn tails by commit: a value that holds a WAL frame', () => {
  it('is still a torn tail when a page of the last commit is lost before a record whose value embeds a marked frame', async () => {
    // Any blob holding an IsLabDB record (a backup of a segment, say): it contains a marked frame.
    const other = tmpDir()
    const o = await open({ dir: other, durability: 'sync', checkpoint: false, physics: false })
    await o.put('inner', 'hello')
    await o.close()
    const blob = fs.readFileSync(path.join(other, '00000000000000000001.wal'))

    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', checkpoint: false, physics: false, compressThreshold: 1 << 30 })
    await db.put('a', 1)
    const seg = path.join(dir, '00000000000000000001.wal')
    const before = fs.statSync(seg).size
    // One group commit: 'b' (marked, 5000 bytes), then 'blob' (unmarked, embedding a marked frame).
    await Promise.all([db.put('b', 'x'.repeat(5000)), db.put('blob', blob)])
    forgetLockForCrashTest(dir) // the process dies: no clean close

    // The power fails while they are written: the commit's first page is lost, a later one persists.
    const bytes = fs.readFileSync(seg)
    bytes.fill(0, before, before + 4096)
    fs.writeFileSync(seg, bytes)
    const again = await open({ dir, durability: 'sync', checkpoint: false, physics: false })
    expect(again.seq).toBe(1)
    expect(again.stats().recovery?.tornAt?.offset).toBe(before)
    await again.close()
  })
})
