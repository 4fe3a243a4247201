// The one reader of the log. Recovery, change-stream catch-up and `islab tail -f`, the history
// index build, time travel's single-record reads, compaction/convert and the CLI all read WAL
// segments through a LogReader, as LevelDB's log::Reader with its Reporter:
//
// * It walks segments in seq order (from the last one named ≤ fromSeq), checks each header and
//   the continuity between segments, and leaves each record to the format's one decoder
//   (segmentReader.ts's scanRecords), which it runs as a plain loop over a window of the file.
// * It reads a window at a time (4 MiB by default) off the event loop, and each byte once: the
//   unread tail of a window (a record cut by the window's end) is carried into the next one.
//   Only whole records are handed to the decoder — binary: walked by frame lengths; JSON: up to
//   the last newline — so a record cut by the window is never taken for damage; a record larger
//   than the window grows it (binary: the frame says by how much; JSON: at least doubling until
//   the newline comes), so records of any size are read in both formats.
// * It is asynchronous and chunked: the decoder runs RECORDS_PER_CHECK records at a time and the
//   reader yields a turn of the event loop whenever its time slice is used up.
// * It decides nothing about damage. At the first problem it builds a LogProblem — file, offset,
//   bytes dropped, reason, and the facts that classify it: is this the newest segment, do valid
//   (in version 2: commit-marked) records follow, does the bad record run to the end of the file
//   (what a writer still appending looks like) — and asks its Reporter what to do: 'stop'
//   (recovery, the CLI, rewrites: the problem is the result; the caller truncates, fails or moves
//   files aside) or 'wait' (FollowWriter: a record not finished yet; the reader keeps its place
//   and looks again at the next read). A Reporter may also throw (FollowWriter: CorruptionError).
//   Damage is classified over the whole rest of the file: the reader loads it before asking.
//
// A reader can stop at a count or a seq and go on later from where it stopped (`read`, `take`),
// move forward (`seek`), read one file only (`file`: a segment or a `.rewrite` file), or one
// record at a known offset (`readRecordAt`).
import path from 'node:path'
import { CorruptionError, HistoryGoneError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { TimeSlice } from '../io/timeSlice.js'
import { FRAME_HEADER_BYTES, READABLE_VERSIONS, decodeSegmentHeader, encodeSegmentHeader, parseSegmentName, readU32, segmentName } from './format.js'
import type { SegmentHeader, WalFormat } from './format.js'
import type { RecordSink } from './recordCodec.js'
import { scanRecords } from './segmentReader.js'
import type { SegmentDamage } from './segmentReader.js'

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
  /** Records walked so far (from the header on, those before fromSeq included). */
  records: number
  lastSeq: number
  /** Length of the valid prefix read so far. */
  validEnd: number
}

/** A problem the reader met, with the facts a policy needs to judge it. */
export interface LogProblem {
  /**
   * The classification of docs/wal-format.md (Reading): 'torn-tail' is damage in the newest
   * segment with no valid (version 2: commit-marked) record after it, or a cut-short header
   * of the newest segment; everything else is 'corruption'.
   */
  kind: 'torn-tail' | 'corruption'
  file: string
  path: string
  offset: number
  reason: string
  /** Bytes from `offset` to the end of that file: what reading gives up there. */
  bytes: number
  /** Seq of the record expected at `offset`. */
  seq: number
  /** No later segment exists. */
  lastSegment: boolean
  /** See SegmentDamage.validRecordsFollow (false for a header problem). */
  validRecordsFollow: boolean
  /** The bad record (or header) runs to the end of the file: nothing was written after it. */
  unfinished: boolean
}

/** What the reader does at a problem: the caller's policy (LevelDB's log::Reader::Reporter). */
export interface Reporter {
  /**
   * 'stop': reading ends here; the problem is `reader.problem`. 'wait': the problem is a record
   * not written yet; the reader keeps its place and looks again at the next read. May throw.
   */
  problem(p: LogProblem): 'stop' | 'wait'
}

/** Recovery's, the CLI's and the rewrites' policy: stop at the first problem and hand it back. */
export const stopAtProblem: Reporter = { problem: () => 'stop' }

