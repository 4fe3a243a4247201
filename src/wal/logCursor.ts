// Reads the log forward from a seq, resuming where it stopped: what a change stream needs to catch
// up, and what `islab tail -f` follows. It keeps the bytes it has read and scans on inside them, so
// each byte of the log is read once however small the batches; it reads a window at a time, grown
// to hold any record whole (binary: the frame says how long; JSON: until the newline).
//
// Unlike recovery, an incomplete record at the end of the last segment is not damage here: it is
// a record the writer has not finished, and the cursor waits for it. Everything else that is not
// a valid record is reported with CorruptionError: a bad record with bytes after it, anything bad
// in a sealed segment, a seq gap between segments, or a record the caller knows was written
// (`writtenSeq`) that cannot be read.
import { CorruptionError, HistoryGoneError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { FRAME_HEADER_BYTES, decodeSegmentHeader, readU32 } from './format.js'
import type { SegmentHeader } from './format.js'
import { listSegments } from './logReader.js'
import type { SegmentFile } from './logReader.js'
import { scanRecords } from './segmentReader.js'

/** Bytes read from a segment at a time (more when a single record is larger). */
const WINDOW = 4 * 1024 * 1024
const EMPTY = Buffer.alloc(0)

export class LogCursor {
  private seg: SegmentFile | undefined
  private header: SegmentHeader | undefined
  /** Bytes of `seg` read so far and kept, starting at file offset `bufStart`. */
  private buf: Buffer = EMPTY
  private bufStart = 0
  /** Offset in `buf` of the next record boundary, and the seq of the record there (may be < nextSeq). */
  private pos = 0
  private posSeq = 0
  /**
   * End of the whole records in `buf` (walked by frame lengths, or after the last newline): the
   * scanner gets only these, so a record cut by the window's end is not taken for damage.
   */
  private whole = 0

  constructor(
    private readonly files: FileLayer,
    private readonly dir: string,
    /** Seq of the next event to return. */
    public nextSeq: number,
  ) {}

  /**
   * Moves to `seq`. Forward within the selected segment keeps the bytes already read (the records
   * in between are skipped while scanning); anything else selects the segment afresh.
   */
  seek(seq: number): void {
    if (seq === this.nextSeq) return
    const keep = this.seg !== undefined && seq >= this.posSeq && !listSegments(this.files, this.dir).some((s) => s.firstSeq > this.seg!.firstSeq && s.firstSeq <= seq)
    this.nextSeq = seq
    if (!keep) this.drop()
  }

  /** Oldest seq the log still holds (Infinity when it holds none). */
  static oldestSeq(files: FileLayer, dir: string): number {
    return listSegments(files, dir)[0]?.firstSeq ?? Infinity
  }

  /**
   * Up to `max` events from nextSeq on, none past `maxSeq`. An empty result means the log on
   * disk has nothing more yet. `writtenSeq`: the caller knows records up to it are complete in
   * the files (e.g. fdatasynced by this process), so not finding one is corruption, not waiting.
   * Throws HistoryGoneError when nextSeq is no longer in the log, CorruptionError on damage.
   */
  read(max: number, maxSeq = Infinity, writtenSeq = 0): WalEvent[] {
    const out: WalEvent[] = []
    try {
      this.readInto(out, max, maxSeq, writtenSeq)
    } catch (err) {
      // A checkpoint may delete the segment under us: find where nextSeq lives now (or learn
      // that it is gone), next time.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.drop()
      // Never lose what was read: hand it over; the error, if it persists, comes with the next read.
      if (out.length > 0 || (err as NodeJS.ErrnoException).code === 'ENOENT') return out
      throw err
    }
    return out
  }

  private readInto(out: WalEvent[], max: number, maxSeq: number, writtenSeq: number): void {
    while (out.length < max && this.nextSeq <= maxSeq) {
      if (!this.position()) return
      const before = out.length
      const scan = scanRecords(this.whole === this.buf.length ? this.buf : this.buf.subarray(0, this.whole), this.header!, (ev) => out.push(ev), {
        fromSeq: this.nextSeq,
        toSeq: maxSeq,
        limit: max - out.length,
        resume: { offset: this.pos, seq: this.posSeq },
      })
      this.pos = scan.validEnd
      this.posSeq = scan.lastSeq + 1
      if (out.length > before) this.nextSeq = out[out.length - 1]!.seq + 1
      if (out.length >= max || this.nextSeq > maxSeq) return
      // The scan stopped at a record it could not take, or at the end of the whole records.
      if (scan.damage !== undefined) return this.badRecord(scan.damage.reason, scan.damage.validRecordsFollow, writtenSeq)
      if (this.fill(this.pos < this.buf.length ? this.missingBytes() : 0)) continue
      // Nothing more in this file for now.
      if (!this.nextSegment()) {
        if (this.pos < this.buf.length && this.posSeq <= writtenSeq) {
          throw this.corruption(this.pos, `record of seq ${this.posSeq} is cut short, yet it was written`)
        }
        return
      }
    }
  }

  /** How many more bytes the record cut at `pos` needs (at least 1 when unknown: a JSON line without its newline yet). */
  private missingBytes(): number {
    const b = this.buf
    const p = this.pos
    if (this.header!.format === 'json') return 1
    if (p + FRAME_HEADER_BYTES > b.length) return p + FRAME_HEADER_BYTES - b.length
    return Math.max(1, p + FRAME_HEADER_BYTES + readU32(b, p) - b.length)
  }

  /** Sets `whole` after the buffer changed. */
  private measure(): void {
    const b = this.buf
    if (this.header!.format === 'json') {
      const nl = b.lastIndexOf(0x0a)
      this.whole = nl < this.pos ? this.pos : nl + 1
      return
    }
    // Only lengths are followed here; the scanner checks every frame it is given.
    let p = this.pos
    while (p + FRAME_HEADER_BYTES <= b.length) {
      const next = p + FRAME_HEADER_BYTES + readU32(b, p)
      if (next > b.length) break
      p = next
    }
    this.whole = p
  }

  /**
   * A whole record at `pos` that is not valid. At the very end of the last segment it may be a
   * torn tail (the next open cuts it): wait, like for an unfinished record. Anywhere else it is damage.
   */
  private badRecord(reason: string, validRecordsFollow: boolean, writtenSeq: number): void {
    const b = this.buf
    const p = this.pos
    const nl = b.indexOf(0x0a, p)
    const recordEnd = this.header!.format === 'json' ? nl + 1 : p + FRAME_HEADER_BYTES + readU32(b, p)
    const fileEnd = this.files.size(this.seg!.path)
    const atTail = !validRecordsFollow && this.bufStart + recordEnd >= fileEnd && this.posSeq > writtenSeq && !this.sealed()
    if (!atTail) throw this.corruption(p, reason)
  }

  /** Reads on from the end of the buffer: a window, or more when a record needs more. False when the file has nothing more. */
  private fill(missing: number): boolean {
    const seg = this.seg!
    const end = this.bufStart + this.buf.length
    const size = this.files.size(seg.path)
    if (size < end) {
      // The file was cut back (a failed write undone): forget the bytes it no longer has.
      const keepTo = Math.max(this.pos, size - this.bufStart)
      this.buf = this.buf.subarray(0, keepTo)
      this.measure()
      return false
    }
    const left = this.buf.length - this.pos
    // Doubling when a record outgrows the window keeps the copying of a huge record linear.
    const want = Math.min(size - end, Math.max(WINDOW, missing, left))
    if (want <= 0) return false
    const fresh = this.files.readRange(seg.path, end, want)
    if (fresh.length === 0) return false
    this.buf = left === 0 ? fresh : Buffer.concat([this.buf.subarray(this.pos), fresh])
    this.bufStart += this.pos
    this.pos = 0
    this.measure()
    return true
  }

  /** Makes sure a segment holding nextSeq is selected. False when the log has no such segment yet. */
  private position(): boolean {
    if (this.seg !== undefined) return true
    const segs = listSegments(this.files, this.dir)
    if (segs.length === 0) return false
    if (segs[0]!.firstSeq > this.nextSeq) throw new HistoryGoneError(this.nextSeq, segs[0]!.firstSeq)
    let i = 0
    while (i + 1 < segs.length && segs[i + 1]!.firstSeq <= this.nextSeq) i++
    const seg = segs[i]!
    // The first window holds the header and the first records: read once for both.
    const bytes = this.files.readRange(seg.path, 0, WINDOW)
    const header = decodeSegmentHeader(bytes)
    // A segment being created right now may not have its header on disk yet.
    if (typeof header === 'string') return false
    if (header.firstSeq !== seg.firstSeq) {
      throw new CorruptionError(`WAL segment ${seg.name} says it starts at seq ${header.firstSeq}; its name says ${seg.firstSeq}`, { file: seg.path, offset: 0 })
    }
    this.seg = seg
    this.header = header
    this.buf = bytes
    this.bufStart = 0
    this.pos = header.bytes
    this.posSeq = header.firstSeq
    this.measure()
    return true
  }

  /** Whether a later segment exists and this one has stopped growing: the writer has left it. */
  private sealed(): boolean {
    const seg = this.seg!
    if (!listSegments(this.files, this.dir).some((s) => s.firstSeq > seg.firstSeq)) return false
    return this.files.size(seg.path) <= this.bufStart + this.buf.length
  }

  /**
   * After the selected segment is read to its end: select the next one if it exists. A segment
   * the writer has left must end on a whole record, right before the next segment's first seq.
   */
  private nextSegment(): boolean {
    const seg = this.seg!
    const next = listSegments(this.files, this.dir).find((s) => s.firstSeq > seg.firstSeq)
    if (next === undefined) return false
    // The next segment exists, so this one is complete, unless it grew since we looked.
    if (this.files.size(seg.path) > this.bufStart + this.buf.length) return true
    if (this.pos < this.buf.length) throw this.corruption(this.pos, `record of seq ${this.posSeq} is cut short and the log goes on in ${next.name}`)
    if (next.firstSeq !== this.posSeq) {
      throw this.corruption(this.pos, `segment ends at seq ${this.posSeq - 1} but the next one (${next.name}) starts at seq ${next.firstSeq}`)
    }
    this.drop()
    return true
  }

  private drop(): void {
    this.seg = undefined
    this.buf = EMPTY
    this.bufStart = 0
    this.pos = 0
    this.whole = 0
  }

  private corruption(at: number, reason: string): CorruptionError {
    const seg = this.seg!
    const offset = this.bufStart + at
    return new CorruptionError(
      `WAL segment ${seg.name} is damaged at byte ${offset} (${reason}). Run 'islab verify ${this.dir}' for details.`,
      { file: seg.path, offset },
    )
  }
}
