// Rewrites WAL segments for `islab convert` (same events, other entry format) and `islab
// compact` (drop the records a checkpoint covers from the segment that straddles it). Callers
// hold the directory lock and have run recovery, so the segments are known to be whole.
// A rewrite is first written in full to `<segment name>.rewrite` (a name readers ignore) and
// fsynced; then the MANIFEST commits it (names the new segment and lists it under `rewrites`);
// only then does it replace anything. `finishInterruptedRewrites`, run by recovery, completes a
// committed rewrite and removes an uncommitted one.
import path from 'node:path'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { encodeSegmentHeader, parseSegmentName, segmentName } from './format.js'
import type { WalFormat } from './format.js'
import { LogReader, listSegments } from './logReader.js'
import type { LogProblem, RecordVisitor, SegmentFile, SegmentResult } from './logReader.js'
import { ManifestDamage, readManifest, writeManifest } from './manifest.js'
import type { Manifest } from './manifest.js'
import { GrowBuffer, encodeBinaryRecord, encodeJsonRecord } from './recordCodec.js'

export const REWRITE_SUFFIX = '.rewrite'

export class RewriteRefused extends Error {}

/** Reads one file (a segment or a `.rewrite` file named for the segment starting at firstSeq) to its end with the log reader. */
async function readFile(
  files: FileLayer,
  file: { name: string; path: string; firstSeq: number },
  visit: RecordVisitor,
  fromSeq?: number,
): Promise<{ seg: SegmentResult | undefined; problem: LogProblem | undefined }> {
  const reader = new LogReader(files, path.dirname(file.path), { file, fromSeq })
  await reader.read(visit)
  return { seg: reader.segments[0], problem: reader.problem }
}

/** readFile of a segment about to be rewritten, which must be whole. */
async function readWhole(files: FileLayer, seg: SegmentFile, visit: RecordVisitor, fromSeq?: number): Promise<SegmentResult> {
  const r = await readFile(files, seg, visit, fromSeq)
  if (r.problem !== undefined) throw new RewriteRefused(`${seg.name} is damaged at byte ${r.problem.offset} (${r.problem.reason})`)
  return r.seg!
}

const skip = (): void => undefined

export interface Converted {
  name: string
  from: WalFormat
  records: number
  bytesBefore: number
  bytesAfter: number
}

/**
 * Re-encodes every record of `seg` in `format` under the same name: same seqs, times, keys and
 * values. The new file replaces the old one by an atomic rename, so a crash leaves one or the
 * other. It was fsynced whole before it replaced anything, so every record in it is marked as
 * starting a commit: any damage before its last record is corruption.
 */
