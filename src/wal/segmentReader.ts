// Reads the records of one segment's bytes. It reports damage (where, why, and whether valid
// records follow it) but decides nothing: strict vs point-in-time is the caller's policy.
import type { WalEvent } from '../events/types.js'
import { crc32Range } from './crc.js'
import { FRAME_HEADER_BYTES, PAYLOAD_PREFIX_BYTES, decodeSegmentHeader, parseJsonLineWithCrc, readU32, readU64 } from './format.js'
import type { SegmentHeader } from './format.js'
import { RecordDecodeError, decodeBinaryPayload, decodeJsonRecord, isCommitStart, walkBinaryPayload } from './recordCodec.js'
import type { RecordSink } from './recordCodec.js'

export interface SegmentDamage {
  /** Byte offset in the segment where the first bad record starts. */
  offset: number
  reason: string
  /**
   * True when the damage cannot be an interrupted last write: in a version 1 segment, some
   * checksum-valid record follows it; in version 2, some checksum-valid record that starts a
   * commit (RECORD_COMMIT_START) follows it, so a later commit was written after this one was
   * durable. Valid records of the damaged commit itself may follow: the page cache writes pages
   * back in any order, so a crash can keep a later page of the last write and lose an earlier one.
   */
  validRecordsFollow: boolean
}

export interface SegmentScan {
  header: SegmentHeader
  /** Offset just past the last good record: the length of the valid prefix. */
  validEnd: number
  records: number
  /** Seq of the last good record, or header.firstSeq - 1 when there is none. */
  lastSeq: number
  damage: SegmentDamage | undefined
}

export type HeaderDamage = { headerError: string }

export interface ScanOptions {
  /** Records with a smaller seq are checked but not decoded nor visited. */
  fromSeq?: number
  /** Stop (without damage) after the record with this seq. */
  toSeq?: number
  /** Start at this record boundary (offset, and the seq of the record there) instead of after the header. */
  resume?: { offset: number; seq: number }
  /** Stop after visiting this many records. */
  limit?: number
  /** Added to the offsets given to `visit`: the file offset of `bytes[0]` when it is a window of the file. */
  base?: number
  /**
   * Binary segments: records go to this sink instead of `visit`, with no event object per
   * record (recovery's loading path). JSON records still go to `visit`.
   */
  sink?: RecordSink
}

/**
 * Scans a segment: checks every frame and checksum, and that seqs run on from the header's
 * firstSeq without a gap. `visit` gets each event in order.
 */
export function scanSegment(
  bytes: Buffer,
  visit: (ev: WalEvent, offset: number) => void,
  opts: ScanOptions = {},
): SegmentScan | HeaderDamage {
  const header = decodeSegmentHeader(bytes)
  if (typeof header === 'string') return { headerError: header }
  return scanRecords(bytes, header, visit, opts)
}

/**
 * Scans records of a segment whose header is already known. `bytes` may be a window of the file:
 * then `opts.resume` gives the window-relative offset of a record boundary and its seq, and
 * offsets in the result are relative to the window too.
 */
export function scanRecords(
  bytes: Buffer,
  header: SegmentHeader,
  visit: (ev: WalEvent, offset: number) => void,
  opts: ScanOptions = {},
): SegmentScan {
  return header.format === 'binary' ? scanBinary(bytes, header, visit, opts) : scanJson(bytes, header, visit, opts)
}

