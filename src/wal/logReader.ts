// The one reader of a log directory, shared by recovery, change streams and the CLI. It walks
// segments in seq order, checks each one and the continuity between them, and stops at the
// first problem, which it classifies (an interrupted write at the very end, or corruption)
// without acting on it: truncating, failing or moving files aside is the caller's policy.
// It is asynchronous: a segment is scanned a few thousand records at a time, with a turn of the
// event loop whenever a time slice is used up, so replaying a large log never stalls the process.
import path from 'node:path'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { TimeSlice } from '../io/timeSlice.js'
import { READABLE_VERSIONS, encodeSegmentHeader, parseSegmentName } from './format.js'
import type { WalFormat } from './format.js'
import type { RecordSink } from './recordCodec.js'
import { scanRecords, scanSegment } from './segmentReader.js'
import type { HeaderDamage, ScanOptions, SegmentScan } from './segmentReader.js'

export interface SegmentFile {
  name: string
  path: string
  firstSeq: number
  size: number
}

export interface SegmentResult extends SegmentFile {
  format: WalFormat | undefined
  /** Header format version (see FORMAT_VERSION). */
  version: number
  records: number
  lastSeq: number
  /** Length of the segment's valid prefix. */
  validEnd: number
}

export interface LogProblem {
  /** 'torn-tail': damage at the very end of the last segment with nothing valid after it. */
  kind: 'torn-tail' | 'corruption'
  file: string
  offset: number
  reason: string
  /** Bytes from `offset` to the end of that file. */
  bytes: number
}

export interface LogReadResult {
  segments: SegmentResult[]
  /** Seq of the last valid record read (0 when none). */
  lastSeq: number
  /** First problem met; reading stopped there. */
  problem: LogProblem | undefined
}

export interface ReadLogOptions {
  /** Skip segments and records before this seq (they are still checked when in a read segment). */
  fromSeq?: number
  toSeq?: number
  /** Called once per segment before it is read, with bytes done and total. */
  onSegment?: (seg: SegmentFile, bytesBefore: number, bytesTotal: number) => void
  /** Records of binary segments go here instead of to `visit` (see ScanOptions.sink). */
  sink?: RecordSink
  /**
   * Called before each turn of the event loop the reader yields, with the bytes done so far
   * (the segments before plus the offset reached in this one) and the total: where a progress
   * bar repaints.
   */
  onSlice?: (bytesDone: number, bytesTotal: number) => void
}

/** Records scanned between checks of the time slice: ~1 ms of replay. */
const RECORDS_PER_CHECK = 2048

export function listSegments(files: FileLayer, dir: string): SegmentFile[] {
  const out: SegmentFile[] = []
  for (const name of files.list(dir)) {
    const firstSeq = parseSegmentName(name)
    if (firstSeq === undefined) continue
    const p = path.join(dir, name)
    out.push({ name, path: p, firstSeq, size: files.size(p) })
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq)
}