export async function convertSegment(
  files: FileLayer,
  dir: string,
  seg: SegmentFile,
  format: WalFormat,
  compressThreshold: number,
): Promise<Converted | undefined> {
  const out = new GrowBuffer(Math.max(1 << 16, seg.size))
  let records = 0
  const read = await readWhole(files, seg, (ev) => {
    if (format === 'binary') encodeBinaryRecord(out, ev, compressThreshold, true)
    else encodeJsonRecord(out, ev, true)
    records++
  })
  if (read.format === format) return undefined
  const header = encodeSegmentHeader(format, seg.firstSeq)
  const tmp = `${seg.path}${REWRITE_SUFFIX}`
  const data = Buffer.concat([header, out.view()])
  files.writeFileDurable(tmp, data)
  const m = commitRewrite(files, dir, seg.firstSeq, (mf) => {
    const entry = mf.segments.find((x) => x.firstSeq === seg.firstSeq)
    if (entry?.bytes !== undefined) entry.bytes = data.length
  })
  files.rename(tmp, seg.path)
  files.syncDir(dir)
  rewriteDone(files, dir, m, seg.firstSeq)
  return { name: seg.name, from: read.format!, records, bytesBefore: read.size, bytesAfter: header.length + out.pos }
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
export async function dropCoveredPrefix(files: FileLayer, dir: string, seg: SegmentFile, coveredSeq: number): Promise<PrefixDropped> {
  let cut = -1
  const read = await readWhole(
    files,
    seg,
    (_ev, offset) => {
      if (cut < 0) cut = offset
    },
    coveredSeq + 1,
  )
  if (cut < 0 || seg.firstSeq > coveredSeq) throw new RewriteRefused(`${seg.name} does not straddle seq ${coveredSeq}`)
  const name = segmentName(coveredSeq + 1)
  // Records are copied as they are, so the header keeps their version.
  const header = encodeSegmentHeader(read.format!, coveredSeq + 1, read.version)
  const tmp = path.join(dir, `${name}${REWRITE_SUFFIX}`)
  const data = Buffer.allocUnsafe(header.length + read.validEnd - cut)
  header.copy(data)
  const copied = await files.readIntoAsync(seg.path, cut, data, header.length, read.validEnd - cut)
  if (copied !== read.validEnd - cut) throw new RewriteRefused(`${seg.name} changed while it was read`)
  files.writeFileDurable(tmp, data)
  const m = commitRewrite(files, dir, coveredSeq + 1, (mf) => {
    const entry = mf.segments.find((x) => x.firstSeq === seg.firstSeq)
    mf.segments = mf.segments.filter((x) => x.firstSeq !== seg.firstSeq)
    mf.segments.push(entry?.bytes === undefined ? { firstSeq: coveredSeq + 1 } : { firstSeq: coveredSeq + 1, bytes: data.length })
  })
  files.unlink(seg.path)
  files.syncDir(dir)
  files.rename(tmp, path.join(dir, name))
  files.syncDir(dir)
  rewriteDone(files, dir, m, coveredSeq + 1)
  const kept = read.lastSeq - coveredSeq
  return { from: seg.name, to: name, recordsDropped: read.records - kept, recordsKept: kept, bytesBefore: read.size, bytesAfter: data.length }
}

/**
 * The commit point of a rewrite: the MANIFEST, changed by `change`, lists `firstSeq` under
 * `rewrites`. From here on recovery completes the rewrite instead of removing it. Without a
 * MANIFEST (a directory no open() of this version has seen) there is nothing to commit to.
 */
function commitRewrite(files: FileLayer, dir: string, firstSeq: number, change: (m: Manifest) => void): Manifest | undefined {
  const m = readManifest(files, dir)
  if (m === undefined) return undefined
  change(m)
  m.rewrites.push(firstSeq)
  writeManifest(files, dir, m)
  return m
}

function rewriteDone(files: FileLayer, dir: string, m: Manifest | undefined, firstSeq: number): void {
  if (m === undefined) return
  m.rewrites = m.rewrites.filter((s) => s !== firstSeq)
  writeManifest(files, dir, m)
}

export interface SettledRewrite {
  file: string
  /** 'damaged': a committed rewrite whose file does not pass its checks; left in place for the caller. */
  action: 'completed' | 'removed' | 'damaged'
  reason?: string
}

/**
 * Settles `*.wal.rewrite` files a crash left. With a MANIFEST, one it lists under `rewrites` is
 * committed and renamed into its place (the segment it replaces, if another, is a leftover that
 * recovery deletes). Any other, and every one in a directory without a MANIFEST, by the older
 * rule: one whose segment name exists, or whose seqs the segment before it still holds, never
 * replaced anything and is removed (every uncommitted rewrite of ours is such); otherwise it is
 * renamed into its place.
 */
export async function finishInterruptedRewrites(files: FileLayer, dir: string): Promise<SettledRewrite[]> {
  let m: Manifest | undefined
  try {
    m = readManifest(files, dir)
  } catch (err) {
    // Recovery reports a damaged MANIFEST; nothing can be settled by it.
    if (err instanceof ManifestDamage) return []
    throw err
  }
  if (m === undefined) return await finishWithoutManifest(files, dir)
  const done: SettledRewrite[] = []
  for (const file of files.list(dir)) {
    if (!file.endsWith(REWRITE_SUFFIX)) continue
    const target = file.slice(0, -REWRITE_SUFFIX.length)
    const firstSeq = parseSegmentName(target)
    if (firstSeq === undefined) continue
    const tmp = path.join(dir, file)
    if (!m.rewrites.includes(firstSeq)) {
      // Not committed: by our protocol the segment it was to replace is still there, and the
      // older rule removes it. (A rewrite by a version without a MANIFEST commit that lost the
      // old segment is completed by that rule instead, as that version's recovery would.)
      done.push(...(await settleByOlderRule(files, dir, file)))
      continue
    }
    const { problem } = await readFile(files, { name: file, path: tmp, firstSeq }, skip)
    // Offset 0: the header (bad, or naming another first seq).
    const reason = problem === undefined ? undefined : problem.offset === 0 ? problem.reason : `damaged at byte ${problem.offset}: ${problem.reason}`
    if (reason !== undefined) {
      done.push({ file, action: 'damaged', reason })
      continue
    }
    files.rename(tmp, path.join(dir, target))
    done.push({ file, action: 'completed' })
  }
  if (done.length > 0) files.syncDir(dir)
  if (m.rewrites.length > 0) {
    const damaged = new Set(done.filter((d) => d.action === 'damaged').map((d) => parseSegmentName(d.file.slice(0, -REWRITE_SUFFIX.length))))
    m.rewrites = m.rewrites.filter((s) => damaged.has(s))
    writeManifest(files, dir, m)
  }
  return done
}

async function finishWithoutManifest(files: FileLayer, dir: string): Promise<SettledRewrite[]> {
  const done: SettledRewrite[] = []
  for (const file of files.list(dir)) if (file.endsWith(REWRITE_SUFFIX)) done.push(...(await settleByOlderRule(files, dir, file)))
  if (done.length > 0) files.syncDir(dir)
  return done
}

async function settleByOlderRule(files: FileLayer, dir: string, file: string): Promise<SettledRewrite[]> {
  const target = file.slice(0, -REWRITE_SUFFIX.length)
  const firstSeq = parseSegmentName(target)
  if (firstSeq === undefined) return []
  const tmp = path.join(dir, file)
  const prev = listSegments(files, dir).filter((s) => s.firstSeq < firstSeq).pop()
  let prevLast = 0
  if (prev !== undefined) {
    const r = await readFile(files, prev, skip)
    prevLast = r.seg === undefined ? Infinity : r.seg.lastSeq
  }
  const complete = (await readFile(files, { name: file, path: tmp, firstSeq }, skip)).problem === undefined
  if (files.exists(path.join(dir, target)) || prevLast >= firstSeq || !complete) {
    files.unlink(tmp)
    return [{ file, action: 'removed' }]
  }
  files.rename(tmp, path.join(dir, target))
  return [{ file, action: 'completed' }]
}
