// What `islab dump` and its workers hand the log reader: the records of binary segments arrive
// as bytes (a RecordSink) and puts and deletes are printed from them with no event object,
// key string or value view per record; JSON segments' events (`visit`) and the rare batch and
// entangle records go through EventPrinter.print as events.
import type { Op, PutOp, WalEvent } from '../events/types.js'
import type { RecordSink } from '../wal/recordCodec.js'
import { RECORD_BATCH, RECORD_DEL, RECORD_EXPIRE, RECORD_PUT } from '../wal/format.js'
import type { EventPrinter } from './eventFormat.js'
import type { ByteSink } from './output.js'

/** Thrown through the reader to stop early (at --to time). */
export class StopReading {}

export interface RecordRange {
  /** Records stamped before this are read but not printed. */
  fromTime: number | undefined
  /** The first record stamped after this stops the reading (StopReading). */
  toTime: number | undefined
  /** Records up to this seq are neither printed nor counted (printed already). */
  afterSeq?: number
}

/** Told of every record read and not skipped (a progress bar, a worker's counters). */
export interface RecordCounter {
  event(seq: number): void
}

/**
 * The reader tells a sink of a record's parts before it has checked the whole record (a batch
 * with a bad op, trailing bytes): so a record is only printed, or its bytes flushed, once the
 * next record begins or the read ends (finish), when the reader has accepted it.
 */
export class RecordPrinter implements RecordSink {
  /** The seq and time of the record being read (the last one begun). */
  private seq = 0
  private time = 0
  private type = 0
  private printing = false
  /** Where the output of the record being read starts, to take it back if the reader rejects it. */
  private recordStart = 0
  /** The ops of a batch record being read, or an entangle record (printed once accepted). */
  private ops: Op[] | undefined
  private pending: WalEvent | undefined
  private readonly bytes: boolean
  private readonly fromTime: number
  private readonly toTime: number
  private readonly afterSeq: number

  constructor(
    private readonly printer: EventPrinter,
    private readonly sink: ByteSink,
    range: RecordRange,
    private readonly counter: RecordCounter | undefined,
  ) {
    this.bytes = printer.format === 'ndjson'
    this.fromTime = range.fromTime ?? -Infinity
    this.toTime = range.toTime ?? Infinity
    this.afterSeq = range.afterSeq ?? 0
  }

  /** Seq of the last record begun (and not stopped at), 0 before any. */
  get lastSeq(): number {
    return this.seq
  }

  begin(type: number, seq: number, time: number): void {
    this.printing = this.next(seq, time)
    this.type = type
    this.recordStart = this.sink.out.pos
    if (type === RECORD_BATCH && this.printing) this.ops = []
  }

  put(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number): void {
    if (!this.printing) return
    if (this.type === RECORD_PUT && this.bytes) {
      this.printer.putRecord(this.seq, this.time, kb, kOff, kLen, vb, vOff, vLen)
      return
    }
    // A copy: the event outlives the reader's buffer.
    const op: Op = { type: 'put', key: kb.toString('utf8', kOff, kOff + kLen), value: Buffer.from(vb.subarray(vOff, vOff + vLen)) }
    if (this.ops !== undefined) this.ops.push(op)
    else this.pending = { ...op, seq: this.seq, time: this.time }
  }

  del(kb: Buffer, kOff: number, kLen: number): void {
    if (!this.printing) return
    if (this.type === RECORD_DEL && this.bytes) {
      this.printer.delRecord(this.seq, this.time, kb, kOff, kLen)
      return
    }
    const key = kb.toString('utf8', kOff, kOff + kLen)
    const op: Op = this.type === RECORD_EXPIRE ? { type: 'del', key, expired: true } : { type: 'del', key }
    if (this.ops !== undefined) this.ops.push(op)
    else this.pending = { ...op, seq: this.seq, time: this.time }
  }

  /** Puts with a deadline take the event path (put() above), so the op to complete is the last one. */
  expires(_kb: Buffer, _kOff: number, _kLen: number, at: number): void {
    if (!this.printing) return
    if (this.ops !== undefined) {
      const i = this.ops.length - 1
      this.ops[i] = { ...(this.ops[i] as PutOp), expiresAt: at }
    } else if (this.pending?.type === 'put') {
      this.pending = { ...this.pending, expiresAt: at }
    }
  }

  entangle(key: string, partners: string[], strength: number): void {
    if (this.printing) this.pending = { type: 'entangle', seq: this.seq, time: this.time, key, partners, strength }
  }

  /** For readLog's `visit`: the events of JSON segments. */
  readonly visit = (ev: WalEvent): void => {
    const printing = this.next(ev.seq, ev.time)
    this.type = 0
    if (printing) this.printer.print(ev)
  }

  /**
   * Call when the reader is done (or stopped): `validSeq` is the last record it accepted. A
   * record begun after that was rejected, and what it printed is taken back.
   */
  finish(validSeq: number): void {
    if (this.seq > validSeq) {
      this.sink.out.pos = Math.min(this.sink.out.pos, this.recordStart)
      this.pending = undefined
      this.ops = undefined
    }
    this.settle()
  }

  /** The record before is accepted: print what it left pending and flush; then go on to `seq`. */
  private next(seq: number, time: number): boolean {
    this.settle()
    this.sink.maybeFlush()
    const wanted = seq > this.afterSeq
    if (wanted) {
      if (time > this.toTime) throw new StopReading()
      this.counter?.event(seq)
    }
    this.seq = seq
    this.time = time
    return wanted && time >= this.fromTime
  }

  private settle(): void {
    if (this.ops !== undefined) {
      this.printer.print({ type: 'batch', seq: this.seq, time: this.time, ops: this.ops })
      this.ops = undefined
    } else if (this.pending !== undefined) {
      this.printer.print(this.pending)
      this.pending = undefined
    }
  }
}