export async function readLog(
  files: FileLayer,
  dir: string,
  visit: (ev: WalEvent) => void,
  opts: ReadLogOptions = {},
): Promise<LogReadResult> {
  const fromSeq = opts.fromSeq ?? 1
  const toSeq = opts.toSeq ?? Infinity
  const all = listSegments(files, dir)
  // Segments wholly before fromSeq are skipped: the next one starts at or before fromSeq.
  let first = 0
  while (first + 1 < all.length && all[first + 1]!.firstSeq <= fromSeq) first++
  const segs = all.slice(first)
  const total = segs.reduce((n, s) => n + s.size, 0)
  const results: SegmentResult[] = []
  let done = 0
  let lastSeq = 0
  let problem: LogProblem | undefined
  const slice = new TimeSlice()
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!
    const isLast = i === segs.length - 1
    opts.onSegment?.(seg, done, total)
    if (results.length > 0 && seg.firstSeq !== lastSeq + 1) {
      problem = corruption(seg, 0, `segment starts at seq ${seg.firstSeq} but the previous one ended at ${lastSeq}`)
      break
    }
    const bytes = await files.readFileAsync(seg.path)
    const scan = await scanInSlices(bytes, visit, { fromSeq, toSeq, sink: opts.sink }, slice, (at) => opts.onSlice?.(done + at, total))
    if ('headerError' in scan) {
      // A crash while creating the last segment leaves part of its header: nothing was in it
      // (headers are fsynced before any record is appended). Anything else is damage.
      const cutShort = isHeaderPrefix(bytes, seg.firstSeq)
      const torn = isLast && cutShort && (results.length === 0 || seg.firstSeq === lastSeq + 1)
      problem = { kind: torn ? 'torn-tail' : 'corruption', file: seg.name, offset: 0, reason: `bad header: ${scan.headerError}`, bytes: bytes.length }
      break
    }
    if (scan.header.firstSeq !== seg.firstSeq) {
      problem = corruption(seg, 0, `header says first seq ${scan.header.firstSeq}, file name says ${seg.firstSeq}`)
      break
    }
    results.push({ ...seg, format: scan.header.format, version: scan.header.version, records: scan.records, lastSeq: scan.lastSeq, validEnd: scan.validEnd })
    lastSeq = scan.lastSeq
    done += seg.size
    if (scan.damage !== undefined) {
      const torn = isLast && !scan.damage.validRecordsFollow
      problem = {
        kind: torn ? 'torn-tail' : 'corruption',
        file: seg.name,
        offset: scan.damage.offset,
        reason: scan.damage.reason,
        bytes: bytes.length - scan.damage.offset,
      }
      break
    }
    if (lastSeq >= toSeq) break
  }
  return { segments: results, lastSeq, problem }
}

/**
 * scanSegment over the whole of `bytes`, RECORDS_PER_CHECK records per call, resuming at the
 * record boundary where the previous call stopped, and yielding a turn whenever the slice is
 * used up. The result is the one a single scanSegment call would give: damage is found (and
 * classified) by the same scan, which sees the whole segment.
 */
async function scanInSlices(
  bytes: Buffer,
  visit: (ev: WalEvent) => void,
  opts: ScanOptions,
  slice: TimeSlice,
  beforeTurn: (offset: number) => void,
): Promise<SegmentScan | HeaderDamage> {
  const first = scanSegment(bytes, visit, { ...opts, limit: RECORDS_PER_CHECK })
  if ('headerError' in first) return first
  const toSeq = opts.toSeq ?? Infinity
  let scan = first
  let records = first.records
  while (scan.damage === undefined && scan.validEnd < bytes.length && scan.lastSeq < toSeq) {
    if (slice.due()) {
      beforeTurn(scan.validEnd)
      await slice.turn()
    }
    const resume = { offset: scan.validEnd, seq: scan.lastSeq + 1 }
    scan = scanRecords(bytes, first.header, visit, { ...opts, resume, limit: RECORDS_PER_CHECK })
    records += scan.records
  }
  return { ...scan, records }
}

/**
 * Whether `bytes` could be what a crash left of the header a segment starting at firstSeq would
 * have: no longer than it, each byte either the header's or zero (a page the crash did not
 * persist, in a file whose new length it did).
 */
function isHeaderPrefix(bytes: Buffer, firstSeq: number): boolean {
  for (const format of ['binary', 'json'] as const) {
    for (const version of READABLE_VERSIONS) {
      const h = encodeSegmentHeader(format, firstSeq, version)
      if (bytes.length > h.length) continue
      let ok = true
      for (let i = 0; i < bytes.length && ok; i++) ok = bytes[i] === h[i] || bytes[i] === 0
      if (ok) return true
    }
  }
  return false
}

function corruption(seg: SegmentFile, offset: number, reason: string): LogProblem {
  return { kind: 'corruption', file: seg.name, offset, reason, bytes: seg.size - offset }
}
