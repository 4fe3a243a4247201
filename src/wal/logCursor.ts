// Reads the log forward from a seq, a window of bytes at a time, resuming where it stopped: what
// a change stream needs to catch up with memory bounded by the window, and with each byte read
// once even while the writer keeps appending. Built on the same record scanner as recovery and
// the CLI. Unlike recovery, an incomplete record at the end of the last segment is not an error
// here: it is a record the writer has not finished.
import { CorruptionError, HistoryGoneError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { FRAME_HEADER_BYTES, decodeSegmentHeader } from './format.js'
import type { SegmentHeader } from './format.js'
import { listSegments } from './logReader.js'
import type { SegmentFile } from './logReader.js'
import { scanRecords } from './segmentReader.js'

/** Bytes read from a segment at a time (more when a single record is larger). */
const WINDOW = 4 * 1024 * 1024

export class LogCursor {
  private seg: SegmentFile | undefined
  private header: SegmentHeader | undefined
  /** File offset of the next record boundary in `seg`, and the seq of the record there (may be < nextSeq). */
  private offset = 0
  private offsetSeq = 0

  constructor(
    private readonly files: FileLayer,
    private readonly dir: string,
    /** Seq of the next event to return. */
    public nextSeq: number,
  ) {}

  /** Moves to `seq`; keeps the current position only when that is where the cursor already is. */
  seek(seq: number): void {
    if (seq === this.nextSeq) return
    this.nextSeq = seq
    this.seg = undefined
  }

  /** Oldest seq the log still holds (Infinity when it holds none). */
  static oldestSeq(files: FileLayer, dir: string): number {
    return listSegments(files, dir)[0]?.firstSeq ?? Infinity
  }

  /**
   * Up to `max` events from nextSeq on, none past `maxSeq`. An empty result means the log on
   * disk has nothing more yet. Throws HistoryGoneError when nextSeq is no longer in the log.
   */
  read(max: number, maxSeq = Infinity): WalEvent[] {
    const out: WalEvent[] = []
    try {
      this.readInto(out, max, maxSeq)
    } catch (err) {
      // A checkpoint may delete the segment under us: find where nextSeq lives now (or learn
      // that it is gone), next time.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.seg = undefined
      // Never lose what was read: hand it over; the error, if it persists, comes with the next read.
      if (out.length > 0 || (err as NodeJS.ErrnoException).code === 'ENOENT') return out
      throw err
    }
    return out
  }

  private readInto(out: WalEvent[], max: number, maxSeq: number): void {
    let idle = 0
    // Three moves without a record mean the log holds nothing more (a healthy log never needs more).
    while (out.length < max && this.nextSeq <= maxSeq && idle < 3) {
      if (!this.position()) break
      const seg = this.seg!
      const size = this.files.size(seg.path)
      if (size <= this.offset) {
        idle++
        if (!this.nextSegment()) break
        continue
      }
      let want = Math.min(size - this.offset, WINDOW)
      const head = this.files.readRange(seg.path, this.offset, FRAME_HEADER_BYTES)
      if (this.header!.format === 'binary' && head.length === FRAME_HEADER_BYTES) {
        want = Math.min(size - this.offset, Math.max(want, FRAME_HEADER_BYTES + head.readUInt32LE(0)))
      }
      const bytes = this.files.readRange(seg.path, this.offset, want)
      const before = out.length
      const scan = scanRecords(
        bytes,
        this.header!,
        (ev) => {
          if (ev.seq <= maxSeq) out.push(ev)
        },
        { fromSeq: this.nextSeq, toSeq: maxSeq, limit: max - out.length, resume: { offset: 0, seq: this.offsetSeq } },
      )
      const damageAt = this.offset + (scan.damage?.offset ?? 0)
      // Position past what was read before reporting damage, so nothing read is read twice.
      this.offset += scan.validEnd
      this.offsetSeq = scan.lastSeq + 1
      if (out.length > before) this.nextSeq = out[out.length - 1]!.seq + 1
      if (scan.damage !== undefined && scan.damage.validRecordsFollow) {
        throw new CorruptionError(`WAL segment ${seg.name} is damaged at byte ${damageAt} (${scan.damage.reason})`, {
          file: seg.path,
          offset: damageAt,
        })
      }
      if (out.length > before) {
        idle = 0
      } else if (scan.validEnd === 0) {
        // Only an unfinished record here: wait for the writer, or move on if the segment was sealed.
        idle++
        if (!this.nextSegment()) break
      }
    }
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
    const header = decodeSegmentHeader(this.files.readRange(seg.path, 0, 64 * 1024))
    // A segment being created right now may not have its header on disk yet.
    if (typeof header === 'string') return false
    this.seg = seg
    this.header = header
    this.offset = header.bytes
    this.offsetSeq = header.firstSeq
    return true
  }

  /** After the selected segment is exhausted: select the next one if it exists. */
  private nextSegment(): boolean {
    const seg = this.seg!
    const segs = listSegments(this.files, this.dir)
    if (!segs.some((s) => s.firstSeq > seg.firstSeq)) return false
    // A later segment exists, so this one is sealed: is anything left unread in it?
    if (this.files.size(seg.path) > this.offset) return true
    this.seg = undefined
    return true
  }
}
