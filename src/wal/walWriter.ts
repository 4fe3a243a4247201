// Appends events to the log: encodes them into a pending buffer as they come, and on commit
// hands everything pending to the file in one write (per segment), then fdatasyncs.
// Rotation happens here: a segment that reached segmentBytes, or whose entry format differs
// from the configured one, is sealed (fsynced, closed) and the next event starts a new one.
import path from 'node:path'
import type { WalEvent } from '../events/types.js'
import type { AppendFile, FileLayer } from '../io/fileLayer.js'
import { FORMAT_VERSION, encodeSegmentHeader, parseSegmentName, segmentName } from './format.js'
import type { WalFormat } from './format.js'
import { addSegment, readManifest, removeSegments, updateManifest, writeManifest } from './manifest.js'
import { GrowBuffer, encodeBinaryRecord, encodeJsonRecord } from './recordCodec.js'

export interface WalWriterOptions {
  format: WalFormat
  segmentBytes: number
  compressThreshold: number
  /** Open segments O_DSYNC (sync mode): each commit's write is durable by itself. */
  dsync?: boolean
}

/** The last segment found at open, which new records may be appended to. */
export interface WalTail {
  firstSeq: number
  format: WalFormat
  /** Bytes of its valid prefix (anything after was truncated by recovery). */
  size: number
  records: number
  /** Its header's format version; a tail of an older version is not appended to. */
  version?: number
}

interface Cut {
  /** Offset in the pending buffer where the new segment's records begin. */
  offset: number
  firstSeq: number
  format: WalFormat
}

export class WalWriter {
  private pending = new GrowBuffer(1 << 20)
  private spare = new GrowBuffer(1 << 20)
  private cuts: Cut[] = []
  /** The segment new records are encoded for (may not exist on disk yet). */
  private target: { firstSeq: number; format: WalFormat; version: number; bytes: number; records: number } | undefined
  /** The segment open on disk. */
  private file: AppendFile | undefined
  private fileSize = 0
  private fileName: string | undefined
  private unsynced = false
  /**
   * Whether every byte already in the file will be durable when the next pending batch is
   * written: then its first record is marked RECORD_COMMIT_START. Commits run one at a time, so
   * a batch is written only after the commit before it (and that commit's fdatasync) finished.
   * False at open over an existing tail, whose bytes a killed process may have left unsynced.
   */
  private batchStartsDurable: boolean
  /** The MANIFEST's durable seq before the running commit first rotated: what a failed commit restores. */
  private manifestSeqBefore: number | undefined
  /** Bytes written to the log by this writer since open (drives WAL-size checkpoints). */
  bytesWritten = 0

  constructor(
    private readonly files: FileLayer,
    private readonly dir: string,
    private readonly opts: WalWriterOptions,
    tail: WalTail | undefined,
  ) {
    if (tail !== undefined) {
      this.target = { firstSeq: tail.firstSeq, format: tail.format, version: tail.version ?? FORMAT_VERSION, bytes: tail.size, records: tail.records }
      this.fileName = segmentName(tail.firstSeq)
      this.fileSize = tail.size
    }
    this.batchStartsDurable = tail === undefined
  }

  /**
   * Makes the segment found at open durable as it stands, before anything is appended to it. A
   * killed process may have left its last commit in the page cache, unsynced, and recovery may
   * have cut a torn tail off it. Appends in sync mode are O_DSYNC writes, which make durable only
   * the bytes they write: without this, the first commit after open would be marked as following
   * durable bytes (and a later rotation would record a sealed length) while those bytes could
   * still vanish in a power loss, turning acknowledged writes after them into "corruption".
   */
  async syncTail(): Promise<void> {
    if (this.fileName === undefined || this.batchStartsDurable) return
    const f = this.files.openAppend(path.join(this.dir, this.fileName))
    try {
      await f.datasync()
    } finally {
      await f.close()
    }
    this.batchStartsDurable = true
  }

  /** First seq of the segment the last appended record went to. */
  get currentSegment(): number {
    return this.target?.firstSeq ?? -1
  }

  /** Bytes encoded but not yet written. */
  get pendingBytes(): number {
    return this.pending.pos
  }

