// Rebuilds the in-memory state at open: the newest valid checkpoint, then replay of the WAL
// after its seq. The policy for what the readers report lives here:
//  - a damaged checkpoint is skipped (and reported) for the previous one;
//  - an interrupted write at the very end of the log is truncated and reported;
//  - damage anywhere else fails the open with ISLAB_CORRUPTION (strict), or, in point-in-time
//    mode, keeps the longest valid prefix and moves the rest aside, reporting the lost seqs;
//  - a log that no longer reaches back to the checkpoint fails the open: never a silently
//    incomplete database.
import path from 'node:path'
import { CheckpointDamage, loadStateExtensions, readCheckpoint } from '../checkpoint/checkpointReader.js'
import { listCheckpoints, removeCheckpointLeftovers } from '../checkpoint/checkpointStore.js'
import { CorruptionError } from '../errors.js'
import type { FileLayer } from '../io/fileLayer.js'
import { MemoryState } from '../state/memoryState.js'
import { listSegments } from '../wal/logReader.js'
import type { LogProblem, LogReadResult } from '../wal/logReader.js'
import { salvageSeqRange } from '../wal/segmentReader.js'
import { StateLoader } from './stateLoader.js'
import type { WalTail } from '../wal/walWriter.js'

export type RecoveryMode = 'strict' | 'point-in-time'

export interface RecoveryProgress {
  phase: 'checkpoint' | 'wal'
  done: number
  total: number
  bytes: number
}

export interface RecoveryReport {
  /** Seq of the checkpoint loaded (0: none, replayed from the start of the log). */
  checkpointSeq: number
  checkpointFile: string | undefined
  checkpointKeys: number
  /** Checkpoints found damaged and skipped, newest first. */
  checkpointsSkipped: { file: string; offset: number; reason: string }[]
  eventsReplayed: number
  segmentsRead: number
  /** Bytes of an interrupted write cut from the end of the log, and where. */
  tornBytesTruncated: number
  tornAt: { file: string; offset: number; reason: string } | undefined
  /** Point-in-time recovery only: what was given up, and where the damaged files went. */
  lost: { fromSeq: number; toSeq: number | undefined; movedAside: string[]; reason: string } | undefined
  lastSeq: number
  timeMs: number
}

export interface Recovered {
  state: MemoryState
  report: RecoveryReport
  /** The last segment, which the writer appends to (undefined: start a new one). */
  tail: WalTail | undefined
  /** Extension blobs of the loaded checkpoint. */
  extensions: Map<string, Uint8Array>
}

export interface RecoverOptions {
  mode: RecoveryMode
  onProgress?: (p: RecoveryProgress) => void
}

/**
 * Asynchronous so that a long replay yields to the event loop (see logReader); nothing else may
 * touch the directory meanwhile (open() holds the lock and has not started the writer).
 */
export async function recover(files: FileLayer, dir: string, opts: RecoverOptions): Promise<Recovered> {
  const started = performance.now()
  removeCheckpointLeftovers(files, dir)
  const skipped: RecoveryReport['checkpointsSkipped'] = []
  let state = new MemoryState()
  let loaded: ReturnType<typeof readCheckpoint> | undefined
  let loadedFile: string | undefined
  for (const cp of listCheckpoints(files, dir)) {
    const candidate = new MemoryState()
    try {
      const got = readCheckpoint(
        files,
        cp.path,
        (raw, n, pos, nums) => candidate.loadMany(raw, n, pos, nums),
        (p) => opts.onProgress?.({ phase: 'checkpoint', ...p }),
        cp.seq,
        (n) => candidate.reserve(n),
      )
      loadStateExtensions(candidate, cp.path, got.extensions)
      loaded = got
      state = candidate
      loadedFile = cp.name
      break
    } catch (err) {
      if (!(err instanceof CheckpointDamage)) throw err
      skipped.push({ file: cp.name, offset: err.offset, reason: err.reason })
    }
  }
  const fromSeq = (loaded?.seq ?? 0) + 1
  assertLogReachesBack(files, dir, fromSeq, loadedFile)

  const loader = new StateLoader(state, undefined, opts.onProgress)
  const result = await loader.load(files, dir, fromSeq)
  const replayed = loader.events

  let tornBytes = 0
  let tornAt: RecoveryReport['tornAt']
  let lost: RecoveryReport['lost']
  const problem = result.problem
  if (problem?.kind === 'corruption') {
    if (opts.mode === 'strict') {
      throw new CorruptionError(
        `WAL segment ${problem.file} is damaged at byte ${problem.offset} (${problem.reason}); run ` +
          `\`islab verify ${dir}\` to see the damage, or open with recovery: 'point-in-time' to keep the valid prefix.`,
        { file: path.join(dir, problem.file), offset: problem.offset },
      )
    }
    lost = keepValidPrefix(files, dir, result, problem, loaded?.seq ?? 0)
  } else if (problem?.kind === 'torn-tail') {
    cutTornTail(files, dir, result, problem)
    tornBytes = problem.bytes
    tornAt = { file: problem.file, offset: problem.offset, reason: problem.reason }
  }

  const lastSeq = Math.max(result.lastSeq, loaded?.seq ?? 0)
  const last = result.segments[result.segments.length - 1]
  // A log that ends before the checkpoint's seq cannot take the next seq without a gap: start a new segment.
  const tail: WalTail | undefined =
    last === undefined || last.format === undefined || last.lastSeq !== lastSeq
      ? undefined
      : { firstSeq: last.firstSeq, format: last.format, size: last.validEnd, records: last.records }
  return {
    state,
    tail,
    extensions: loaded?.extensions ?? new Map(),
    report: {
      checkpointSeq: loaded?.seq ?? 0,
      checkpointFile: loadedFile,
      checkpointKeys: loaded?.entries ?? 0,
      checkpointsSkipped: skipped,
      eventsReplayed: replayed,
      segmentsRead: result.segments.length,
      tornBytesTruncated: tornBytes,
      tornAt,
      lost,
      lastSeq,
      timeMs: performance.now() - started,
    },
  }
}

