// A second, independent reader of WAL segments, written only from docs/wal-format.md. It does not
// use the engine's codec or reader: if the database writes something the document does not
// describe, this test fails.
import fs from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { uncompressSync } from 'lz4-napi'
import { Packr, addExtension } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

// ---- the reader ---------------------------------------------------------------------------

// "Values": msgpackr with these options, plus the 0x4D tag extension carrying [key, value] pairs.
const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint' })
addExtension({ type: 0x4d, read: (pairs: [unknown, unknown][]) => new Map(pairs) })

type Decoded =
  | { type: 'put'; key: string; value: unknown; lz4: boolean }
  | { type: 'del'; key: string }

type ReadEvent =
  | ({ seq: number; time: number } & Decoded)
  | { seq: number; time: number; type: 'batch'; ops: Decoded[] }

interface ReadSegment {
  format: 'binary' | 'json'
  firstSeq: number
  events: ReadEvent[]
  /** Per record: marked as the first record of a commit. */
  starts: boolean[]
}

/** Decodes a raw LZ4 block (the block format, not the frame format) of known output size. */
function lz4Block(src: Buffer, outLen: number): Buffer {
  const out = Buffer.alloc(outLen)
  let i = 0
  let o = 0
  while (i < src.length) {
    const token = src[i++]!
    let lit = token >> 4
    if (lit === 15) for (let b = 255; b === 255; lit += b) b = src[i++]!
    src.copy(out, o, i, i + lit)
    i += lit
    o += lit
    if (i >= src.length) break // the last sequence has literals only
    const offset = src[i]! | (src[i + 1]! << 8)
    i += 2
    let match = token & 15
    if (match === 15) for (let b = 255; b === 255; match += b) b = src[i++]!
    match += 4
    for (let k = 0; k < match; k++, o++) out[o] = out[o - offset]!
  }
  if (o !== outLen) throw new Error(`LZ4 block gave ${o} bytes, expected ${outLen}`)
  return out
}

function u64(b: Buffer, off: number): number {
  return b.readUInt32LE(off) + b.readUInt32LE(off + 4) * 2 ** 32
}

/** Reads a binary segment front to back; throws on anything the document calls damage. */
function readBinarySegment(b: Buffer): ReadSegment {
  // Header: magic, u16 version, u8 format code, 5 zero, u64 firstSeq, 4 zero, CRC of bytes 0-27.
  expect(b.length).toBeGreaterThanOrEqual(32)
  expect(b.toString('latin1', 0, 8)).toBe('ISLABWAL')
  expect(b.readUInt32LE(28)).toBe(crc32(b.subarray(0, 28)))
  expect(b.readUInt16LE(8)).toBe(2)
  expect(b[10]).toBe(0)
  expect([...b.subarray(11, 16), ...b.subarray(24, 28)]).toEqual(new Array(9).fill(0))
  const firstSeq = u64(b, 16)
  const events: ReadEvent[] = []
  const starts: boolean[] = []
  let p = 32
  while (p < b.length) {
    if (p + 8 > b.length) throw new Error(`frame header cut short at ${p}`)
    const len = b.readUInt32LE(p)
    if (len < 17 || p + 8 + len > b.length) throw new Error(`bad frame length ${len} at ${p}`)
    const payload = b.subarray(p + 8, p + 8 + len)
    if (crc32(payload) !== b.readUInt32LE(p + 4)) throw new Error(`checksum mismatch at ${p}`)
    // Version 2: bit 0x80 of the type byte marks the first record of a commit.
    starts.push((payload[0]! & 0x80) !== 0)
    events.push(decodePayload(payload))
    p += 8 + len
  }
  return { format: 'binary', firstSeq, events, starts }
}

function decodePayload(b: Buffer): ReadEvent {
  let p = 17
  const key = (): string => {
    const n = b.readUInt16LE(p)
    if (n === 0 || p + 2 + n > b.length) throw new Error('bad key')
    p += 2 + n
    return b.toString('utf8', p - n, p)
  }
  const value = (): { value: unknown; lz4: boolean } => {
    const flags = b[p]!
    const m = b.readUInt32LE(p + 1)
    const stored = b.subarray(p + 5, p + 5 + m)
    if (stored.length !== m) throw new Error('value runs past the record')
    p += 5 + m
    if (flags === 0) return { value: packr.unpack(stored), lz4: false }
    if (flags !== 1) throw new Error(`unknown value flags ${flags}`)
    // u32 uncompressed length, then one LZ4 block; lz4-napi must agree with the block decoder.
    const raw = lz4Block(stored.subarray(4), stored.readUInt32LE(0))
    expect(raw.equals(uncompressSync(stored))).toBe(true)
    return { value: packr.unpack(raw), lz4: true }
  }
  const op = (type: number): Decoded => {
    if (type === 1) return { type: 'put', key: key(), ...value() }
    if (type === 2) return { type: 'del', key: key() }
    throw new Error(`unknown type ${type}`)
  }
  const type = b[0]! & 0x7f
  const seq = u64(b, 1)
  const time = b.readDoubleLE(9)
  let ev: ReadEvent
  if (type === 3) {
    const count = b.readUInt32LE(p)
    p += 4
    const ops: Decoded[] = []
    for (let i = 0; i < count; i++) ops.push(op(b[p++]!))
    ev = { seq, time, type: 'batch', ops }
  } else {
    ev = { seq, time, ...op(type) }
  }
  if (p !== b.length) throw new Error('record has trailing bytes')
  return ev
}