  /**
   * Encodes `ev` into the pending buffer, starting a new segment first when this one is full.
   * Returns the record's byte offset in its segment (`currentSegment` names the segment).
   */
  append(ev: WalEvent): number {
    const t = this.target
    // The first record of a batch starts a commit; so does the first record of a new segment,
    // whose header is fsynced before any record is written.
    let commitStart = this.pending.pos === 0 && this.batchStartsDurable
    if (
      t === undefined ||
      t.format !== this.opts.format ||
      t.version !== FORMAT_VERSION ||
      (t.bytes >= this.opts.segmentBytes && t.records > 0)
    ) {
      this.cuts.push({ offset: this.pending.pos, firstSeq: ev.seq, format: this.opts.format })
      const headerBytes = encodeSegmentHeader(this.opts.format, ev.seq).length
      this.target = { firstSeq: ev.seq, format: this.opts.format, version: FORMAT_VERSION, bytes: headerBytes, records: 0 }
      commitStart = true
    }
    const target = this.target!
    const at = target.bytes
    const before = this.pending.pos
    if (target.format === 'binary') encodeBinaryRecord(this.pending, ev, this.opts.compressThreshold, commitStart)
    else encodeJsonRecord(this.pending, ev, commitStart)
    target.bytes += this.pending.pos - before
    target.records++
    return at
  }

  /**
   * Writes everything pending (one write call per segment touched) and, when `sync`, fdatasyncs.
   * Only one commit may run at a time; the caller (the group committer) guarantees it.
   * On failure the log is cut back to exactly what it held before the commit — every segment the
   * commit touched, rotation included — and the error is rethrown; if the cut-back itself fails,
   * a CutBackFailedError says so (the commit's records may then survive a reopen).
   */
  async commit(sync: boolean): Promise<void> {
    const batch = this.pending
    const cuts = this.cuts
    this.pending = this.spare
    this.spare = batch
    this.cuts = []
    this.batchStartsDurable = sync
    // Where the log ended before this commit, and the segments it creates: what a failure undoes.
    const startName = this.fileName
    const startSize = this.fileSize
    const created: string[] = []
    this.manifestSeqBefore = undefined
    try {
      const bytes = batch.view()
      let off = 0
      for (const cut of cuts) {
        if (cut.offset > off) await this.write(bytes.subarray(off, cut.offset))
        await this.startSegment(cut.firstSeq, cut.format, created)
        off = cut.offset
      }
      if (bytes.length > off) await this.write(bytes.subarray(off))
      if (sync && this.unsynced && this.file !== undefined) {
        await this.file.datasync()
        this.unsynced = false
      }
    } catch (err) {
      await this.cutBack(startName, startSize, created, err)
      throw err
    } finally {
      batch.reset()
    }
  }

  /**
   * Seals the current segment and starts the next one at `firstSeq` now, with no record in it
   * yet (a checkpoint covering everything before `firstSeq` was just written: the sealed segment
   * is then whole history, which prune may delete and open never reads). Only between commits,
   * with nothing pending; a current segment without records is left as it is. A failure is
   * undone as a failed commit's is, and rethrown.
   */
  async startSegmentAt(firstSeq: number): Promise<void> {
    const t = this.target
    if (t === undefined || t.records === 0 || this.pending.pos > 0 || this.cuts.length > 0) return
    const startName = this.fileName
    const startSize = this.fileSize
    const created: string[] = []
    this.manifestSeqBefore = undefined
    try {
      await this.startSegment(firstSeq, this.opts.format, created)
    } catch (err) {
      await this.cutBack(startName, startSize, created, err)
      throw err
    }
    this.target = { firstSeq, format: this.opts.format, version: FORMAT_VERSION, bytes: this.fileSize, records: 0 }
    this.batchStartsDurable = true
  }

  /**
   * Undoes a failed commit on disk: removes the segments it created (then fsyncs the directory)
   * and truncates the segment it started in to its size before, durably. A rotation seals the old
   * segment with an fdatasync, so without this a rejected write's record could be found after a
   * reopen. The writer is left pointing at that segment; the committer accepts no more writes.
   */
  private async cutBack(name: string | undefined, size: number, created: string[], err: unknown): Promise<void> {
    const open = this.file
    this.file = undefined
    this.unsynced = false
    // Undoing the files needs no free space (truncate, unlink); rewriting the MANIFEST does. So the
    // files are cut back even when the MANIFEST cannot be rewritten: the rejected writes then stay
    // out of the log, and the next open reports the MANIFEST's stale names instead of replaying them.
    let manifestError: unknown
    try {
      // A close error changes nothing on disk; the removal or truncation below is what counts.
      if (open !== undefined) await open.close().catch(() => undefined)
      // The MANIFEST first, and only if this commit's rotation named a segment in it: it must not
      // name the removed segments, nor a sealed length (or a durable seq) that counted the commit's
      // records. A crash before the files are undone then leaves a stray segment, which the next
      // open reports instead of replaying it silently.
      const seqBefore = this.manifestSeqBefore
      if (seqBefore !== undefined) {
        try {
          updateManifest(this.files, this.dir, (m) => {
            removeSegments(m, created.map((n) => parseSegmentName(n)!))
            const start = name === undefined ? undefined : m.segments.find((x) => x.firstSeq === parseSegmentName(name))
            if (start !== undefined) delete start.bytes
            m.seq = seqBefore
          })
        } catch (e) {
          manifestError = e
        }
      }
      for (let i = created.length - 1; i >= 0; i--) {
        const p = path.join(this.dir, created[i]!)
        if (this.files.exists(p)) this.files.unlink(p)
      }
      if (created.length > 0) this.files.syncDir(this.dir)
      if (name !== undefined && !created.includes(name)) {
        const p = path.join(this.dir, name)
        if (this.files.exists(p)) {
          const f = this.files.openAppend(p)
          try {
            await f.truncate(size)
            await f.datasync()
          } finally {
            await f.close()
          }
        }
      }
    } catch (cutErr) {
      throw new CutBackFailedError(err, cutErr)
    }
    this.fileName = name
    this.fileSize = size
    if (manifestError !== undefined) throw new CutBackFailedError(err, manifestError)
  }

