// The CLI's ways of driving the one log reader (src/wal/logReader.ts): with a progress bar,
// past segments that a running writer deletes meanwhile, and with a stop at a time.
import type { WalEvent } from '../events/types.js'
import type { LogProblem, LogReadResult, SegmentFile } from '../wal/logReader.js'
import { listSegments, readLog } from '../wal/logReader.js'
import type { RecordSink } from '../wal/recordCodec.js'
import { files } from './dbDir.js'
import { fmtInt } from './format.js'
import type { Progress } from './progress.js'
import { StopReading } from './recordPrinter.js'

/**
 * Feeds a progress bar from the reader's callbacks. Bytes within a segment are estimated from
 * the seq reached: a segment's record count is known from the next segment's name, and the
 * last one's from the bytes per record seen so far.
 */
export class ReadProgress {
  private seg: SegmentFile | undefined
  private before = 0
  private nextFirst: number | undefined
  private records = 0
  private bytesRead = 0
  private recordsRead = 0
  items = 0

  constructor(
    readonly bar: Progress,
    private readonly segments: SegmentFile[],
    /** Bytes done before the log (checkpoints read first). */
    private readonly offset = 0,
  ) {}

  readonly onSegment = (seg: SegmentFile, before: number): void => {
    if (this.seg !== undefined) {
      this.bytesRead += this.seg.size
      this.recordsRead += this.records
    }
    this.seg = seg
    this.before = before
    this.records = 0
    const i = this.segments.findIndex((s) => s.name === seg.name)
    this.nextFirst = i >= 0 ? this.segments[i + 1]?.firstSeq : undefined
  }

  /** Call once per event read; redraws now and then. */
  event(seq: number): void {
    this.records++
    if ((++this.items & 0x3fff) === 0) this.bar.update(this.offset + this.bytesAt(seq), this.items)
  }

  private bytesAt(seq: number): number {
    const s = this.seg
    if (s === undefined) return this.before
    const perRecord = this.recordsRead > 0 ? this.bytesRead / this.recordsRead : 100
    const count = this.nextFirst !== undefined ? this.nextFirst - s.firstSeq : s.size / perRecord
    return this.before + s.size * Math.min(1, (seq - s.firstSeq + 1) / Math.max(1, count))
  }
}

export interface ResilientRead extends LogReadResult {
  /** Seqs that a writer deleted (pruned after a checkpoint) while we were reading, if any. */
  vanished: { fromSeq: number; toSeq: number } | undefined
}

/**
 * readLog, but when a segment disappears under it (a running writer pruned it after a
 * checkpoint), it carries on from the next seq not yet visited instead of failing. `visit` or
 * `sink` may throw StopReading to end the read there.
 */
export async function readLogResilient(
  dir: string,
  visit: (ev: WalEvent) => void,
  opts: {
    fromSeq?: number
    toSeq?: number
    onSegment?: (seg: SegmentFile, before: number, total: number) => void
    /** Binary records go here (ReadLogOptions.sink); lastSeq: the last one it was given. */
    sink?: RecordSink & { readonly lastSeq: number }
  },
): Promise<ResilientRead> {
  let next = opts.fromSeq ?? 1
  let vanished: ResilientRead['vanished']
  const segments: LogReadResult['segments'] = []
  const track = (ev: WalEvent): void => {
    visit(ev)
    next = ev.seq + 1
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await readLog(files, dir, track, { ...opts, fromSeq: next })
      segments.push(...r.segments)
      return { ...r, segments, vanished }
    } catch (err) {
      if (opts.sink !== undefined) next = Math.max(next, opts.sink.lastSeq + 1)
      if (err instanceof StopReading) return { segments, lastSeq: next - 1, problem: undefined, vanished }
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 10) throw err
      const first = listSegments(files, dir)[0]
      if (first !== undefined && first.firstSeq > next) {
        vanished = { fromSeq: vanished?.fromSeq ?? next, toSeq: first.firstSeq - 1 }
        next = first.firstSeq
      }
    }
  }
}

/** A sentence about a problem the reader stopped at, for people. */
export function describeProblem(p: LogProblem): string {
  return `${p.file} at byte ${fmtInt(p.offset)}: ${p.reason}`
}
