// `islab dump` on several cores. Formatting costs about twice what reading does, so a long log
// is cut into seq ranges (a few per segment, so that the workers finish together), each a job
// for a worker thread (dumpWorker.ts) that reads it with the one log reader (which walks the
// records before the range by their lengths) and formats it; this thread writes the jobs'
// output in seq order. The first job that meets a problem (or stops at a time) ends the dump, and later
// jobs are discarded, as one sequential read would stop there. The reader judges each segment
// as in a sequential read (its damage, a gap into the next one); what a range read cannot judge
// (bytes after the range's last record, a segment deleted meanwhile) is handed back to the
// caller to read sequentially from there. Workers wait when they are more than WINDOW chunks
// (MiB) ahead: memory stays bounded and a slow reader of stdout slows the workers down.
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import type { LogProblem, SegmentFile } from '../wal/logReader.js'
import type { DumpJob, DumpSettings, WorkerMessage } from './dumpWorker.js'
import type { Sink } from './output.js'
import type { Progress } from './progress.js'

export type ParallelDumpResult =
  | { finished: true; lastSeq: number; problem: LogProblem | undefined }
  /** Read on sequentially from `fromSeq`, printing only events after `printedUpTo`. */
  | { finished: false; fromSeq: number; printedUpTo: number }

/**
 * Workers to use, or 0 for none: the cores that are idle (parallelism minus the load average;
 * on a busy machine workers only contend with each other) less the one the main thread needs to
 * write the output, at most 3 (each worker beyond the first may hold WINDOW MiB of output). So a
 * 2-core machine dumps in one thread: measured there, 2 workers lost to it even when idle.
 * ISLAB_WORKERS overrides it (0: one thread).
 */
export function dumpWorkers(segs: SegmentFile[]): number {
  const env = process.env.ISLAB_WORKERS
  const idle = Math.round(os.availableParallelism() - os.loadavg()[0]!)
  const n = env !== undefined && env !== '' ? Number(env) : Math.min(3, idle - 1)
  const minBytes = Number(process.env.ISLAB_PARALLEL_MIN_BYTES ?? 8 << 20)
  const bytes = segs.reduce((t, s) => t + s.size, 0)
  return n >= 2 && segs.length >= 2 && bytes >= minBytes ? Math.min(n, segs.length) : 0
}

export function dumpParallel(
  settings: DumpSettings,
  segs: SegmentFile[],
  range: { fromSeq: number | undefined; toSeq: number | undefined },
  out: Sink,
  bar: Progress,
  workers: number,
): Promise<ParallelDumpResult> {
  const jobs = planJobs(segs, range, workers)
  const shared = jobs.map(() => new SharedArrayBuffer(12))
  const counters = shared.map((b) => new Int32Array(b))
  const queued: Uint8Array[][] = jobs.map(() => [])
  const upTo: number[] = jobs.map((j) => j.fromSeq - 1)
  const done = new Map<number, Extract<WorkerMessage, { type: 'done' }>>()
  const final = jobs.length - 1
  let current = 0
  let next = 0
  const pool: Worker[] = []

  return new Promise<ParallelDumpResult>((resolve, reject) => {
    let finished = false
    const timer = setInterval(() => {
      let events = 0
      let bytes = 0
      jobs.forEach((j, i) => {
        const n = Atomics.load(counters[i]!, 2)
        events += n
        bytes += j.size * Math.min(1, n / Math.max(1, j.records))
      })
      bar.update(bytes, events)
    }, 100)
    const finish = (err: unknown, result?: ParallelDumpResult): void => {
      if (finished) return
      finished = true
      clearInterval(timer)
      for (const w of pool) void w.terminate()
      if (err !== undefined) reject(err)
      else resolve(result!)
    }
    const write = (id: number, bytes: Uint8Array): void => {
      out.writeBytes(bytes)
      Atomics.add(counters[id]!, 1, 1)
      Atomics.notify(counters[id]!, 1)
    }
    const advance = (): void => {
      for (;;) {
        const d = done.get(current)
        if (d === undefined) return
        if (d.problem !== undefined || d.stopped || current === final) {
          finish(undefined, { finished: true, lastSeq: d.lastSeq, problem: d.problem })
          return
        }
        if (!d.exact) {
          finish(undefined, { finished: false, fromSeq: jobs[current]!.fromSeq, printedUpTo: d.lastSeq })
          return
        }
        current++
        for (const b of queued[current]!.splice(0)) write(current, b)
        for (const w of idle.splice(0)) assign(w)
      }
    }
    const idle: Worker[] = []
    // A job starts at most `workers` jobs ahead of the one being written: with the WINDOW each
    // job may fill, that bounds the memory held for output not yet written.
    const assign = (w: Worker): void => {
      if (next >= jobs.length || finished) return
      if (next > current + workers) {
        idle.push(w)
        return
      }
      const id = next++
      const j = jobs[id]!
      w.postMessage({ type: 'job', id, fromSeq: j.fromSeq, toSeq: j.toSeq, endsSegment: j.endsSegment, shared: shared[id]! } satisfies DumpJob)
    }
    const onMessage = (w: Worker, m: WorkerMessage): void => {
      if (finished) return
      if (m.type === 'chunk') {
        upTo[m.id] = m.upTo
        try {
          if (m.id === current) write(m.id, m.bytes)
          else queued[m.id]!.push(m.bytes)
        } catch (err) {
          finish(err)
        }
      } else if (m.type === 'done') {
        done.set(m.id, m)
        assign(w)
        try {
          advance()
        } catch (err) {
          finish(err)
        }
      } else if (m.code === 'ENOENT' && m.id >= current) {
        // A writer deleted a segment after a checkpoint: the caller goes on after what was written.
        const printed = upTo[current]!
        finish(undefined, { finished: false, fromSeq: printed + 1, printedUpTo: printed })
      } else {
        finish(new Error(`dump worker failed: ${m.message}`))
      }
    }
    for (let i = 0; i < Math.min(workers, jobs.length); i++) {
      const w = new Worker(new URL('./dumpWorker.js', import.meta.url), { workerData: settings })
      pool.push(w)
      w.on('message', (m: WorkerMessage) => onMessage(w, m))
      w.on('error', (err) => finish(err))
      assign(w)
    }
  })
}

