// Appends events to the log: encodes them into a pending buffer as they come, and on commit
// hands everything pending to the file in one write (per segment), then fdatasyncs.
// Rotation happens here: a segment that reached segmentBytes, or whose entry format differs
// from the configured one, is sealed (fsynced, closed) and the next event starts a new one.
import path from 'node:path'
import type { WalEvent } from '../events/types.js'
import type { AppendFile, FileLayer } from '../io/fileLayer.js'
import { FORMAT_VERSION, encodeSegmentHeader, parseSegmentName, segmentName } from './format.js'
import type { WalFormat } from './format.js'
import { addSegment, updateManifest } from './manifest.js'
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
   * On failure, cuts the file back to what it held before, as far as it can, and rethrows.
   */
  async commit(sync: boolean): Promise<void> {
    const batch = this.pending
    const cuts = this.cuts
    this.pending = this.spare
    this.spare = batch
    this.cuts = []
    this.batchStartsDurable = sync
    try {
      const bytes = batch.view()
      let off = 0
      for (const cut of cuts) {
        if (cut.offset > off) await this.write(bytes.subarray(off, cut.offset))
        await this.startSegment(cut.firstSeq, cut.format)
        off = cut.offset
      }
      if (bytes.length > off) await this.write(bytes.subarray(off))
      if (sync && this.unsynced && this.file !== undefined) {
        await this.file.datasync()
        this.unsynced = false
      }
    } finally {
      batch.reset()
    }
  }

  async close(): Promise<void> {
    const f = this.file
    this.file = undefined
    if (f !== undefined) await f.close()
  }

  private async write(bytes: Buffer): Promise<void> {
    if (this.file === undefined) this.file = this.files.openAppend(path.join(this.dir, this.fileName!), { dsync: this.opts.dsync })
    const before = this.fileSize
    try {
      await this.file.write(bytes)
    } catch (err) {
      // Drop a partial write so the file ends on a record boundary; if even that fails,
      // the next open treats the leftover as a torn tail.
      await this.file.truncate(before).catch(() => undefined)
      throw err
    }
    this.fileSize = before + bytes.length
    this.bytesWritten += bytes.length
    this.unsynced = true
  }

  /**
   * Seals the current segment and creates the next, durably (file, then directory entry), then
   * names it in the MANIFEST with the sealed one's length, before any record goes into it.
   */
  private async startSegment(firstSeq: number, format: WalFormat): Promise<void> {
    // A tail found at open and never written to is fsynced too (opened without O_DSYNC, so that
    // datasync really runs): its length, which recovery may have cut, becomes the sealed length.
    if (this.file === undefined && this.fileName !== undefined) this.file = this.files.openAppend(path.join(this.dir, this.fileName))
    let sealed: { firstSeq: number; bytes: number } | undefined
    if (this.file !== undefined) {
      await this.file.datasync()
      await this.file.close()
      this.file = undefined
      sealed = { firstSeq: parseSegmentName(this.fileName!)!, bytes: this.fileSize }
    }
    this.unsynced = false
    this.fileName = segmentName(firstSeq)
    this.fileSize = 0
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
    updateManifest(this.files, this.dir, (m) => addSegment(m, firstSeq, sealed))
  }
}
