// `islab backup`'s copy: a database directory copied while a writer in another process may be
// appending, rotating, checkpointing and pruning, into a new directory that is a valid database
// holding a prefix of the source's events with the history the source retains.
//
// Why not `cp -r`: the files are copied at different moments. A segment copied early misses the
// tail a later segment continues (a seq gap, and a length the MANIFEST says it was sealed at);
// a MANIFEST copied before a prune names segments the copy no longer finds. Strict recovery
// rightly calls either corruption. The order and checks here rule both out:
//
// 1. Checkpoints first. Each is written under a temp name and renamed, so a listed one is whole
//    or gone (pruned: a newer one exists). Each copy is verified in full.
// 2. Then the segments, oldest first. All but the newest listed are sealed (fdatasynced before
//    the next was created) and never change: copied whole. A segment gone meanwhile was pruned
//    by a newer checkpoint: the attempt starts over, keeping what it copied.
// 3. The newest segment is copied as it is and cut, with the one LogReader, at the last record
//    known durable in the source: all of it when no writer holds the source or the MANIFEST now
//    records it sealed; else up to the MANIFEST's durable seq, the newest copied checkpoint, or
//    the last commit-marked record (every byte before a marked record was fdatasynced before it
//    was written: docs/wal-format.md, Commit marks). Bytes the writer has written but not yet
//    synced could still vanish in a power loss, after which the source reuses their seqs for
//    other events; left out, the copy stays a prefix of the source's history for good.
// 4. A MANIFEST naming exactly the copied files; every file and the directory fsynced.
//
// The source is only read: no lock, no file created, changed or deleted there.
import fs from 'node:fs'
import path from 'node:path'
import { CheckpointDamage, readCheckpoint } from '../checkpoint/checkpointReader.js'
import { listCheckpoints } from '../checkpoint/checkpointStore.js'
import { lockHolder } from '../io/dirLock.js'
import type { FileLayer } from '../io/fileLayer.js'
import { FRAME_HEADER_BYTES, parseJsonLineWithCrc, parseSegmentName } from '../wal/format.js'
import { isCommitStart } from '../wal/recordCodec.js'
import { LogReader, listSegments } from '../wal/logReader.js'
import type { SegmentFile } from '../wal/logReader.js'
import { ManifestDamage, readManifest, writeManifest } from '../wal/manifest.js'
import type { Manifest } from '../wal/manifest.js'

export interface LiveCopy {
  /** The last seq the copy holds. */
  seq: number
  /** The first seq of its log (undefined: it has no segment). */
  logFrom: number | undefined
  checkpoints: number[]
  segments: { name: string; bytes: number }[]
  /** Checkpoints of the source that failed verification and were left out. */
  damagedCheckpoints: { name: string; reason: string }[]
  /** How far the newest segment read went (valid records): the source's seq as the copy saw it. */
  sourceSeq: number
  /** Whether a process held the source open when the copy started. */
  writerLive: boolean
  /** Attempts made (more than 1: the source pruned or rewrote files under the copy). */
  attempts: number
  bytes: number
}

export interface LiveCopyOptions {
  /** Attempts before giving up on a source that keeps changing under the copy (default 20). */
  attempts?: number
  /** Called after each file is copied: tests change the source between copies with it. */
  afterCopy?: (name: string) => void | Promise<void>
}

/** The copy failed because of damage in the source: what and where. */
export class SourceDamage extends Error {}

/** The source changed under an attempt in a way that breaks it: the next one starts over. */
class Raced extends Error {}

const ATTEMPTS = 20