interface PlannedJob {
  fromSeq: number
  toSeq: number | undefined
  endsSegment: boolean
  /** Bytes of the log the job covers, and records, for the progress bar (estimates in the last segment). */
  size: number
  records: number
}

/**
 * Cuts the range into jobs of about the same number of events, a few per worker, never across
 * a segment boundary. A segment's record count is known from the next segment's name; the last
 * segment's is estimated from its size, and its last job runs to the end of the range or log.
 */
function planJobs(segs: SegmentFile[], range: { fromSeq: number | undefined; toSeq: number | undefined }, workers: number): PlannedJob[] {
  const from = range.fromSeq ?? 1
  const to = range.toSeq ?? Infinity
  let first = 0
  while (first + 1 < segs.length && segs[first + 1]!.firstSeq <= from) first++
  let perRecord = 100
  const spans: { from: number; to: number; open: boolean; endsSegment: boolean; size: number }[] = []
  for (let i = first; i < segs.length; i++) {
    const seg = segs[i]!
    const nextFirst = segs[i + 1]?.firstSeq
    const start = Math.max(from, seg.firstSeq)
    if (nextFirst !== undefined) perRecord = seg.size / Math.max(1, nextFirst - seg.firstSeq)
    const known = nextFirst !== undefined ? nextFirst - 1 : seg.firstSeq + Math.round(seg.size / perRecord) - 1
    const end = Math.min(to, known)
    spans.push({ from: start, to: Math.max(start, end), open: nextFirst === undefined || to < nextFirst, endsSegment: nextFirst !== undefined && end === nextFirst - 1, size: seg.size })
    if (nextFirst === undefined || to < nextFirst) break
  }
  const events = spans.reduce((n, s) => n + s.to - s.from + 1, 0)
  const perJob = Number(process.env.ISLAB_DUMP_JOB_EVENTS) || Math.min(250_000, Math.max(20_000, Math.ceil(events / (workers * 3))))
  const jobs: PlannedJob[] = []
  for (const s of spans) {
    const n = s.to - s.from + 1
    const parts = Math.max(1, Math.round(n / perJob))
    for (let k = 0; k < parts; k++) {
      const a = s.from + Math.floor((n * k) / parts)
      const b = s.from + Math.floor((n * (k + 1)) / parts) - 1
      const last = k === parts - 1
      jobs.push({
        fromSeq: a,
        toSeq: last && s.open ? (Number.isFinite(to) ? to : undefined) : b,
        endsSegment: last && s.endsSegment,
        size: (s.size * (b - a + 1)) / Math.max(1, n),
        records: b - a + 1,
      })
    }
  }
  return jobs
}
