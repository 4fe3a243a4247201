// Reads the log forward from a seq, a few records at a time, resuming where it stopped: what a
// change stream needs to catch up without holding more than one segment's bytes in memory.
// Built on the same segment scanner as recovery and the CLI. Unlike recovery, damage at the very
// end of the last segment is not an error here: it is a record the writer has not finished.
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { CorruptionError, HistoryGoneError } from '../errors.js'
import { listSegments } from './logReader.js'
import type { SegmentFile } from './logReader.js'
import { scanSegment } from './segmentReader.js'

export class LogCursor {
  private seg: SegmentFile | undefined
  private bytes: Buffer | undefined
  /** Record boundary to resume from in `bytes`, and the seq of the record there (may be < nextSeq). */
  private offset = -1
  private offsetSeq = 0

  constructor(
    private readonly files: FileLayer,
    private readonly dir: string,
    /** Seq of the next event to return. */
    public nextSeq: number,
  ) {}

  /** Moves to `seq`; keeps the loaded bytes only when that is where the cursor already is. */
  seek(seq: number): void {
    if (seq === this.nextSeq) return
    this.nextSeq = seq
    this.bytes = undefined
    this.offset = -1
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
    let idle = 0
    // Two moves without a record mean the log holds nothing more (a healthy log never needs more).
    while (out.length < max && this.nextSeq <= maxSeq && idle < 3) {
      if (!this.position()) break
      const before = out.length
      const scan = scanSegment(
        this.bytes!,
        (ev) => {
          if (ev.seq <= maxSeq) out.push(ev)
        },
        { fromSeq: this.nextSeq, toSeq: maxSeq, limit: max - out.length, resume: this.offset >= 0 ? { offset: this.offset, seq: this.offsetSeq } : undefined },
      )
      if ('headerError' in scan) {
        // A segment being created right now may not have its header on disk yet.
        this.bytes = undefined
        break
      }
      this.offset = scan.validEnd
      this.offsetSeq = scan.lastSeq + 1
      if (out.length > before) this.nextSeq = out[out.length - 1]!.seq + 1
      if (scan.damage !== undefined && scan.damage.validRecordsFollow) {
        throw new CorruptionError(`WAL segment ${this.seg!.name} is damaged at byte ${scan.damage.offset} (${scan.damage.reason})`, {
          file: this.seg!.path,
          offset: scan.damage.offset,
        })
      }
      if (out.length === before) {
        // Nothing more in the bytes we hold: the file may have grown, or the next segment begun.
        idle++
        if (!this.advance()) break
      } else {
        idle = 0
      }
    }
    return out
  }

  /** Makes sure bytes of the segment holding nextSeq are loaded. False when the log has no such segment yet. */
  private position(): boolean {
    if (this.bytes !== undefined) return true
    const segs = listSegments(this.files, this.dir)
    if (segs.length === 0) return false
    if (segs[0]!.firstSeq > this.nextSeq) throw new HistoryGoneError(this.nextSeq, segs[0]!.firstSeq)
    let i = 0
    while (i + 1 < segs.length && segs[i + 1]!.firstSeq <= this.nextSeq) i++
    this.seg = segs[i]
    this.bytes = this.files.readFile(this.seg!.path)
    this.offset = -1
    return true
  }

  /** After exhausting the held bytes: reload the same segment if it grew, else move to the next. */
  private advance(): boolean {
    const seg = this.seg!
    const segs = listSegments(this.files, this.dir)
    const now = segs.find((s) => s.name === seg.name)
    if (now !== undefined && now.size > this.bytes!.length) {
      this.bytes = this.files.readFile(seg.path)
      return true
    }
    // A later segment exists: this one is sealed and fully read; position() picks the right one.
    if (segs.some((s) => s.firstSeq > seg.firstSeq)) {
      this.bytes = undefined
      return true
    }
    return false
  }
}
