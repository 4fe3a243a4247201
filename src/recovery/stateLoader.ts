// Feeds what the readers find into a state being rebuilt: binary WAL records arrive as bytes
// (no event object, key string or value view per record) and go into the state's base table;
// JSON records arrive as events. One place counts what was applied and reports progress.
import type { WalEvent } from '../events/types.js'
import type { MemoryState } from '../state/memoryState.js'
import type { RecordSink } from '../wal/recordCodec.js'

export class StateLoader implements RecordSink {
  /** Records applied. */
  events = 0
  /** Seq and time of the last record applied (0 and undefined before any). */
  seq = 0
  time: number | undefined

  /**
   * `before` is told each record's seq and time before it is applied; it may throw to stop
   * (a time target). `progress` is called every `every` records.
   */
  constructor(
    private readonly state: MemoryState,
    private readonly before: ((seq: number, time: number) => void) | undefined,
    private readonly progress: (events: number) => void,
    private readonly every = 1 << 16,
  ) {}

  begin(_type: number, seq: number, time: number): void {
    this.before?.(seq, time)
    this.seq = seq
    this.time = time
    if (++this.events % this.every === 0) this.progress(this.events)
  }

  put(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number): void {
    this.state.loadPut(kb, kOff, kLen, vb, vOff, vLen, this.seq, this.time!)
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
}
