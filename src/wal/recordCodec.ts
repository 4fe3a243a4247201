// Encodes events into WAL records and decodes them back, for both entry formats.
// The binary encoder writes straight into a reusable buffer: this is the put hot path.
import { compressSync, uncompressSync } from '../events/lz4.js'
import type { EntangleEvent, Op, PutEvent, PutOp, WalEvent } from '../events/types.js'
import { crc32Range } from './crc.js'
import { decodeValue, encodeValue } from '../events/valueCodec.js'
import { fromTaggedJson, toTaggedJson } from '../events/taggedJson.js'
import {
  FRAME_HEADER_BYTES,
  PAYLOAD_PREFIX_BYTES,
  RECORD_BATCH,
  RECORD_COMMIT_START,
  RECORD_DEL,
  RECORD_ENTANGLE,
  RECORD_EXPIRE,
  RECORD_PUT,
  RECORD_PUT_TTL,
  RECORD_TYPE_MASK,
  VALUE_FLAG_LZ4,
  jsonLineWithCrc,
  readF64,
  readU64,
  writeU64,
} from './format.js'

/** An append-only byte buffer that grows by doubling and is reused between commits. */
export class GrowBuffer {
  buf: Buffer
  pos = 0
  constructor(initial = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initial)
  }
  ensure(extra: number): void {
    const need = this.pos + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }
  append(bytes: Uint8Array): void {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }
  /** A view of the written bytes; valid until the next write or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos)
  }
  reset(): void {
    this.pos = 0
  }
}

function opBytesBound(op: Op): number {
  // u8 op + u16 key length + key (≤ 3 bytes per UTF-16 unit) + value flags, length, bytes, lz4 slack, deadline
  return 3 + op.key.length * 3 + (op.type === 'put' ? 17 + op.value.length + (op.value.length >>> 6) + 16 : 0)
}

function entangleBytesBound(ev: EntangleEvent): number {
  let n = 2 + ev.key.length * 3 + 2 + 8
  for (const k of ev.partners) n += 2 + k.length * 3
  return n
}

/**
 * Appends one binary frame for `ev` to `out`. Values over `compressThreshold` bytes go through LZ4.
 * `commitStart` sets RECORD_COMMIT_START in the type byte (see format.ts).
 */
export function encodeBinaryRecord(out: GrowBuffer, ev: WalEvent, compressThreshold: number, commitStart = false): void {
  const bound =
    FRAME_HEADER_BYTES +
    PAYLOAD_PREFIX_BYTES +
    4 +
    (ev.type === 'batch' ? ev.ops.reduce((n, op) => n + opBytesBound(op), 0) : ev.type === 'entangle' ? entangleBytesBound(ev) : opBytesBound(ev))
  out.ensure(bound)
  const b = out.buf
  const start = out.pos
  let p = start + FRAME_HEADER_BYTES
  b[p] =
    (ev.type === 'put'
      ? ev.expiresAt === undefined
        ? RECORD_PUT
        : RECORD_PUT_TTL
      : ev.type === 'del'
        ? ev.expired === true
          ? RECORD_EXPIRE
          : RECORD_DEL
        : ev.type === 'batch'
          ? RECORD_BATCH
          : RECORD_ENTANGLE) | (commitStart ? RECORD_COMMIT_START : 0)
  writeU64(b, p + 1, ev.seq)
  b.writeDoubleLE(ev.time, p + 9)
  p += PAYLOAD_PREFIX_BYTES
  if (ev.type === 'entangle') {
    p = writeKey(b, p, ev.key)
    b.writeUInt16LE(ev.partners.length, p)
    p += 2
    for (const k of ev.partners) p = writeKey(b, p, k)
    b.writeDoubleLE(ev.strength, p)
    p += 8
  } else if (ev.type === 'batch') {
    b.writeUInt32LE(ev.ops.length, p)
    p += 4
    for (const op of ev.ops) {
      b[p++] = op.type === 'put' ? (op.expiresAt === undefined ? RECORD_PUT : RECORD_PUT_TTL) : RECORD_DEL
      p = writeKey(b, p, op.key)
      if (op.type === 'put') p = writeValue(b, p, op.value, compressThreshold, op.expiresAt)
    }
  } else {
    p = writeKey(b, p, ev.key)
    if (ev.type === 'put') p = writeValue(b, p, ev.value, compressThreshold, ev.expiresAt)
  }
  const len = p - start - FRAME_HEADER_BYTES
  b.writeUInt32LE(len, start)
  b.writeUInt32LE(crc32Range(b, start + FRAME_HEADER_BYTES, p), start + 4)
  out.pos = p
}