/**
 * Change streams' and `islab tail -f`'s policy: the log is being appended to. An unfinished last
 * record (or header) of the newest segment is a write in progress — wait for it — unless the
 * caller knows it was written (`writtenSeq`: e.g. fdatasynced by this process). Anything else
 * is damage: CorruptionError.
 */
export class FollowWriter implements Reporter {
  writtenSeq = 0

  constructor(private readonly dir: string) {}

  problem(p: LogProblem): 'stop' | 'wait' {
    if (p.lastSegment && p.unfinished && !p.validRecordsFollow && p.seq > this.writtenSeq) return 'wait'
    throw corruptionError(p, this.dir)
  }
}

export function corruptionError(p: LogProblem, dir: string): CorruptionError {
  return new CorruptionError(`WAL segment ${p.file} is damaged at byte ${p.offset} (${p.reason}). Run 'islab verify ${dir}' for details.`, {
    file: p.path,
    offset: p.offset,
  })
}

export interface LogReaderOptions {
  /** Seq of the first event to hand over; records before it are walked, not decoded (default 1). */
  fromSeq?: number
  /** Default stopAtProblem. */
  reporter?: Reporter
  /** Records of binary segments go here instead of to `visit` (see ScanOptions.sink). */
  sink?: RecordSink
  /** Read this one file (a segment, or a `.rewrite` file named for its segment) instead of the directory. */
  file?: { name: string; path: string; firstSeq: number }
  /** Throw HistoryGoneError when the log no longer holds fromSeq, instead of starting at its first segment. */
  exactStart?: boolean
  /** Bytes read at a time (more when a record needs more). */
  window?: number
  /** Called once per segment when it is opened, with the bytes of the segments before and of all. */
  onSegment?: (seg: SegmentFile, bytesBefore: number, bytesTotal: number) => void
  /** Called before each turn of the event loop the reader yields, with bytes done and the total. */
  onSlice?: (bytesDone: number, bytesTotal: number) => void
  /**
   * Called when a window of a binary segment has been read, before it is decoded: the whole
   * records in it, their bytes, and the bytes of the log from the window's start to the end
   * (a loader sizes its tables from these before the records arrive).
   */
  onWindow?: (records: number, bytes: number, bytesLeft: number) => void
  /**
   * Read the next window while the records of this one are decoded (recovery: reading the file
   * took a tenth of a replay, the thread waiting). Bytes read ahead that the file no longer
   * has when they are used (a cut-back) are dropped, as fill() drops buffered ones.
   */
  readAhead?: boolean
}

/** A window being read ahead: file bytes [at, at + want) into buf[AHEAD_ROOM, ...). */
interface Ahead {
  path: string
  at: number
  want: number
  buf: Buffer
  read: Promise<number>
}

/** How a read ended: its count or seq reached; nothing more in the log for now; a problem the reporter stopped at. */
export type ReadEnd = 'limit' | 'end' | 'problem'

export type RecordVisitor = (ev: WalEvent, offset: number) => void

/** Records decoded between checks of the time slice: ~1 ms of replay. */
const RECORDS_PER_CHECK = 2048
const WINDOW = 4 * 1024 * 1024
/** Enough for any segment header (the JSON one is a line of < 128 bytes). */
const HEADER_READ = 256
const EMPTY = Buffer.alloc(0)
const skip = (): void => undefined
/** Room before a window read ahead for the unread tail of the one before it (a record cut by its end). */
const AHEAD_ROOM = 64 * 1024

export class LogReader {
  /** Seq of the next event to hand over. */
  nextSeq: number
  /** Segments opened, in order, with how far each was read. */
  readonly segments: SegmentResult[] = []
  /** Seq of the last valid record walked (0 before any). */
  lastSeq = 0
  /** The problem the reporter stopped at. */
  problem: LogProblem | undefined

