// The constants and header layout of WAL segments. docs/wal-format.md is the prose version;
// keep the two in step.
import { crc32 } from 'node:zlib'

export type WalFormat = 'binary' | 'json'

export const SEGMENT_SUFFIX = '.wal'
export const MAGIC = 'ISLABWAL'
/**
 * Version 2 marks the first record of every commit (RECORD_COMMIT_START in the type byte, a
 * `"start":true` member in JSON): damage is a torn tail only when no later commit's first record
 * follows it. Version 1 segments (no marks) are still read, with the older rule. Readers of
 * version 1 only refuse version 2 headers instead of misreading the marked type bytes.
 */
export const FORMAT_VERSION = 2
/** Versions this reader understands. */
export const READABLE_VERSIONS: readonly number[] = [1, 2]
/** Binary segments start with a fixed 32-byte header. */
export const BINARY_HEADER_BYTES = 32
/** Each binary record: u32 payload length, u32 crc32 of the payload, payload. */
export const FRAME_HEADER_BYTES = 8
/** type u8 + seq u64 + time f64 */
export const PAYLOAD_PREFIX_BYTES = 17

export const RECORD_PUT = 1
export const RECORD_DEL = 2
export const RECORD_BATCH = 3
/** Quantum entanglement: key, u16 partner count, partners (keys), f64 strength. */
export const RECORD_ENTANGLE = 4
/** A put with a deadline: key, value, f64 expiresAt (also a batch op type). */
export const RECORD_PUT_TTL = 5
/** An expiry: a delete written because the key's deadline passed (key only, as RECORD_DEL). */
export const RECORD_EXPIRE = 6
/**
 * Set in the type byte of a record (version 2) that was written after every byte before it in
 * its segment had been made durable: the first record of a commit, or of a segment. The low
 * bits keep the type.
 */
export const RECORD_COMMIT_START = 0x80
export const RECORD_TYPE_MASK = 0x7f

export const VALUE_FLAG_LZ4 = 1

const FORMAT_CODE: Record<WalFormat, number> = { binary: 0, json: 1 }

export interface SegmentHeader {
  version: number
  format: WalFormat
  firstSeq: number
  /** Bytes the header occupies; records start here. */
  bytes: number
}

/** Files named by a sequence number, zero-padded to 20 digits so that names sort by seq. */
export function seqFileName(seq: number, suffix: string): string {
  return `${String(seq).padStart(20, '0')}${suffix}`
}

export function parseSeqFileName(name: string, suffix: string): number | undefined {
  if (!name.endsWith(suffix) || name.length !== 20 + suffix.length) return undefined
  const digits = name.slice(0, 20)
  return /^\d{20}$/.test(digits) ? Number(digits) : undefined
}

/** Segment file name: its first sequence number. */
export function segmentName(firstSeq: number): string {
  return seqFileName(firstSeq, SEGMENT_SUFFIX)
}

export function parseSegmentName(name: string): number | undefined {
  return parseSeqFileName(name, SEGMENT_SUFFIX)
}

export function encodeSegmentHeader(format: WalFormat, firstSeq: number, version = FORMAT_VERSION): Buffer {
  if (format === 'json') {
    return Buffer.from(jsonLineWithCrc({ magic: MAGIC, version, format, firstSeq }), 'utf8')
  }
  const b = Buffer.alloc(BINARY_HEADER_BYTES)
  b.write(MAGIC, 0, 'latin1')
  b.writeUInt16LE(version, 8)
  b.writeUInt8(FORMAT_CODE[format], 10)
  writeU64(b, 16, firstSeq)
  b.writeUInt32LE(crc32(b.subarray(0, 28)), 28)
  return b
}

