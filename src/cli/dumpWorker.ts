// A worker of the parallel `islab dump` (parallelDump.ts): formats the events of one range of
// the log, read with the one log reader, and hands the bytes to the main thread in chunks,
// waiting whenever it is more than WINDOW chunks ahead of what the main thread has written.
import { parentPort, workerData } from 'node:worker_threads'
import { nodeFileLayer as files } from '../io/nodeFileLayer.js'
import { readLog } from '../wal/logReader.js'
import { GrowBuffer } from '../wal/recordCodec.js'
import { EventPrinter } from './eventFormat.js'
import type { EventFormat } from './eventFormat.js'
import type { ByteSink } from './output.js'
import { RecordPrinter, StopReading } from './recordPrinter.js'

export interface DumpSettings {
  dir: string
  format: EventFormat
  prefix: string | undefined
  flat: boolean
  fromTime: number | undefined
  toTime: number | undefined
}

export interface DumpJob {
  type: 'job'
  id: number
  fromSeq: number
  /** The last seq of the job (within its segment, or the one before the next segment's first), or none: to the end. */
  toSeq: number | undefined
  /** toSeq ends a segment: check that nothing follows its record in the file. */
  endsSegment: boolean
  /** Int32Array over it: [chunks posted, chunks written by the main thread, events read]. */
  shared: SharedArrayBuffer
}

export type WorkerMessage =
  | { type: 'chunk'; id: number; bytes: Uint8Array; upTo: number }
  | {
      type: 'done'
      id: number
      lastSeq: number
      problem: import('../wal/logReader.js').LogProblem | undefined
      stopped: boolean
      /** False when the segment holds bytes after toSeq's record: only a sequential read can tell what they are. */
      exact: boolean
    }
  | { type: 'failed'; id: number; code: string | undefined; message: string }

/**
 * Chunks a job may have posted and not yet had written. A job runs ahead of the one being
 * written by this much output, so it must hold a good part of a segment's output (a 64 MiB
 * segment of small values makes 100-250 MB of NDJSON): this is what the parallelism costs in memory.
 */
export const WINDOW = 96
const CHUNK = 1 << 20

/** Gathers a job's output, and posts it in chunks at record boundaries (RecordPrinter flushes there). */
class ChunkSink implements ByteSink {
  readonly out = new GrowBuffer(CHUNK + (1 << 16))
  private posted = 0
  /** Seq of the last record whose output is in `out`. */
  upTo: number
  private readonly counters: Int32Array

  constructor(private readonly job: DumpJob) {
    this.counters = new Int32Array(job.shared)
    this.upTo = job.fromSeq - 1
  }

  maybeFlush(): void {
    if (this.out.pos >= CHUNK) this.post()
  }

  line(text = ''): void {
    this.out.ensure(text.length * 3 + 1)
    this.out.pos += this.out.buf.write(`${text}\n`, this.out.pos, 'utf8')
  }

  /** RecordCounter: record `seq` is read; its output is complete when the next one begins. */
  event(seq: number): void {
    this.upTo = seq
    if ((seq & 0x3ff) === 0) Atomics.store(this.counters, 2, seq - this.job.fromSeq + 1)
  }

  post(): void {
    const bytes = new Uint8Array(this.out.view()) // a copy with a buffer of its own, to transfer
    this.out.reset()
    parentPort!.postMessage({ type: 'chunk', id: this.job.id, bytes, upTo: this.upTo } satisfies WorkerMessage, [bytes.buffer])
    const counters = this.counters
    Atomics.store(counters, 0, ++this.posted)
    for (let written = Atomics.load(counters, 1); this.posted - written >= WINDOW; written = Atomics.load(counters, 1)) {
      Atomics.wait(counters, 1, written, 1000)
    }
  }
}

async function runJob(s: DumpSettings, job: DumpJob): Promise<void> {
  const sink = new ChunkSink(job)
  const printer = new EventPrinter(sink, s.format, { prefix: s.prefix, flat: s.flat })
  const records = new RecordPrinter(printer, sink, { fromTime: s.fromTime, toTime: s.toTime }, sink)
  let lastSeq = job.fromSeq - 1
  let problem: import('../wal/logReader.js').LogProblem | undefined
  let stopped = false
  let exact = true
  try {
    const r = await readLog(files, s.dir, records.visit, { fromSeq: job.fromSeq, toSeq: job.toSeq, sink: records })
    lastSeq = r.lastSeq
    problem = r.problem
    const seg = r.segments[0]
    // Reading stopped at toSeq: fine if that record ends the segment (the next segment's name
    // says it starts after it). Anything after it (records overlapping the next segment,
    // garbage) is for the sequential reader to judge.
    if (job.endsSegment && problem === undefined && seg !== undefined && r.segments.length === 1 && seg.validEnd !== seg.size) exact = false
  } catch (err) {
    if (!(err instanceof StopReading)) throw err
    stopped = true
    lastSeq = Math.max(lastSeq, records.lastSeq)
  }
  records.finish(lastSeq)
  sink.upTo = lastSeq
  Atomics.store(new Int32Array(job.shared), 2, Math.max(0, lastSeq - job.fromSeq + 1))
  if (sink.out.pos > 0) sink.post()
  parentPort!.postMessage({ type: 'done', id: job.id, lastSeq, problem, stopped, exact } satisfies WorkerMessage)
}

const settings = workerData as DumpSettings
// Jobs run one after another (their output is posted in order), though the reader is asynchronous.
let jobs = Promise.resolve()
parentPort!.on('message', (job: DumpJob) => {
  jobs = jobs.then(async () => {
    try {
      await runJob(settings, job)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      parentPort!.postMessage({ type: 'failed', id: job.id, code: e.code, message: e.stack ?? String(e) } satisfies WorkerMessage)
    }
  })
})
