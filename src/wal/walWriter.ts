// Appends events to the log: encodes them into a pending buffer as they come, and on commit
// hands everything pending to the file in one write (per segment), then fdatasyncs.
// Rotation happens here: a segment that reached segmentBytes, or whose entry format differs
// from the configured one, is sealed (fsynced, closed) and the next event starts a new one.
import path from 'node:path'
import type { WalEvent } from '../events/types.js'
import type { AppendFile, FileLayer } from '../io/fileLayer.js'
import { encodeSegmentHeader, segmentName } from './format.js'
import type { WalFormat } from './format.js'
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
  private target: { firstSeq: number; format: WalFormat; bytes: number; records: number } | undefined
  /** The segment open on disk. */
  private file: AppendFile | undefined
  private fileSize = 0
  private fileName: string | undefined
  private unsynced = false
  /** Bytes written to the log by this writer since open (drives WAL-size checkpoints). */
  bytesWritten = 0

  constructor(
    private readonly files: FileLayer,
    private readonly dir: string,
    private readonly opts: WalWriterOptions,
    tail: WalTail | undefined,
  ) {
    if (tail !== undefined) {
      this.target = { firstSeq: tail.firstSeq, format: tail.format, bytes: tail.size, records: tail.records }
      this.fileName = segmentName(tail.firstSeq)
      this.fileSize = tail.size
    }
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
    if (t === undefined || t.format !== this.opts.format || (t.bytes >= this.opts.segmentBytes && t.records > 0)) {
      this.cuts.push({ offset: this.pending.pos, firstSeq: ev.seq, format: this.opts.format })
      const headerBytes = encodeSegmentHeader(this.opts.format, ev.seq).length
      this.target = { firstSeq: ev.seq, format: this.opts.format, bytes: headerBytes, records: 0 }
    }
    const target = this.target!
    const at = target.bytes
    const before = this.pending.pos
    if (target.format === 'binary') encodeBinaryRecord(this.pending, ev, this.opts.compressThreshold)
    else encodeJsonRecord(this.pending, ev)
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

  /** Seals the current segment and creates the next, durably (file, then directory entry). */
  private async startSegment(firstSeq: number, format: WalFormat): Promise<void> {
    if (this.file !== undefined) {
      if (this.unsynced) await this.file.datasync()
      await this.file.close()
      this.file = undefined
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
  }
}