/** Parses a segment header, or explains why it is not one. */
export function decodeSegmentHeader(b: Uint8Array): SegmentHeader | string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (buf.length >= 1 && buf[0] === 0x7b /* { */) {
    const nl = buf.indexOf(0x0a)
    if (nl < 0) return 'JSON header line is not terminated'
    const parsed = parseJsonLineWithCrc(buf.toString('utf8', 0, nl))
    if (typeof parsed === 'string') return `JSON header: ${parsed}`
    const h = parsed as { magic?: unknown; version?: unknown; format?: unknown; firstSeq?: unknown }
    if (h.magic !== MAGIC) return 'bad magic'
    if (typeof h.version !== 'number' || !READABLE_VERSIONS.includes(h.version)) return `unsupported version ${String(h.version)}`
    if (h.format !== 'json') return `JSON header names format ${String(h.format)}`
    if (!Number.isSafeInteger(h.firstSeq) || (h.firstSeq as number) < 1) return 'bad firstSeq'
    return { version: h.version, format: 'json', firstSeq: h.firstSeq as number, bytes: nl + 1 }
  }
  if (buf.length < BINARY_HEADER_BYTES) return `header is ${buf.length} bytes, expected ${BINARY_HEADER_BYTES}`
  if (buf.toString('latin1', 0, 8) !== MAGIC) return 'bad magic'
  if (buf.readUInt32LE(28) !== crc32(buf.subarray(0, 28))) return 'header checksum mismatch'
  const version = buf.readUInt16LE(8)
  if (!READABLE_VERSIONS.includes(version)) return `unsupported version ${version}`
  const code = buf.readUInt8(10)
  if (code !== FORMAT_CODE.binary) return `binary header names format code ${code}`
  const firstSeq = readU64(buf, 16)
  if (firstSeq < 1) return 'bad firstSeq'
  return { version, format: 'binary', firstSeq, bytes: BINARY_HEADER_BYTES }
}

// Sequence numbers are u64 on disk and safe integers (< 2^53) in memory.
export function writeU64(b: Buffer, off: number, n: number): void {
  b.writeUInt32LE(n >>> 0, off)
  b.writeUInt32LE(Math.floor(n / 0x100000000), off + 4)
}

/**
 * A little-endian u32 at `off`, by byte arithmetic instead of Buffer.readUInt32LE: replay reads
 * several per record, and the callers have checked the bounds.
 */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16)) + b[off + 3]! * 0x1000000
}

export function readU64(b: Uint8Array, off: number): number {
  return readU32(b, off) + readU32(b, off + 4) * 0x100000000
}

const f64 = new Float64Array(1)
const f64Bytes = new Uint8Array(f64.buffer)

const littleEndian = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f

/** A little-endian float64 at `off` (bounds checked by the caller). */
export function readF64(b: Buffer, off: number): number {
  if (!littleEndian) return b.readDoubleLE(off)
  for (let i = 0; i < 8; i++) f64Bytes[i] = b[off + i]!
  return f64[0]!
}

/**
 * JSON lines carry their checksum as a last member: the line is the compact JSON text T of the
 * record with its closing brace replaced by `,"crc":<crc32 of T>}`. A reader cuts the member off,
 * restores the brace, and checks T.
 */
export function jsonLineWithCrc(obj: object): string {
  const text = JSON.stringify(obj)
  return `${text.slice(0, -1)},"crc":${crc32(text)}}\n`
}

const CRC_MEMBER = ',"crc":'

/** Returns the parsed object, or a reason the line is not a valid record line. */
export function parseJsonLineWithCrc(line: string): unknown {
  const at = line.lastIndexOf(CRC_MEMBER)
  if (at < 0 || !line.endsWith('}')) return 'no crc member'
  const digits = line.slice(at + CRC_MEMBER.length, -1)
  if (!/^\d{1,10}$/.test(digits)) return 'malformed crc member'
  const text = `${line.slice(0, at)}}`
  if (crc32(text) !== Number(digits)) return 'checksum mismatch'
  try {
    return JSON.parse(text)
  } catch {
    return 'not JSON'
  }
}
