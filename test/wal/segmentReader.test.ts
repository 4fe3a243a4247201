import { describe, expect, it } from 'vitest'
import type { WalEvent } from '../../src/events/types.js'
import { encodeValue } from '../../src/events/valueCodec.js'
import { encodeSegmentHeader } from '../../src/wal/format.js'
import { GrowBuffer, encodeBinaryRecord, encodeJsonRecord } from '../../src/wal/recordCodec.js'
import { scanSegment } from '../../src/wal/segmentReader.js'
import type { SegmentScan } from '../../src/wal/segmentReader.js'

function segment(format: 'binary' | 'json', events: WalEvent[]): Buffer {
  const out = new GrowBuffer(64)
  out.append(encodeSegmentHeader(format, events[0]!.seq))
  for (const ev of events) {
    if (format === 'binary') encodeBinaryRecord(out, ev, 1024)
    else encodeJsonRecord(out, ev)
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