  /**
   * Closes the open segment. `durableSeq`, given at a clean close (everything flushed), goes into
   * the MANIFEST: the newest segment's length is known to no one else, so only a recorded seq lets
   * the next open tell a segment cut short after a clean close from a crash's torn tail.
   */
  async close(durableSeq?: number): Promise<void> {
    const f = this.file
    this.file = undefined
    if (f !== undefined) await f.close()
    if (durableSeq === undefined) return
    const m = readManifest(this.files, this.dir)
    if (m === undefined || m.seq >= durableSeq) return
    m.seq = durableSeq
    writeManifest(this.files, this.dir, m)
  }

  private async write(bytes: Buffer): Promise<void> {
    if (this.file === undefined) this.file = this.files.openAppend(path.join(this.dir, this.fileName!), { dsync: this.opts.dsync })
    // A failed (maybe partial) write is undone by commit's cut-back, with the rest of the commit.
    await this.file.write(bytes)
    this.fileSize += bytes.length
    this.bytesWritten += bytes.length
    this.unsynced = true
  }

  /**
   * Seals the current segment and creates the next, durably (file, then directory entry), then
   * names it in the MANIFEST with the sealed one's length, before any record goes into it. Its
   * name goes into `created` before the file exists, so a failed commit removes it.
   */
  private async startSegment(firstSeq: number, format: WalFormat, created: string[]): Promise<void> {
    // A tail found at open and never written to is fsynced too (opened without O_DSYNC, so that
    // datasync really runs): its length, which recovery may have cut, becomes the sealed length.
    if (this.file === undefined && this.fileName !== undefined) this.file = this.files.openAppend(path.join(this.dir, this.fileName))
    let sealed: { firstSeq: number; bytes: number } | undefined
    if (this.file !== undefined) {
      await this.file.datasync()
      await this.file.close()
      this.file = undefined
      // A segment without records that a new one of another format replaces under the same name
      // (a checkpoint's new segment, reopened with another walFormat) is started afresh, not sealed.
      if (this.fileName !== segmentName(firstSeq)) sealed = { firstSeq: parseSegmentName(this.fileName!)!, bytes: this.fileSize }
    }
    this.unsynced = false
    this.fileName = segmentName(firstSeq)
    this.fileSize = 0
    created.push(this.fileName)
    const header = encodeSegmentHeader(format, firstSeq)
    const p = path.join(this.dir, this.fileName)
    // A file by this name can only be a segment that never got a record (a crash right after
    // its creation): recovery read no seq at or past firstSeq. Start it afresh.
    if (this.files.exists(p)) this.files.truncate(p, 0)
    this.file = this.files.openAppend(p, { dsync: this.opts.dsync })
    await this.write(header)
    await this.file.datasync()
    this.unsynced = false
    this.files.syncDir(this.dir)
    let seqBefore = 0
    updateManifest(this.files, this.dir, (m) => {
      seqBefore = m.seq
      addSegment(m, firstSeq, sealed)
    })
    // Only once the MANIFEST names the segment does a failed commit have it to take back out.
    this.manifestSeqBefore ??= seqBefore
  }
}

/**
 * A commit failed and the log could not be cut back to where it was: some of the commit's
 * records may be on disk. `cause` is the commit's error; `cutBackError` what the repair hit.
 */
export class CutBackFailedError extends Error {
  constructor(
    cause: unknown,
    readonly cutBackError: unknown,
  ) {
    super(`${cause instanceof Error ? cause.message : String(cause)}; cutting the log back failed too: ${cutBackError instanceof Error ? cutBackError.message : String(cutBackError)}`, { cause })
    this.name = 'CutBackFailedError'
  }
}