/** The segment holding `fromSeq` must exist, unless the log is empty past the checkpoint. */
function assertLogReachesBack(files: FileLayer, dir: string, fromSeq: number, checkpoint: string | undefined): void {
  const segs = listSegments(files, dir)
  const first = segs[0]
  if (first === undefined || first.firstSeq <= fromSeq) return
  // With a checkpoint, a log that starts after it is still whole if it starts right after it.
  if (checkpoint !== undefined && first.firstSeq === fromSeq) return
  const from = checkpoint === undefined ? 'no valid checkpoint' : `checkpoint ${checkpoint}`
  throw new CorruptionError(
    `The WAL starts at seq ${first.firstSeq} (${first.name}) but recovery from ${from} needs seq ${fromSeq} onwards; ` +
      `seqs ${fromSeq}-${first.firstSeq - 1} are missing and the database cannot be rebuilt without them. ` +
      'Restore the missing segments or checkpoints; `islab verify` shows what is there.',
    { file: first.path, offset: 0 },
  )
}

function cutTornTail(files: FileLayer, dir: string, result: LogReadResult, problem: LogProblem): void {
  const p = path.join(dir, problem.file)
  const last = result.segments[result.segments.length - 1]
  if (last !== undefined && last.name === problem.file) {
    files.truncate(p, problem.offset)
    last.size = problem.offset
  } else {
    // The segment's header itself was cut short: the segment never held a record.
    files.unlink(p)
    files.syncDir(dir)
  }
}

/**
 * Point-in-time: the damaged segment and every later one are renamed to `<name>.damaged`
 * (never deleted); the damaged segment's valid prefix is written back under its own name.
 */
function keepValidPrefix(
  files: FileLayer,
  dir: string,
  result: LogReadResult,
  problem: LogProblem,
  checkpointSeq: number,
): RecoveryReport['lost'] {
  const movedAside: string[] = []
  let maxLost: number | undefined
  const segs = listSegments(files, dir)
  const at = segs.findIndex((s) => s.name === problem.file)
  for (let i = at; i < segs.length; i++) {
    const seg = segs[i]!
    const bytes = files.readFile(seg.path)
    const range = salvageSeqRange(bytes, i === at ? problem.offset : 0)
    if (range !== undefined) maxLost = Math.max(maxLost ?? 0, range.max)
    // Never overwrite what an earlier recovery moved aside.
    let aside = `${seg.path}.damaged`
    for (let n = 2; files.exists(aside); n++) aside = `${seg.path}.damaged.${n}`
    files.rename(seg.path, aside)
    movedAside.push(path.basename(aside))
    if (i === at) {
      const good = result.segments.find((s) => s.name === seg.name)
      if (good !== undefined && good.validEnd > 0) {
        files.writeFileDurable(seg.path, bytes.subarray(0, problem.offset))
        good.size = problem.offset
      } else {
        result.segments = result.segments.filter((s) => s.name !== seg.name)
      }
    }
  }
  files.syncDir(dir)
  // The valid prefix ends at the last good record, or at the checkpoint when no record after it was read.
  const fromSeq = Math.max(result.lastSeq, checkpointSeq) + 1
  return { fromSeq, toSeq: maxLost !== undefined && maxLost >= fromSeq ? maxLost : undefined, movedAside, reason: `${problem.file} at byte ${problem.offset}: ${problem.reason}` }
}