export async function copyLive(files: FileLayer, src: string, dest: string, opts: LiveCopyOptions = {}): Promise<LiveCopy> {
  const attempts = opts.attempts ?? ATTEMPTS
  const job = new CopyJob(files, src, dest, opts)
  for (let attempt = 1; ; attempt++) {
    try {
      const copy = await job.attempt()
      copy.attempts = attempt
      return copy
    } catch (err) {
      // ENOENT: a file listed a moment ago was pruned before it could be looked at.
      if (!(err instanceof Raced) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      if (attempt >= attempts) throw new Raced(`the source kept changing under the copy (${attempt} attempts; last: ${(err as Error).message})`)
      // A rewrite or a checkpoint in progress: give it a moment.
      await new Promise((r) => setTimeout(r, Math.min(200, 10 * attempt)))
    }
  }
}

export function isRaced(err: unknown): err is Error {
  return err instanceof Raced
}

class CopyJob {
  /** Checkpoints copied and verified, by seq; they never change, so later attempts keep them. */
  private readonly checkpoints = new Map<number, { name: string; bytes: number }>()
  private readonly damaged = new Map<string, string>()
  /** Sealed segments copied whole, by name, with their length. */
  private readonly sealed = new Map<string, number>()

  constructor(
    private readonly files: FileLayer,
    private readonly src: string,
    private readonly dest: string,
    private readonly opts: LiveCopyOptions,
  ) {}

  async attempt(): Promise<LiveCopy> {
    const writerLive = lockHolder(this.files, this.src) !== undefined
    if (this.files.list(this.src).some((n) => n.endsWith('.wal.rewrite'))) throw new Raced('a segment is being rewritten (islab compact or convert)')
    await this.copyCheckpoints()
    const newestCp = Math.max(0, ...this.checkpoints.keys())
    const segs = listSegments(this.files, this.src)
    if (segs.length > 0 && segs[0]!.firstSeq > newestCp + 1) {
      // Recovery of the copy starts in the last segment named ≤ newestCp + 1. A checkpoint written
      // after the listing above, and its prune, explain the gap; anything else is the source's.
      if (listCheckpoints(this.files, this.src).some((c) => c.seq > newestCp)) throw new Raced('a newer checkpoint pruned the log')
      throw new SourceDamage(
        `the source's log starts at seq ${segs[0]!.firstSeq}, but no valid checkpoint covers the seqs before it (newest: ${newestCp})`,
      )
    }
    for (let i = 0; i + 1 < segs.length; i++) await this.copySealed(segs[i]!)
    const tail = segs.length > 0 ? await this.copyTail(segs.at(-1)!, newestCp, writerLive) : undefined
    const kept = new Set(segs.map((s) => s.name))
    if (tail !== undefined && tail.bytes === 0) kept.delete(tail.name)
    for (const name of this.files.list(this.dest)) {
      // Segments of an earlier attempt that the source pruned since: the log now starts later.
      if (parseSegmentName(name) !== undefined && !kept.has(name)) this.files.unlink(path.join(this.dest, name))
    }
    const copied = segs
      .filter((s) => kept.has(s.name))
      .map((s) => ({ name: s.name, firstSeq: s.firstSeq, bytes: s === segs.at(-1) ? tail!.bytes : this.sealed.get(s.name)! }))
    const seq = Math.max(newestCp, tail?.lastSeq ?? 0)
    if (tail !== undefined && tail.lastSeq < newestCp) {
      // The checkpoint's events are in the source's log (it is written after a flush), but the log
      // read here ended before them: the writer was mid-write. Read again.
      throw new Raced(`the log read ended at seq ${tail.lastSeq}, before the newest checkpoint (seq ${newestCp})`)
    }
    const manifest: Manifest = {
      seq,
      segments: copied.map((s, i) => (i + 1 < copied.length ? { firstSeq: s.firstSeq, bytes: s.bytes } : { firstSeq: s.firstSeq })),
      checkpoints: [...this.checkpoints.keys()].sort((a, b) => a - b),
      rewrites: [],
    }
    writeManifest(this.files, this.dest, manifest)
    this.files.syncDir(this.dest)
    return {
      seq,
      logFrom: copied[0]?.firstSeq,
      checkpoints: manifest.checkpoints,
      segments: copied.map((s) => ({ name: s.name, bytes: s.bytes })),
      damagedCheckpoints: [...this.damaged].map(([name, reason]) => ({ name, reason })),
      sourceSeq: tail?.sourceSeq ?? seq,
      writerLive,
      attempts: 0,
      bytes: copied.reduce((n, s) => n + s.bytes, 0) + [...this.checkpoints.values()].reduce((n, c) => n + c.bytes, 0),
    }
  }

  /** Every checkpoint not copied yet; one pruned meanwhile is skipped (a newer one exists). */
  private async copyCheckpoints(): Promise<void> {
    for (const cp of listCheckpoints(this.files, this.src)) {
      if (this.checkpoints.has(cp.seq) || this.damaged.has(cp.name)) continue
      const to = path.join(this.dest, cp.name)
      if (!(await this.copyWhole(cp.path, to, cp.name))) continue
      try {
        readCheckpoint(this.files, to, () => undefined, undefined, cp.seq)
      } catch (err) {
        if (!(err instanceof CheckpointDamage)) throw err
        // Recovery skips a damaged checkpoint too; the copy leaves it out and says so.
        this.files.unlink(to)
        this.damaged.set(cp.name, `damaged at byte ${err.offset}: ${err.reason}`)
        continue
      }
      this.checkpoints.set(cp.seq, { name: cp.name, bytes: this.files.size(to) })
    }
  }

  private async copySealed(seg: SegmentFile): Promise<void> {
    if (this.sealed.get(seg.name) === seg.size) return
    const to = path.join(this.dest, seg.name)
    if (!(await this.copyWhole(seg.path, to, seg.name))) throw new Raced(`${seg.name} was pruned during the copy`)
    const bytes = this.files.size(to)
    // Sealed segments never change; one that did was rewritten under the copy.
    if (bytes !== seg.size) throw new Raced(`${seg.name} changed length during the copy`)
    this.sealed.set(seg.name, bytes)
  }

  /**
   * Copies the newest segment and cuts the copy at the last record known durable in the source.
   * `bytes` 0: it holds no record yet (its header is being written) and is left out.
   */
  private async copyTail(seg: SegmentFile, newestCp: number, writerLive: boolean): Promise<{ name: string; bytes: number; lastSeq: number; sourceSeq: number }> {
    this.sealed.delete(seg.name)
    const to = path.join(this.dest, seg.name)
    if (!(await this.copyWhole(seg.path, to, seg.name))) throw new Raced(`${seg.name} was pruned during the copy`)
    const offsets: number[] = []
    const reader = new LogReader(this.files, this.dest, { file: { name: seg.name, path: to, firstSeq: seg.firstSeq } })
    await reader.read((_ev, offset) => offsets.push(offset))
    const read = reader.segments[0]
    const problem = reader.problem
    if (read === undefined) {
      // A header cut short: the writer is creating this segment, whose header goes in before any record.
      if (problem?.kind === 'torn-tail') return { name: seg.name, bytes: 0, lastSeq: seg.firstSeq - 1, sourceSeq: seg.firstSeq - 1 }
      throw new SourceDamage(`WAL segment ${seg.name} is damaged at byte ${problem?.offset ?? 0} (${problem?.reason ?? 'unreadable'})`)
    }
    if (problem?.kind === 'corruption') {
      // Valid (commit-marked) records after the bad one: not a write in progress. Copied again
      // once in case the copy itself was torn; damage that stays is the source's.
      throw new Raced(`WAL segment ${seg.name} is damaged at byte ${problem.offset} (${problem.reason})`)
    }
    const manifest = this.manifestNow()
    const sealedNow = manifest !== undefined
      ? manifest.segments.some((s) => s.firstSeq === seg.firstSeq && s.bytes !== undefined)
      : listSegments(this.files, this.src).some((s) => s.firstSeq > seg.firstSeq)
    let end = read.validEnd
    // A writer that opened during the copy may have appended records it has not synced yet.
    if (!writerLive) writerLive = lockHolder(this.files, this.src) !== undefined
    if (writerLive && !sealedNow) end = durableEnd(this.files, to, read.format!, seg.firstSeq, offsets, read.validEnd, Math.max(newestCp, manifest?.seq ?? 0))
    const records = offsets.filter((o) => o < end).length
    if (end < this.files.size(to)) {
      this.files.truncate(to, end)
      fsyncFile(to)
    }
    return { name: seg.name, bytes: end, lastSeq: seg.firstSeq + records - 1, sourceSeq: read.lastSeq }
  }

  /** The source's MANIFEST as it is now (undefined: none, or unreadable: then it proves nothing). */
  private manifestNow(): Manifest | undefined {
    try {
      return readManifest(this.files, this.src)
    } catch (err) {
      if (err instanceof ManifestDamage) return undefined
      throw err
    }
  }

  /** Copies a file and fsyncs the copy. False when the source file is gone (pruned). */
  private async copyWhole(from: string, to: string, name: string): Promise<boolean> {
    try {
      fs.copyFileSync(from, to)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      if (fs.existsSync(to)) fs.unlinkSync(to)
      return false
    }
    fsyncFile(to)
    await this.opts.afterCopy?.(name)
    return true
  }
}

/**
 * Where the records known durable end in a copied newest segment: after the last record with a
 * seq ≤ `durableSeq` (the source's MANIFEST, or a checkpoint, says those are kept for good), or
 * at the last commit-marked record (everything before it was fdatasynced before it was written),
 * whichever is later. The header is durable before any record is written.
 */
function durableEnd(files: FileLayer, file: string, format: 'binary' | 'json', firstSeq: number, offsets: number[], validEnd: number, durableSeq: number): number {
  const recordEnd = (i: number): number => offsets[i + 1] ?? validEnd
  let end = offsets[0] ?? validEnd
  const knownRecords = Math.min(offsets.length, durableSeq - firstSeq + 1)
  if (knownRecords > 0) end = recordEnd(knownRecords - 1)
  // From the newest record back to the first one marked (the first record of a segment always is).
  for (let i = offsets.length - 1; i >= 0 && offsets[i]! > end; i--) {
    if (isMarked(files, file, format, offsets[i]!, recordEnd(i))) return offsets[i]!
  }
  return end
}

function isMarked(files: FileLayer, file: string, format: 'binary' | 'json', start: number, end: number): boolean {
  if (format === 'binary') return isCommitStart(files.readRange(file, start + FRAME_HEADER_BYTES, 1), 0)
  const line = files.readRange(file, start, end - start).toString('utf8').replace(/\n$/, '')
  const rec = parseJsonLineWithCrc(line) as { start?: unknown } | string
  return typeof rec === 'object' && rec !== null && rec.start === true
}

function fsyncFile(p: string): void {
  const fd = fs.openSync(p, 'r+')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
