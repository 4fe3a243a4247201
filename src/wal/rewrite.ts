// Rewrites WAL segments for `islab convert` (same events, other entry format) and `islab
// compact` (drop the records a checkpoint covers from the segment that straddles it). Callers
// hold the directory lock and have run recovery, so the segments are known to be whole.
// A rewrite is first written in full to `<segment name>.rewrite` (a name readers ignore) and
// fsynced; only then does it replace anything. `finishInterruptedRewrites` settles what a
// crash left behind.
import path from 'node:path'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { encodeSegmentHeader, parseSegmentName, segmentName } from './format.js'
import type { WalFormat } from './format.js'
import { listSegments } from './logReader.js'
import type { SegmentFile } from './logReader.js'
import { GrowBuffer, encodeBinaryRecord, encodeJsonRecord } from './recordCodec.js'
import { scanSegment } from './segmentReader.js'
import type { SegmentScan } from './segmentReader.js'

export const REWRITE_SUFFIX = '.rewrite'

export class RewriteRefused extends Error {}

function scanWhole(bytes: Buffer, seg: SegmentFile, visit: (ev: WalEvent, offset: number) => void, fromSeq?: number): SegmentScan {
  const scan = scanSegment(bytes, visit, { fromSeq })
  if ('headerError' in scan) throw new RewriteRefused(`${seg.name} has a bad header (${scan.headerError})`)
  if (scan.damage !== undefined) throw new RewriteRefused(`${seg.name} is damaged at byte ${scan.damage.offset} (${scan.damage.reason})`)
  return scan
}

export interface Converted {
  name: string
  from: WalFormat
  records: number
  bytesBefore: number
  bytesAfter: number
}

/**
 * Re-encodes every record of `seg` in `format` under the same name: same seqs, times, keys and
 * values. The new file replaces the old one by an atomic rename, so a crash leaves one or the other.
 */
export function convertSegment(files: FileLayer, dir: string, seg: SegmentFile, format: WalFormat, compressThreshold: number): Converted | undefined {
  const bytes = files.readFile(seg.path)
  const out = new GrowBuffer(Math.max(1 << 16, bytes.length))
  let records = 0
  const scan = scanWhole(bytes, seg, (ev) => {
    if (format === 'binary') encodeBinaryRecord(out, ev, compressThreshold)
    else encodeJsonRecord(out, ev)
    records++
  })
  if (scan.header.format === format) return undefined
  const header = encodeSegmentHeader(format, seg.firstSeq)
  const tmp = `${seg.path}${REWRITE_SUFFIX}`
  files.writeFileDurable(tmp, Buffer.concat([header, out.view()]))
  files.rename(tmp, seg.path)
  files.syncDir(dir)
  return { name: seg.name, from: scan.header.format, records, bytesBefore: bytes.length, bytesAfter: header.length + out.pos }
}

export interface PrefixDropped {
  from: string
  to: string
  recordsDropped: number
  recordsKept: number
  bytesBefore: number
  bytesAfter: number
}

/**
 * Replaces `seg`, which holds seqs up to and past `coveredSeq`, by a segment named
 * coveredSeq + 1 holding only the records after it (their bytes copied as they are). Order:
 * write and fsync `<new name>.rewrite`, delete the old segment, rename the new one in. A crash
 * in between leaves a log without seqs first…coveredSeq+…, which recovery from a checkpoint at
 * or after the segment's last seq never reads, and which finishInterruptedRewrites completes.
 */
export function dropCoveredPrefix(files: FileLayer, dir: string, seg: SegmentFile, coveredSeq: number): PrefixDropped {
  const bytes = files.readFile(seg.path)
  let cut = -1
  const scan = scanWhole(
    bytes,
    seg,
    (_ev, offset) => {
      if (cut < 0) cut = offset
    },
    coveredSeq + 1,
  )
  if (cut < 0 || seg.firstSeq > coveredSeq) throw new RewriteRefused(`${seg.name} does not straddle seq ${coveredSeq}`)
  const name = segmentName(coveredSeq + 1)
  const header = encodeSegmentHeader(scan.header.format, coveredSeq + 1)
  const tmp = path.join(dir, `${name}${REWRITE_SUFFIX}`)
  const data = Buffer.concat([header, bytes.subarray(cut, scan.validEnd)])
  files.writeFileDurable(tmp, data)
  files.unlink(seg.path)
  files.syncDir(dir)
  files.rename(tmp, path.join(dir, name))
  files.syncDir(dir)
  const kept = scan.lastSeq - coveredSeq
  return { from: seg.name, to: name, recordsDropped: scan.records - kept, recordsKept: kept, bytesBefore: bytes.length, bytesAfter: data.length }
}

export interface SettledRewrite {
  file: string
  action: 'completed' | 'removed'
}

/**
 * Settles `*.wal.rewrite` files a crash left. One whose segment name exists, or whose seqs the
 * segment before it still holds, never replaced anything: it is removed. Otherwise the old
 * segment was already deleted and the rewrite is renamed into its place.
 */
export function finishInterruptedRewrites(files: FileLayer, dir: string): SettledRewrite[] {
  const done: SettledRewrite[] = []
  for (const file of files.list(dir)) {
    if (!file.endsWith(REWRITE_SUFFIX)) continue
    const target = file.slice(0, -REWRITE_SUFFIX.length)
    const firstSeq = parseSegmentName(target)
    if (firstSeq === undefined) continue
    const tmp = path.join(dir, file)
    const prev = listSegments(files, dir).filter((s) => s.firstSeq < firstSeq).pop()
    let prevLast = 0
    if (prev !== undefined) {
      const scan = scanSegment(files.readFile(prev.path), () => undefined)
      prevLast = 'headerError' in scan ? Infinity : scan.lastSeq
    }
    const whole = scanSegment(files.readFile(tmp), () => undefined)
    const complete = !('headerError' in whole) && whole.damage === undefined && whole.header.firstSeq === firstSeq
    if (files.exists(path.join(dir, target)) || prevLast >= firstSeq || !complete) {
      files.unlink(tmp)
      done.push({ file, action: 'removed' })
    } else {
      files.rename(tmp, path.join(dir, target))
      done.push({ file, action: 'completed' })
    }
  }
  if (done.length > 0) files.syncDir(dir)
  return done
}