function scanBinary(
  b: Buffer,
  header: SegmentHeader,
  visit: (ev: WalEvent, offset: number) => void,
  opts: ScanOptions,
): SegmentScan {
  const fromSeq = opts.fromSeq ?? 0
  const toSeq = opts.toSeq ?? Infinity
  let p = opts.resume?.offset ?? header.bytes
  let expected = opts.resume?.seq ?? header.firstSeq
  let records = 0
  let visited = 0
  const limit = opts.limit ?? Infinity
  const sink = opts.sink
  const base = opts.base ?? 0
  let damage: SegmentDamage | undefined
  const end = b.length
  while (p < end) {
    const ps = p + FRAME_HEADER_BYTES
    let len = -1
    let seq = -1
    if (ps + PAYLOAD_PREFIX_BYTES <= end) {
      len = readU32(b, p)
      seq = readU64(b, ps + 1)
      // Records before fromSeq are already covered (by a checkpoint, or the reader does not want
      // them): walked over by length and seq, without the checksum, since nothing in them is
      // used. A damaged length or seq cannot go unnoticed: the walk would land off a record
      // boundary (or on the wrong seq) and fail the checks of the record it lands on.
      // `islab verify` checks these records too.
      if (seq < fromSeq && seq === expected && len >= PAYLOAD_PREFIX_BYTES && ps + len <= end) {
        p = ps + len
        records++
        expected++
        continue
      }
    }
    if (len < PAYLOAD_PREFIX_BYTES || ps + len > end || crc32Range(b, ps, ps + len) !== readU32(b, p + 4)) {
      damage = { offset: p, reason: checkFrame(b, p, end) ?? 'checksum mismatch', validRecordsFollow: validFrameAfter(b, p + 1, end, header.version >= 2) }
      break
    }
    if (seq !== expected) {
      damage = { offset: p, reason: `sequence gap: expected seq ${expected}, found ${seq}`, validRecordsFollow: true }
      break
    }
    if (seq >= fromSeq) {
      let ev: WalEvent | undefined
      try {
        if (sink === undefined) ev = decodeBinaryPayload(b, ps, ps + len)
        else walkBinaryPayload(b, ps, ps + len, sink)
      } catch (err) {
        if (!(err instanceof RecordDecodeError)) throw err
        // The checksum matched, so the writer produced these bytes: not an interrupted write.
        damage = { offset: p, reason: `undecodable record: ${err.message}`, validRecordsFollow: true }
        break
      }
      if (ev !== undefined) visit(ev, base + p)
      visited++
    }
    p = ps + len
    records++
    expected++
    if (seq >= toSeq || visited >= limit) break
  }
  return { header, validEnd: p, records, lastSeq: expected - 1, damage }
}

/** Returns why the frame at p is not valid, or undefined when it is. */
function checkFrame(b: Buffer, p: number, end: number): string | undefined {
  if (p + FRAME_HEADER_BYTES > end) return `frame header cut short (${end - p} of ${FRAME_HEADER_BYTES} bytes)`
  const len = b.readUInt32LE(p)
  if (len < PAYLOAD_PREFIX_BYTES) return `impossible record length ${len}`
  if (p + FRAME_HEADER_BYTES + len > end) return `record cut short (${end - p - FRAME_HEADER_BYTES} of ${len} bytes)`
  const ps = p + FRAME_HEADER_BYTES
  if (crc32Range(b, ps, ps + len) !== b.readUInt32LE(p + 4)) return 'checksum mismatch'
  return undefined
}

/**
 * Looks for a checksum-valid frame starting in [from, end) (with `commitStart`, only one marked
 * RECORD_COMMIT_START): evidence that damage is not a torn tail. With `commitStart`, a valid
 * unmarked frame is a record of the same commit: the search steps over its whole length, so a
 * frame inside its value (a blob holding IsLabDB bytes, say) is never taken for a later commit.
 */
function validFrameAfter(b: Buffer, from: number, end: number, commitStart: boolean): boolean {
  for (let q = from; q + FRAME_HEADER_BYTES + PAYLOAD_PREFIX_BYTES <= end; q++) {
    const len = b.readUInt32LE(q)
    if (len < PAYLOAD_PREFIX_BYTES || q + FRAME_HEADER_BYTES + len > end) continue
    if (checkFrame(b, q, end) !== undefined) continue
    if (!commitStart || isCommitStart(b, q + FRAME_HEADER_BYTES)) return true
    q += FRAME_HEADER_BYTES + len - 1
  }
  return false
}