/** Keys up to this many characters are copied by a JS loop when they are ASCII: cheaper than a call into C++. */
const SHORT_KEY = 32

function writeKey(b: Buffer, p: number, key: string): number {
  const len = key.length
  if (len <= SHORT_KEY) {
    let i = 0
    for (; i < len; i++) {
      const c = key.charCodeAt(i)
      if (c >= 0x80) break
      b[p + 2 + i] = c
    }
    if (i === len) {
      b[p] = len
      b[p + 1] = 0
      return p + 2 + len
    }
  }
  const n = b.write(key, p + 2, 'utf8')
  b.writeUInt16LE(n, p)
  return p + 2 + n
}

/** The value, then the deadline (f64) of a RECORD_PUT_TTL put. */
function writeValue(b: Buffer, p: number, value: Uint8Array, compressThreshold: number, expiresAt: number | undefined): number {
  let end = value.length > compressThreshold ? writePacked(b, p, value) : 0
  if (end === 0) {
    b[p] = 0
    b.writeUInt32LE(value.length, p + 1)
    b.set(value, p + 5)
    end = p + 5 + value.length
  }
  if (expiresAt === undefined) return end
  b.writeDoubleLE(expiresAt, end)
  return end + 8
}

/** Writes `value` LZ4-compressed when that is shorter; returns the end, or 0 when it was not. */
function writePacked(b: Buffer, p: number, value: Uint8Array): number {
  const packed = compressSync(value as Buffer)
  if (packed.length >= value.length) return 0
  b[p] = VALUE_FLAG_LZ4
  b.writeUInt32LE(packed.length, p + 1)
  b.set(packed, p + 5)
  return p + 5 + packed.length
}

/**
 * Appends one JSON line for `ev`. Values are written in tagged JSON, uncompressed, to stay readable.
 * `commitStart` adds a last member `"start":true` (see RECORD_COMMIT_START).
 */
export function encodeJsonRecord(out: GrowBuffer, ev: WalEvent, commitStart = false): void {
  let obj: Record<string, unknown>
  if (ev.type === 'batch') {
    obj = { seq: ev.seq, time: ev.time, type: 'batch', ops: ev.ops.map(jsonOp) }
  } else if (ev.type === 'entangle') {
    obj = { seq: ev.seq, time: ev.time, type: 'entangle', key: ev.key, partners: ev.partners, strength: ev.strength }
  } else {
    obj = { seq: ev.seq, time: ev.time, ...jsonOp(ev) }
  }
  if (commitStart) obj.start = true
  const line = jsonLineWithCrc(obj)
  out.ensure(line.length * 3)
  out.pos += out.buf.write(line, out.pos, 'utf8')
}

function jsonOp(op: Op): object {
  if (op.type === 'put') {
    const o: Record<string, unknown> = { type: 'put', key: op.key, value: toTaggedJson(decodeValue(op.value)) }
    if (op.expiresAt !== undefined) o.expiresAt = jsonNumber(op.expiresAt)
    return o
  }
  return op.expired === true ? { type: 'del', key: op.key, expired: true } : { type: 'del', key: op.key }
}

/** A deadline as JSON: a number, or tagged like a value's number when JSON has none for it. */
function jsonNumber(x: number): unknown {
  return Number.isFinite(x) ? x : toTaggedJson(x)
}

export class RecordDecodeError extends Error {}

/** Read position of the payload being walked (a module variable: no cursor object per record). */
let at = 0

/**
 * Receives the parts of one binary record as walkBinaryPayload finds them: recovery loads
 * keys and values straight from the bytes this way, with no object or string per record.
 * Keys and values are (buffer, offset, length); an LZ4 value arrives decompressed, in a
 * buffer of its own.
 */
export interface RecordSink {
  /** `type` is the record type (RECORD_*, commit mark removed); RECORD_EXPIRE is a delete (`del`). */
  begin(type: number, seq: number, time: number): void
  put(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number): void
  /** Right after `put`: that put's version expires at `at` (RECORD_PUT_TTL puts only). */
  expires(kb: Buffer, kOff: number, kLen: number, at: number): void
  del(kb: Buffer, kOff: number, kLen: number): void
  entangle(key: string, partners: string[], strength: number): void
}

/** Whether the binary payload at `start` carries RECORD_COMMIT_START. */
export function isCommitStart(b: Uint8Array, start: number): boolean {
  return (b[start]! & RECORD_COMMIT_START) !== 0
}