/** Checks a JSON line's CRC as documented and returns the parsed record. */
function jsonLine(line: string): Record<string, unknown> {
  const at = line.lastIndexOf(',"crc":')
  expect(line.endsWith('}')).toBe(true)
  const digits = line.slice(at + ',"crc":'.length, -1)
  expect(digits).toMatch(/^\d{1,10}$/)
  const text = `${line.slice(0, at)}}`
  expect(crc32(Buffer.from(text, 'utf8'))).toBe(Number(digits))
  return JSON.parse(text) as Record<string, unknown>
}

const TYPED: Record<string, new (b: ArrayBuffer) => unknown> = { Int16Array, Float64Array, BigInt64Array }

function untag(j: unknown): unknown {
  if (j === null || typeof j !== 'object') return j
  if (Array.isArray(j)) return j.map(untag)
  const o = j as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length === 1 && keys[0]!.startsWith('$')) {
    const x = o[keys[0]!] as never
    switch (keys[0]) {
      case '$num': return x === '-0' ? -0 : Number(x)
      case '$bigint': return BigInt(x)
      case '$undefined': return undefined
      case '$date': return new Date(x === null ? NaN : x)
      case '$bytes': return Buffer.from(x, 'base64')
      case '$uint8': return new Uint8Array(Buffer.from(x, 'base64'))
      case '$typed': { const [name, data] = x as [string, string]; return new TYPED[name]!(new Uint8Array(Buffer.from(data, 'base64')).buffer) }
      case '$map': return new Map((x as [unknown, unknown][]).map(([k, v]) => [untag(k), untag(v)]))
      case '$set': return new Set((x as unknown[]).map(untag))
      case '$object': return Object.fromEntries(Object.entries(x as object).map(([k, v]) => [k, untag(v)]))
    }
  }
  return Object.fromEntries(keys.map((k) => [k, untag(o[k])]))
}

function readJsonSegment(b: Buffer): ReadSegment {
  const lines = b.toString('utf8').split('\n')
  expect(lines.pop()).toBe('') // every line, the last included, ends in \n
  const h = jsonLine(lines.shift()!)
  expect(h).toMatchObject({ magic: 'ISLABWAL', version: 2, format: 'json' })
  const jsonOp = (o: Record<string, unknown>): Decoded =>
    o.type === 'put'
      ? { type: 'put', key: o.key as string, value: untag(o.value), lz4: false }
      : { type: 'del', key: o.key as string }
  const starts: boolean[] = []
  const events = lines.map((line): ReadEvent => {
    const r = jsonLine(line)
    starts.push(r.start === true)
    const base = { seq: r.seq as number, time: r.time as number }
    if (r.type === 'batch') return { ...base, type: 'batch', ops: (r.ops as Record<string, unknown>[]).map(jsonOp) }
    return { ...base, ...jsonOp(r) }
  })
  return { format: 'json', firstSeq: h.firstSeq as number, events, starts }
}

/** Reads the MANIFEST as the document says: one JSON line with CRC. */
function readManifestFile(dir: string): Record<string, unknown> {
  const text = fs.readFileSync(path.join(dir, 'MANIFEST'), 'utf8')
  expect(text.endsWith('\n')).toBe(true)
  expect(text.indexOf('\n')).toBe(text.length - 1)
  const m = jsonLine(text.slice(0, -1))
  expect(m).toMatchObject({ magic: 'ISLABMANIFEST', version: 1 })
  return m
}

/** Lists the segments as the document says: 20 digits + '.wal', ascending. */
function readDir(dir: string): { name: string; seg: ReadSegment }[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.wal$/.test(n))
    .sort()
    .map((name) => {
      const b = fs.readFileSync(path.join(dir, name))
      return { name, seg: b[0] === 0x7b ? readJsonSegment(b) : readBinarySegment(b) }
    })
}

// ---- the test -----------------------------------------------------------------------------

const big = { text: 'The quick brown fox jumps over the lazy dog. '.repeat(60), n: 7 } // ~2.7 KB of msgpack
const nested = new Map<unknown, unknown>([['x', 1], [2, new Map([['y', 2n ** 70n]])], ['s', new Set(['a', 'b'])]])
const date = new Date(1700000000123)

async function writeSample(dir: string, walFormat: 'binary' | 'json'): Promise<{ before: number; after: number }> {
  const before = Date.now()
  const db = await open({ dir, durability: 'sync', walFormat })
  await db.put('n', 1)
  await db.put('big', big)
  await db.put('bigint', 2n ** 40n)
  await db.put('date', date)
  await db.put('map', nested)
  await db.put('ключ🔑', { arr: [1, 'two', null, -1.5], u8: new Uint8Array([1, 2, 3]), i16: new Int16Array([1, -2]) })
  await db.delete('n')
  await db.batch([
    { type: 'put', key: 'b1', value: { $only: 'dollar' } },
    { type: 'del', key: 'date' },
    { type: 'put', key: 'b2', value: [NaN, Infinity, undefined, Buffer.from('hi')] },
  ])
  await db.close()
  return { before, after: Date.now() }
}

type ExpectedOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string }
const expected: ({ seq: number } & (ExpectedOp | { type: 'batch'; ops: ExpectedOp[] }))[] = [
  { seq: 1, type: 'put', key: 'n', value: 1 },
  { seq: 2, type: 'put', key: 'big', value: big },
  { seq: 3, type: 'put', key: 'bigint', value: 2n ** 40n },
  { seq: 4, type: 'put', key: 'date', value: date },
  { seq: 5, type: 'put', key: 'map', value: nested },
  { seq: 6, type: 'put', key: 'ключ🔑', value: { arr: [1, 'two', null, -1.5], u8: new Uint8Array([1, 2, 3]), i16: new Int16Array([1, -2]) } },
  { seq: 7, type: 'del', key: 'n' },
  {
    seq: 8,
    type: 'batch',
    ops: [
      { type: 'put', key: 'b1', value: { $only: 'dollar' } },
      { type: 'del', key: 'date' },
      { type: 'put', key: 'b2', value: [NaN, Infinity, undefined, Buffer.from('hi')] },
    ],
  },
]

function withoutLz4(ev: ReadEvent): unknown {
  const strip = (op: Decoded) => (op.type === 'put' ? { type: op.type, key: op.key, value: op.value } : { type: op.type, key: op.key })
  return ev.type === 'batch' ? { seq: ev.seq, type: ev.type, ops: ev.ops.map(strip) } : { seq: ev.seq, ...strip(ev) }
}

describe('a second WAL reader written from docs/wal-format.md', () => {
  it('decodes every event of a binary segment', async () => {
    const dir = tmpDir()
    const { before, after } = await writeSample(dir, 'binary')
    expect(fs.readdirSync(dir).sort()).toEqual(['00000000000000000001.wal', 'MANIFEST']) // LOCK is gone after close
    // A clean close records the log's end (seq 8): a segment cut short later is told from a torn tail.
    expect(readManifestFile(dir)).toEqual({ magic: 'ISLABMANIFEST', version: 1, seq: 8, segments: [{ firstSeq: 1 }], checkpoints: [], rewrites: [] })
    const segs = readDir(dir)
    expect(segs).toHaveLength(1)
    const seg = segs[0]!.seg
    expect(seg).toMatchObject({ format: 'binary', firstSeq: 1 })
    // Each write was awaited, so each was a commit of its own.
    expect(seg.starts).toEqual(seg.events.map(() => true))
    expect(seg.events.map(withoutLz4)).toStrictEqual(expected)
    for (const ev of seg.events) {
      expect(ev.time).toBeGreaterThanOrEqual(before)
      expect(ev.time).toBeLessThanOrEqual(after)
    }
    const lz4 = seg.events.flatMap((ev) => (ev.type === 'batch' ? ev.ops : [ev])).filter((op) => op.type === 'put' && op.lz4)
    expect(lz4.map((op) => op.key)).toEqual(['big'])
    // bigints come back as bigints, Maps and Sets as themselves, Dates as Dates
    const values = Object.fromEntries(seg.events.flatMap((ev) => (ev.type === 'put' ? [[ev.key, ev.value]] : [])))
    expect(typeof values.bigint).toBe('bigint')
    expect(values.map).toBeInstanceOf(Map)
    expect(((values.map as Map<unknown, Map<unknown, unknown>>).get(2)!).get('y')).toBe(2n ** 70n)
    expect(values.date).toBeInstanceOf(Date)
  })

  it('decodes the same events from a JSON segment, and both formats across a rotation', async () => {
    const dir = tmpDir()
    await writeSample(dir, 'json')
    const db = await open({ dir, durability: 'sync', walFormat: 'binary' }) // format change: new segment
    await db.put('after', 'rotation')
    await db.close()
    const segs = readDir(dir)
    expect(segs.map((s) => [s.name, s.seg.format, s.seg.firstSeq])).toEqual([
      ['00000000000000000001.wal', 'json', 1],
      ['00000000000000000009.wal', 'binary', 9],
    ])
    expect(segs[0]!.seg.events.map(withoutLz4)).toStrictEqual(expected)
    expect(segs[1]!.seg.events.map(withoutLz4)).toStrictEqual([{ seq: 9, type: 'put', key: 'after', value: 'rotation' }])
    expect(segs[0]!.seg.starts).toEqual(segs[0]!.seg.events.map(() => true))
    // The first record of a segment starts a commit (its header was fsynced before).
    expect(segs[1]!.seg.starts).toEqual([true])
    // Segment 1 was sealed at its length when segment 9 was created.
    expect(readManifestFile(dir)).toMatchObject({
      seq: 9,
      segments: [{ firstSeq: 1, bytes: fs.statSync(path.join(dir, '00000000000000000001.wal')).size }, { firstSeq: 9 }],
    })
  })
})