function scanJson(
  b: Buffer,
  header: SegmentHeader,
  visit: (ev: WalEvent, offset: number) => void,
  opts: ScanOptions,
): SegmentScan {
  const fromSeq = opts.fromSeq ?? 0
  const toSeq = opts.toSeq ?? Infinity
  let p = opts.resume?.offset ?? header.bytes
  let expected = opts.resume?.seq ?? header.firstSeq
  let records = 0
  let visited = 0
  const limit = opts.limit ?? Infinity
  const base = opts.base ?? 0
  let damage: SegmentDamage | undefined
  while (p < b.length) {
    const nl = b.indexOf(0x0a, p)
    if (nl < 0) {
      damage = { offset: p, reason: 'last line is not terminated', validRecordsFollow: false }
      break
    }
    const parsed = parseJsonLineWithCrc(b.toString('utf8', p, nl))
    if (typeof parsed !== 'object' || parsed === null) {
      damage = { offset: p, reason: String(parsed), validRecordsFollow: header.version >= 2 ? validLineAfter(b, p + 1, true) : validLineAfter(b, nl + 1, false) }
      break
    }
    let ev: WalEvent
    try {
      ev = decodeJsonRecord(parsed)
    } catch (err) {
      if (!(err instanceof RecordDecodeError)) throw err
      damage = { offset: p, reason: `undecodable record: ${err.message}`, validRecordsFollow: true }
      break
    }
    if (ev.seq !== expected) {
      damage = { offset: p, reason: `sequence gap: expected seq ${expected}, found ${ev.seq}`, validRecordsFollow: true }
      break
    }
    if (ev.seq >= fromSeq) {
      visit(ev, base + p)
      visited++
    }
    p = nl + 1
    records++
    expected++
    if (ev.seq >= toSeq || visited >= limit) break
  }
  return { header, validEnd: p, records, lastSeq: expected - 1, damage }
}

/**
 * The JSON counterpart of validFrameAfter. Version 1 (`commitStart` false): a later complete
 * line, from a line start, that passes its CRC and parses. Version 2: a line marked
 * `"start":true` beginning at any `{"seq":` after `from`, since a page the crash lost may have
 * taken the newline before it (its zeros then run into the next line).
 */
function validLineAfter(b: Buffer, from: number, commitStart: boolean): boolean {
  let p = from
  while (p < b.length) {
    if (commitStart) {
      p = b.indexOf(RECORD_OPENING, p)
      if (p < 0) return false
    }
    const nl = b.indexOf(0x0a, p)
    if (nl < 0) return false
    const parsed = parseJsonLineWithCrc(b.toString('utf8', p, nl))
    if (typeof parsed === 'object' && parsed !== null && (!commitStart || (parsed as { start?: unknown }).start === true)) return true
    p = commitStart ? p + 1 : nl + 1
  }
  return false
}

/** Every JSON record line starts so (JSON.stringify writes the members in order). */
const RECORD_OPENING = Buffer.from('{"seq":')

/**
 * Finds the seqs of checksum-valid records anywhere in bytes[from..], stepping over damage.
 * Used to tell exactly which seqs a point-in-time recovery gives up. Undefined when none.
 */
export function salvageSeqRange(b: Buffer, from: number): { min: number; max: number } | undefined {
  let min = Infinity
  let max = -Infinity
  const note = (seq: number): void => {
    if (seq < min) min = seq
    if (seq > max) max = seq
  }
  // Binary frames.
  let p = from
  while (p + FRAME_HEADER_BYTES + PAYLOAD_PREFIX_BYTES <= b.length) {
    if (checkFrame(b, p, b.length) === undefined) {
      note(readU64(b, p + FRAME_HEADER_BYTES + 1))
      p += FRAME_HEADER_BYTES + b.readUInt32LE(p)
    } else {
      p++
    }
  }
  // JSON lines (a binary segment yields none: its bytes hold no checksum-valid lines).
  p = from
  while (p < b.length) {
    let nl = b.indexOf(0x0a, p)
    if (nl < 0) nl = b.length
    const parsed = parseJsonLineWithCrc(b.toString('utf8', p, nl)) as { seq?: unknown }
    if (typeof parsed === 'object' && parsed !== null && Number.isSafeInteger(parsed.seq)) note(parsed.seq as number)
    p = nl + 1
  }
  return min === Infinity ? undefined : { min, max }
}