/** Walks one binary payload (its checksum already verified), telling `sink` what it holds. */
export function walkBinaryPayload(b: Buffer, start: number, end: number, sink: RecordSink): void {
  const type = b[start]! & RECORD_TYPE_MASK
  at = start + PAYLOAD_PREFIX_BYTES
  if (type === RECORD_PUT || type === RECORD_DEL || type === RECORD_PUT_TTL || type === RECORD_EXPIRE) {
    sink.begin(type, readU64(b, start + 1), readF64(b, start + 9))
    walkOp(b, end, type === RECORD_EXPIRE ? RECORD_DEL : type, sink)
  } else if (type === RECORD_BATCH) {
    sink.begin(type, readU64(b, start + 1), readF64(b, start + 9))
    if (at + 4 > end) throw new RecordDecodeError('batch count runs past the record')
    const count = b.readUInt32LE(at)
    at += 4
    for (let i = 0; i < count; i++) {
      if (at >= end) throw new RecordDecodeError('batch op runs past the record')
      const opType = b[at++]!
      if (opType !== RECORD_PUT && opType !== RECORD_DEL && opType !== RECORD_PUT_TTL) throw new RecordDecodeError(`unknown batch op type ${opType}`)
      walkOp(b, end, opType, sink)
    }
  } else if (type === RECORD_ENTANGLE) {
    sink.begin(type, readU64(b, start + 1), readF64(b, start + 9))
    const key = readKey(b, end)
    if (at + 2 > end) throw new RecordDecodeError('partner count runs past the record')
    const count = b.readUInt16LE(at)
    at += 2
    const partners: string[] = []
    for (let i = 0; i < count; i++) partners.push(readKey(b, end))
    if (at + 8 > end) throw new RecordDecodeError('strength runs past the record')
    const strength = b.readDoubleLE(at)
    at += 8
    sink.entangle(key, partners, strength)
  } else {
    throw new RecordDecodeError(`unknown record type ${type}`)
  }
  if (at !== end) throw new RecordDecodeError('record has trailing bytes')
}

function walkOp(b: Buffer, end: number, type: number, sink: RecordSink): void {
  if (at + 2 > end) throw new RecordDecodeError('key length runs past the record')
  const kLen = b[at]! | (b[at + 1]! << 8)
  const kOff = at + 2
  if (kLen === 0 || kOff + kLen > end) throw new RecordDecodeError('key runs past the record')
  at = kOff + kLen
  if (type === RECORD_DEL) {
    sink.del(b, kOff, kLen)
    return
  }
  if (at + 5 > end) throw new RecordDecodeError('value header runs past the record')
  const flags = b[at]!
  const n = b.readUInt32LE(at + 1)
  const s = at + 5
  if (s + n > end) throw new RecordDecodeError('value runs past the record')
  at = s + n
  let expiresAt = 0
  if (type === RECORD_PUT_TTL) {
    if (at + 8 > end) throw new RecordDecodeError('deadline runs past the record')
    expiresAt = b.readDoubleLE(at)
    at += 8
  }
  if (flags === 0) {
    sink.put(b, kOff, kLen, b, s, n)
  } else {
    if (flags !== VALUE_FLAG_LZ4) throw new RecordDecodeError(`unknown value flags ${flags}`)
    let v: Buffer
    try {
      v = uncompressSync(b.subarray(s, s + n))
    } catch (err) {
      throw new RecordDecodeError(`LZ4 value does not decompress: ${(err as Error).message}`)
    }
    sink.put(b, kOff, kLen, v, 0, v.length)
  }
  if (type === RECORD_PUT_TTL) sink.expires(b, kOff, kLen, expiresAt)
}

function readKey(b: Buffer, end: number): string {
  if (at + 2 > end) throw new RecordDecodeError('key length runs past the record')
  const n = b[at]! | (b[at + 1]! << 8)
  const s = at + 2
  if (n === 0 || s + n > end) throw new RecordDecodeError('key runs past the record')
  at = s + n
  return b.toString('utf8', s, s + n)
}

/** Builds the WalEvent of one record from what the walker reports. */
class EventBuilder implements RecordSink {
  private type = 0
  private seq = 0
  private time = 0
  private ev: WalEvent | undefined
  private ops: Op[] = []

  begin(type: number, seq: number, time: number): void {
    this.type = type
    this.seq = seq
    this.time = time
    if (type === RECORD_BATCH) this.ops = []
  }

  put(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number): void {
    const key = kb.toString('utf8', kOff, kOff + kLen)
    const value = vb.subarray(vOff, vOff + vLen)
    if (this.type === RECORD_BATCH) this.ops.push({ type: 'put', key, value })
    else this.ev = { type: 'put', seq: this.seq, time: this.time, key, value }
  }

