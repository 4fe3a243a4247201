// Feeds the log into a state being rebuilt: binary WAL records arrive as bytes (no event object,
// key string or value view per record) and go into the state's base table; JSON records arrive
// as events. One place counts what was applied and reports progress, for recovery and for
// materialize alike. Progress is reported at each turn of the event loop the reader yields
// (every ~10 ms of replay), so a progress bar repaints while the log is replayed.
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import type { MemoryState } from '../state/memoryState.js'
import { readLog } from '../wal/logReader.js'
import type { LogReadResult } from '../wal/logReader.js'
import type { RecordSink } from '../wal/recordCodec.js'
import type { RecoveryProgress } from './recover.js'

/** Records applied before their keys per record are trusted for an estimate (see presize). */
const SAMPLE_EVENTS = 4096
/** Keys reserved at most before any record was applied: 16 MB of rows, a 4 MB table. */
const FIRST_RESERVE = 1 << 18

export class StateLoader implements RecordSink {
  /** Records applied. */
  events = 0
  /** Seq and time of the last record applied (0 and undefined before any). */
  seq = 0
  time: number | undefined
  private walTotal = 0
  /** Keys in the state before the log was applied (a checkpoint's). */
  private readonly sizeBefore: number

  /**
   * `before` is told each record's seq and time before it is applied; it may throw to stop
   * (a time target), and the throw comes out of load().
   */
  constructor(
    private readonly state: MemoryState,
    private readonly before: ((seq: number, time: number) => void) | undefined,
    private readonly onProgress: ((p: RecoveryProgress) => void) | undefined,
  ) {
    this.sizeBefore = state.size
  }

  /** Applies the log's records from `fromSeq` (to `toSeq`), then lets the state settle its memory. */
  async load(files: FileLayer, dir: string, fromSeq: number, toSeq = Infinity): Promise<LogReadResult> {
    try {
      return await readLog(files, dir, this.event, {
        fromSeq,
        toSeq,
        sink: this,
        onSegment: (_seg, done, total) => {
          this.walTotal = total
          this.report(done)
        },
        onSlice: (done) => this.report(done),
        onWindow: this.presize,
        // A read-only open (recoverReadOnly) and materialize read next to a writer, which may
        // cut a failed commit back: the reader uses no byte read ahead that the file no longer has.
        readAhead: true,
      })
    } finally {
      this.state.finishLoading()
      this.report(this.walTotal)
    }
  }

  begin(_type: number, seq: number, time: number): void {
    this.before?.(seq, time)
    this.seq = seq
    this.time = time
    this.events++
  }

  put(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number): void {
    this.state.loadPut(kb, kOff, kLen, vb, vOff, vLen, this.seq, this.time!)
  }

  expires(kb: Buffer, kOff: number, kLen: number, at: number): void {
    this.state.deadlines.set(kb.toString('utf8', kOff, kOff + kLen), this.seq, at)
  }

  del(kb: Buffer, kOff: number, kLen: number): void {
    this.state.loadDel(kb, kOff, kLen)
  }

  entangle(key: string, partners: string[], strength: number): void {
    this.state.entanglements.apply(key, partners, strength)
  }

  /** A record that arrives as an event (JSON segments). */
  event = (ev: WalEvent): void => {
    this.begin(0, ev.seq, ev.time)
    this.state.replay(ev)
  }

  /**
   * Makes room, before a window's records are applied, for the keys the rest of the log will
   * add, so the base table is not grown by doubling while it fills (row copies and rehashes of
   * a 4 MB table were a fifth of a 200k-event replay). The records to come are estimated from
   * this window's records per byte; how many of them add a key, from the records applied so far
   * (before any: all of them, up to FIRST_RESERVE). At most 8 times the keys so far (or
   * FIRST_RESERVE): a log that loads keys first and then only rewrites them is overestimated.
   * What is left unused is given back when loading ends (BaseTable.trim).
   */
  private presize = (records: number, bytes: number, bytesLeft: number): void => {
    const coming = (records / bytes) * bytesLeft
    const added = this.state.size - this.sizeBefore
    const keys = this.events < SAMPLE_EVENTS ? coming : (added / this.events) * coming * 1.05
    this.state.reserve(Math.ceil(Math.min(keys, Math.max(FIRST_RESERVE, 8 * this.state.size))))
  }

  private report(bytes: number): void {
    this.onProgress?.({ phase: 'wal', done: bytes, total: this.walTotal, bytes, items: this.events })
  }
}