  private readonly reporter: Reporter
  private readonly window: number
  private readonly slice = new TimeSlice()
  private seg: SegmentResult | undefined
  private header: SegmentHeader | undefined
  /** Bytes of `seg` read and kept, from file offset `bufStart`. */
  private buf: Buffer = EMPTY
  private bufStart = 0
  /** Offset in `buf` of the next record boundary, and the seq of the record there (may be < nextSeq). */
  private pos = 0
  private posSeq = 0
  /** End of the whole records in `buf`: the decoder gets only these, as `view`. */
  private whole = 0
  /**
   * buf[0, whole), one object per window: a sink may keep the buffer it is given (the state
   * references record bytes in place, one entry per distinct buffer).
   */
  private view: Buffer = EMPTY
  private bytesBefore = 0
  private bytesTotal = 0
  private ahead: Ahead | undefined

  constructor(
    private readonly files: FileLayer,
    private readonly dir: string,
    private readonly opts: LogReaderOptions = {},
  ) {
    this.nextSeq = opts.fromSeq ?? 1
    this.reporter = opts.reporter ?? stopAtProblem
    this.window = opts.window ?? WINDOW
  }

  /** First seq of the segment being read (-1 when none): where the offsets given to `visit` are. */
  get segment(): number {
    return this.seg?.firstSeq ?? -1
  }