  del(kb: Buffer, kOff: number, kLen: number): void {
    const key = kb.toString('utf8', kOff, kOff + kLen)
    if (this.type === RECORD_BATCH) this.ops.push({ type: 'del', key })
    else if (this.type === RECORD_EXPIRE) this.ev = { type: 'del', seq: this.seq, time: this.time, key, expired: true }
    else this.ev = { type: 'del', seq: this.seq, time: this.time, key }
  }

  /** Gives the put just reported its deadline (a new object: events are readonly). */
  expires(_kb: Buffer, _kOff: number, _kLen: number, at: number): void {
    if (this.type === RECORD_BATCH) {
      const i = this.ops.length - 1
      this.ops[i] = { ...(this.ops[i] as PutOp), expiresAt: at }
    } else {
      this.ev = { ...(this.ev as PutEvent), expiresAt: at }
    }
  }

  entangle(key: string, partners: string[], strength: number): void {
    this.ev = { type: 'entangle', seq: this.seq, time: this.time, key, partners, strength }
  }

  take(): WalEvent {
    if (this.type === RECORD_BATCH) return { type: 'batch', seq: this.seq, time: this.time, ops: this.ops }
    const ev = this.ev!
    this.ev = undefined
    return ev
  }
}

const builder = new EventBuilder()

/**
 * Decodes one binary payload (its checksum already verified). Values are views into `b`, not
 * copies: replay keeps them without a copy per record, at the price of keeping the buffer they
 * were read from alive while any of its values is current.
 */
export function decodeBinaryPayload(b: Buffer, start: number, end: number): WalEvent {
  walkBinaryPayload(b, start, end, builder)
  return builder.take()
}

/** Decodes one JSON record object (its checksum already verified). */
export function decodeJsonRecord(j: unknown): WalEvent {
  if (typeof j !== 'object' || j === null) throw new RecordDecodeError('record is not an object')
  const r = j as { seq?: unknown; time?: unknown; type?: unknown; ops?: unknown; key?: unknown; partners?: unknown; strength?: unknown }
  if (!Number.isSafeInteger(r.seq) || typeof r.time !== 'number') throw new RecordDecodeError('bad seq or time')
  const seq = r.seq as number
  const time = r.time
  if (r.type === 'entangle') {
    if (typeof r.key !== 'string' || r.key.length === 0) throw new RecordDecodeError('bad key')
    if (!Array.isArray(r.partners) || !r.partners.every((k) => typeof k === 'string' && k.length > 0)) {
      throw new RecordDecodeError('bad entangle partners')
    }
    if (typeof r.strength !== 'number') throw new RecordDecodeError('bad entangle strength')
    return { type: 'entangle', seq, time, key: r.key, partners: r.partners as string[], strength: r.strength }
  }
  if (r.type === 'batch') {
    if (!Array.isArray(r.ops)) throw new RecordDecodeError('batch without ops')
    return { type: 'batch', seq, time, ops: r.ops.map(decodeJsonOp) }
  }
  const op = decodeJsonOp(j)
  return op.type === 'put' ? { ...op, seq, time } : { ...op, seq, time }
}

function decodeJsonOp(j: unknown): Op {
  const o = j as { type?: unknown; key?: unknown; value?: unknown; expiresAt?: unknown; expired?: unknown }
  if (typeof o.key !== 'string' || o.key.length === 0) throw new RecordDecodeError('bad key')
  if (o.type === 'del') return o.expired === true ? { type: 'del', key: o.key, expired: true } : { type: 'del', key: o.key }
  if (o.type !== 'put' || !('value' in o)) throw new RecordDecodeError(`bad op type ${String(o.type)}`)
  let value: unknown
  try {
    value = fromTaggedJson(o.value as never)
  } catch (err) {
    throw new RecordDecodeError(`bad tagged value: ${(err as Error).message}`)
  }
  if (o.expiresAt === undefined) return { type: 'put', key: o.key, value: encodeValue(value) }
  const expiresAt = typeof o.expiresAt === 'number' ? o.expiresAt : decodeJsonNumber(o.expiresAt)
  return { type: 'put', key: o.key, value: encodeValue(value), expiresAt }
}

function decodeJsonNumber(j: unknown): number {
  let x: unknown
  try {
    x = fromTaggedJson(j as never)
  } catch {
    x = undefined
  }
  if (typeof x !== 'number') throw new RecordDecodeError('bad expiresAt')
  return x
}