  /**
   * Events from nextSeq on, in order, to `visit` (with the file offset of their record) or the
   * sink, until `max` were handed over, the one with seq `toSeq` was, the log has nothing more
   * for now, or a problem. A later call goes on from there. Errors of the file layer come out
   * as they are (ENOENT: a segment was deleted meanwhile; the reader then finds nextSeq afresh).
   */
  async read(visit: RecordVisitor, max = Infinity, toSeq = Infinity): Promise<ReadEnd> {
    if (this.problem !== undefined) return 'problem'
    let handed = 0
    try {
      while (handed < max && this.nextSeq <= toSeq) {
        if (this.seg === undefined) {
          const r = await this.position()
          if (r !== 'next') return r
          continue
        }
        const before = this.nextSeq
        const scan = scanRecords(this.view, this.header!, visit, {
          fromSeq: before,
          toSeq,
          limit: Math.min(RECORDS_PER_CHECK, max - handed),
          resume: { offset: this.pos, seq: this.posSeq },
          sink: this.opts.sink,
          base: this.bufStart,
        })
        this.advance(scan.validEnd, scan.lastSeq + 1)
        if (this.posSeq > before) {
          handed += this.posSeq - before
          this.nextSeq = this.posSeq
        }
        if (scan.damage !== undefined) {
          const r = await this.damaged()
          if (r === 'again') continue
          return r
        }
        if (handed >= max || this.nextSeq > toSeq) break
        if (this.slice.due()) {
          this.opts.onSlice?.(this.bytesBefore + this.bufStart + this.pos, this.bytesTotal)
          await this.slice.turn()
        }
        if (this.pos < this.whole) continue
        if (await this.fill(this.missingBytes())) continue
        const r = await this.endOfFile()
        if (r !== 'next') return r
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.drop()
      throw err
    }
    return 'limit'
  }

  /**
   * Up to `max` events as an array (a change stream's batch). A segment deleted under the reader
   * ends the batch (the next call finds nextSeq afresh, or throws HistoryGoneError); an error
   * after some events comes with the next call, so nothing read is lost.
   */
  async take(max: number, toSeq = Infinity): Promise<WalEvent[]> {
    const out: WalEvent[] = []
    try {
      await this.read((ev) => out.push(ev), max, toSeq)
    } catch (err) {
      if (out.length > 0 || (err as NodeJS.ErrnoException).code === 'ENOENT') return out
      throw err
    }
    return out
  }

  /**
   * Moves to `seq`. Forward within the segment being read keeps the bytes already read (the
   * records in between are walked over); anything else finds the segment afresh.
   */
  seek(seq: number): void {
    if (seq === this.nextSeq) return
    const seg = this.seg
    const keep = seg !== undefined && seq >= this.posSeq && !this.segmentList().some((s) => s.firstSeq > seg.firstSeq && s.firstSeq <= seq)
    this.nextSeq = seq
    if (!keep) this.drop()
  }

  /**
   * After a problem: go on from the next segment, as if reading started there. False (and the
   * problem stays) when there is none.
   */
  skipSegment(): boolean {
    const at = this.problem === undefined ? undefined : parseSegmentName(this.problem.file)
    const next = at === undefined ? undefined : this.segmentList().find((s) => s.firstSeq > at)
    if (next === undefined) return false
    this.problem = undefined
    this.nextSeq = next.firstSeq
    this.drop()
    return true
  }

  /** Selects the segment holding nextSeq (the last one named ≤ it, or the first). */
  private async position(): Promise<ReadEnd | 'next'> {
    const list = this.segmentList()
    if (list.length === 0) return 'end'
    if (this.opts.exactStart && list[0]!.firstSeq > this.nextSeq) throw new HistoryGoneError(this.nextSeq, list[0]!.firstSeq)
    let i = 0
    while (i + 1 < list.length && list[i + 1]!.firstSeq <= this.nextSeq) i++
    if (this.segments.length === 0 && (this.opts.onSegment !== undefined || this.opts.onSlice !== undefined || this.opts.onWindow !== undefined)) {
      for (let j = i; j < list.length; j++) this.bytesTotal += this.sizeOf(list[j]!.path)
    }
    return this.open(list[i]!, 0)
  }

  /**
   * Opens a segment and decodes its header. `at`: read records from this file offset (a record
   * boundary holding nextSeq) rather than from the header on.
   */
  private async open(file: { name: string; path: string; firstSeq: number }, at: number): Promise<ReadEnd | 'next'> {
    const size = this.sizeOf(file.path)
    const seg: SegmentFile = { name: file.name, path: file.path, firstSeq: file.firstSeq, size }
    this.opts.onSegment?.(seg, this.bytesBefore, this.bytesTotal)
    // From the start, the first window holds the header and the first records: read once for both.
    const first = Buffer.allocUnsafe(Math.min(size, at > 0 ? HEADER_READ : Math.max(this.window, HEADER_READ)))
    const got = first.subarray(0, await this.files.readIntoAsync(file.path, 0, first, 0, first.length))
    const header = decodeSegmentHeader(got)
    if (typeof header === 'string') {
      // Read while a writer was creating it: by the time later segments are listed below, the
      // header may be written and the segment full. Look again at the file as it is now.
      if (got.length < HEADER_READ && this.sizeOf(file.path) > got.length) return 'next'
      // A crash while creating the newest segment leaves part of its header: nothing was in it
      // (headers are fsynced before any record is appended). Anything else is damage.
      const cutShort = got.length === size && isHeaderPrefix(got, file.firstSeq)
      const lastSegment = this.isLast(file.firstSeq)
      return this.report({
        kind: lastSegment && cutShort ? 'torn-tail' : 'corruption',
        file: file.name,
        path: file.path,
        offset: 0,
        reason: `bad header: ${header}`,
        bytes: size,
        seq: file.firstSeq,
        lastSegment,
        validRecordsFollow: false,
        unfinished: cutShort,
      })
    }
    if (header.firstSeq !== file.firstSeq) {
      return this.report(this.corruptionAt(file, size, 0, `header says first seq ${header.firstSeq}, file name says ${file.firstSeq}`))
    }
    this.seg = { ...seg, format: header.format, version: header.version, records: 0, lastSeq: header.firstSeq - 1, validEnd: header.bytes }
    this.segments.push(this.seg)
    this.header = header
    if (at > 0) {
      this.buf = EMPTY
      this.bufStart = at
      this.pos = 0
      this.posSeq = this.nextSeq
    } else {
      this.buf = got
      this.bufStart = 0
      this.pos = header.bytes
      this.posSeq = header.firstSeq
    }
    this.advance(this.pos, this.posSeq)
    // The log may start after fromSeq (a reader not asked for an exact start): go on from its first record.
    if (this.posSeq > this.nextSeq) this.nextSeq = this.posSeq
    this.measure()
    this.readAhead(size)
    return 'next'
  }

  /** Notes a new record boundary (and the seq of the record there) in the segment's result. */
  private advance(pos: number, posSeq: number): void {
    this.pos = pos
    this.posSeq = posSeq
    const seg = this.seg!
    seg.records = posSeq - seg.firstSeq
    seg.lastSeq = posSeq - 1
    seg.validEnd = this.bufStart + pos
    this.lastSeq = posSeq - 1
  }

  /** How many more bytes the record cut at `pos` needs (at least 1 when unknown: a JSON line without its newline yet). */
  private missingBytes(): number {
    const b = this.buf
    const p = this.pos
    if (p >= b.length) return 0
    if (this.header!.format === 'json') return 1
    if (p + FRAME_HEADER_BYTES > b.length) return p + FRAME_HEADER_BYTES - b.length
    return Math.max(1, p + FRAME_HEADER_BYTES + readU32(b, p) - b.length)
  }

  /** Sets `whole` and `view` after the buffer changed. */
  private measure(): void {
    const b = this.buf
    if (this.header!.format === 'json') {
      const nl = b.lastIndexOf(0x0a)
      this.whole = nl < this.pos ? this.pos : nl + 1
    } else {
      // Only lengths are followed here; the decoder checks every frame it is given.
      let p = this.pos
      let records = 0
      while (p + FRAME_HEADER_BYTES <= b.length) {
        const next = p + FRAME_HEADER_BYTES + readU32(b, p)
        if (next > b.length) break
        p = next
        records++
      }
      this.whole = p
      if (records > 0) this.opts.onWindow?.(records, p - this.pos, this.bytesTotal - this.bytesBefore - this.bufStart - this.pos)
    }
    this.view = this.whole === b.length ? b : b.subarray(0, this.whole)
  }

  /**
   * Reads on from the end of the buffer: a window, or more when a record needs more (the
   * unread part doubles at least, so a huge record costs linear copying). The bytes before
   * `pos` are let go. False when the file has nothing more.
   */
  private async fill(missing: number): Promise<boolean> {
    const seg = this.seg!
    const end = this.bufStart + this.buf.length
    const size = this.sizeOf(seg.path)
    if (size < end) {
      // The file was cut back (a failed write undone): forget the bytes it no longer has.
      this.ahead = undefined
      this.buf = this.buf.subarray(0, Math.max(this.pos, size - this.bufStart))
      this.measure()
      return false
    }
    const left = this.buf.length - this.pos
    if (await this.takeAhead(seg.path, end, left, missing)) {
      this.readAhead(size)
      return true
    }
    const want = Math.min(size - end, Math.max(this.window, missing, left))
    if (want <= 0) return false
    const next = Buffer.allocUnsafe(left + want)
    this.buf.copy(next, 0, this.pos)
    const n = await this.files.readIntoAsync(seg.path, end, next, left, want)
    if (n === 0) return false
    this.buf = n === want ? next : next.subarray(0, left + n)
    this.bufStart += this.pos
    this.pos = 0
    this.measure()
    this.readAhead(size)
    return true
  }

  /** With opts.readAhead, starts reading the window after the buffer (of a file `size` bytes long). */
  private readAhead(size: number): void {
    this.ahead = undefined
    if (this.opts.readAhead !== true) return
    const at = this.bufStart + this.buf.length
    const want = Math.min(size - at, this.window)
    if (want <= 0) return
    const buf = Buffer.allocUnsafe(AHEAD_ROOM + want)
    const read = this.files.readIntoAsync(this.seg!.path, at, buf, AHEAD_ROOM, want)
    // Awaited when used; a read never used must not surface as an unhandled rejection.
    read.catch(skip)
    this.ahead = { path: this.seg!.path, at, want, buf, read }
  }

  /**
   * Makes the window read ahead the buffer, with the `left` unread bytes before it, when it is
   * the one that follows the buffer and holds the `missing` bytes. False: read as usual.
   */
  private async takeAhead(file: string, end: number, left: number, missing: number): Promise<boolean> {
    const a = this.ahead
    this.ahead = undefined
    if (a === undefined || a.path !== file || a.at !== end || left > AHEAD_ROOM || missing > a.want) return false
    let n = await a.read
    // Bytes read ahead may since have been cut back (a writer's failed commit undone, which
    // fill() checks for the buffer): only what the file still holds is used.
    const size = this.sizeOf(file)
    if (size < end + n) n = Math.max(0, size - end)
    if (n < missing || n === 0) return false
    this.buf.copy(a.buf, AHEAD_ROOM - left, this.pos)
    this.buf = a.buf.subarray(AHEAD_ROOM - left, AHEAD_ROOM + n)
    this.bufStart += this.pos
    this.pos = 0
    this.measure()
    return true
  }

  /** The segment is read to the end of its file (as it is now), but for an unfinished record at `pos`. */
  private async endOfFile(): Promise<ReadEnd | 'next'> {
    const seg = this.seg!
    const next = this.opts.file === undefined ? this.segmentList().find((s) => s.firstSeq > seg.firstSeq) : undefined
    // A later segment exists, so this one is complete, unless it grew since we looked.
    if (next !== undefined && this.sizeOf(seg.path) > this.bufStart + this.buf.length) return 'next'
    if (this.pos < this.buf.length) {
      // A record cut short by the end of the file: the decoder, given the partial record, says why.
      const scan = scanRecords(this.buf, this.header!, skip, { resume: { offset: this.pos, seq: this.posSeq }, limit: 1 })
      if (scan.damage === undefined || scan.damage.offset !== this.pos) return 'next' // it changed under us: look again
      return this.report(this.damageProblem(scan.damage, next === undefined))
    }
    if (next === undefined) return 'end'
    if (next.firstSeq !== this.posSeq) {
      return this.report(
        this.corruptionAt(next, this.sizeOf(next.path), 0, `segment starts at seq ${next.firstSeq} but the previous one ended at ${this.posSeq - 1}`),
      )
    }
    this.bytesBefore += seg.size
    this.drop()
    return this.open(next, 0)
  }

  /** The decoder stopped at damage: classify it over the rest of the file, then ask the reporter. */
  private async damaged(): Promise<ReadEnd | 'again'> {
    const seg = this.seg!
    const size = this.sizeOf(seg.path)
    if (this.bufStart + this.buf.length < size) await this.fill(size - this.bufStart - this.buf.length)
    // Judged again over every byte to the end of the file: the decoder saw only whole records as
    // their (maybe damaged) lengths framed them, and a later commit's marked record may lie past
    // what it was given.
    const again = scanRecords(this.buf, this.header!, skip, { resume: { offset: this.pos, seq: this.posSeq }, limit: 1 })
    if (again.damage === undefined || again.damage.offset !== this.pos) return 'again' // it changed under us: look again
    return this.report(this.damageProblem(again.damage, this.isLast(seg.firstSeq)))
  }

  private damageProblem(d: SegmentDamage, lastSegment: boolean): LogProblem {
    const seg = this.seg!
    const b = this.buf
    const p = this.pos
    let recordEnd: number
    if (this.header!.format === 'json') {
      const nl = b.indexOf(0x0a, p)
      recordEnd = nl < 0 ? Infinity : nl + 1
    } else {
      recordEnd = p + FRAME_HEADER_BYTES > b.length ? Infinity : p + FRAME_HEADER_BYTES + readU32(b, p)
    }
    const offset = this.bufStart + p
    return {
      kind: lastSegment && !d.validRecordsFollow ? 'torn-tail' : 'corruption',
      file: seg.name,
      path: seg.path,
      offset,
      reason: d.reason,
      bytes: this.bufStart + b.length - offset,
      seq: this.posSeq,
      lastSegment,
      validRecordsFollow: d.validRecordsFollow,
      unfinished: recordEnd >= b.length,
    }
  }

  private corruptionAt(file: { name: string; path: string; firstSeq: number }, size: number, offset: number, reason: string): LogProblem {
    return {
      kind: 'corruption',
      file: file.name,
      path: file.path,
      offset,
      reason,
      bytes: size - offset,
      seq: file.firstSeq,
      lastSegment: this.isLast(file.firstSeq),
      validRecordsFollow: true,
      unfinished: false,
    }
  }

  /**
   * Asks the reporter. 'wait' leaves the reader where it is, to look again at the next read —
   * at the file's bytes as they will be then: the unfinished ones read so far are let go, since a
   * writer's next open may cut them and write other records in their place.
   */
  private report(p: LogProblem): ReadEnd {
    if (this.reporter.problem(p) === 'wait') {
      if (this.seg !== undefined && this.pos < this.buf.length) {
        this.buf = this.buf.subarray(0, this.pos)
        this.measure()
      }
      return 'end'
    }
    this.problem = p
    return 'problem'
  }

  private isLast(firstSeq: number): boolean {
    return this.opts.file !== undefined || !this.segmentList().some((s) => s.firstSeq > firstSeq)
  }

  /** The segments by name (no stat per file: the reader lists often while following a writer). */
  private segmentList(): { name: string; path: string; firstSeq: number }[] {
    if (this.opts.file !== undefined) return [this.opts.file]
    const out: { name: string; path: string; firstSeq: number }[] = []
    for (const name of this.files.list(this.dir)) {
      const firstSeq = parseSegmentName(name)
      if (firstSeq !== undefined) out.push({ name, path: path.join(this.dir, name), firstSeq })
    }
    return out.sort((a, b) => a.firstSeq - b.firstSeq)
  }

  private sizeOf(p: string): number {
    return this.files.size(p)
  }

  private drop(): void {
    this.ahead = undefined
    this.seg = undefined
    this.header = undefined
    this.buf = EMPTY
    this.view = EMPTY
    this.bufStart = 0
    this.pos = 0
    this.whole = 0
  }

  /** Positions at a known record (time travel): `offset` in the segment starting at `segment`, holding `seq`. */
  async positionAt(segment: number, offset: number, seq: number): Promise<ReadEnd | 'next'> {
    const name = segmentName(segment)
    this.drop()
    this.problem = undefined
    this.nextSeq = seq
    return this.open({ name, path: path.join(this.dir, name), firstSeq: segment }, offset)
  }
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
  onSegment?: LogReaderOptions['onSegment']
  /** Records of binary segments go here instead of to `visit` (see ScanOptions.sink). */
  sink?: RecordSink
  /** Where a progress bar repaints: see LogReaderOptions.onSlice. */
  onSlice?: LogReaderOptions['onSlice']
  onWindow?: LogReaderOptions['onWindow']
  readAhead?: boolean
}

/** Reads the log from fromSeq to toSeq (or its end) in one go, stopping at the first problem. */
export async function readLog(files: FileLayer, dir: string, visit: (ev: WalEvent) => void, opts: ReadLogOptions = {}): Promise<LogReadResult> {
  const reader = new LogReader(files, dir, { fromSeq: opts.fromSeq, sink: opts.sink, onSegment: opts.onSegment, onSlice: opts.onSlice, onWindow: opts.onWindow, readAhead: opts.readAhead })
  await reader.read(visit, Infinity, opts.toSeq ?? Infinity)
  return { segments: reader.segments, lastSeq: reader.lastSeq, problem: reader.problem }
}

/**
 * The one record at `offset` of the segment starting at `segment`, which must hold `seq`: how
 * time travel fetches an old version without scanning the log. The same checks as any read.
 */
export async function readRecordAt(files: FileLayer, dir: string, segment: number, offset: number, seq: number): Promise<WalEvent> {
  const name = segmentName(segment)
  const p = path.join(dir, name)
  const noRecord = (reason: string): CorruptionError =>
    new CorruptionError(`WAL segment ${name} has no valid record at byte ${offset} (${reason})`, { file: p, offset })
  const strict: Reporter = {
    problem: (problem) => {
      throw noRecord(problem.reason)
    },
  }
  const reader = new LogReader(files, dir, { file: { name, path: p, firstSeq: segment }, reporter: strict, window: 4096 })
  let ev: WalEvent | undefined
  if ((await reader.positionAt(segment, offset, seq)) === 'next') {
    await reader.read((e) => {
      ev = e
    }, 1, seq)
  }
  if (ev === undefined) throw noRecord('the file ends before it')
  return ev
}

export function listSegments(files: FileLayer, dir: string): SegmentFile[] {
  const out: SegmentFile[] = []
  for (const name of files.list(dir)) {
    const firstSeq = parseSegmentName(name)
    if (firstSeq === undefined) continue
    const p = path.join(dir, name)
    let size: number
    try {
      size = files.size(p)
    } catch (err) {
      // Deleted between the listing and now: a writer in another process pruned it (the CLI
      // reads next to a running database). Not there is what the listing should say.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    out.push({ name, path: p, firstSeq, size })
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq)
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
