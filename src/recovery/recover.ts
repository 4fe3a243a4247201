// Rebuilds the in-memory state at open by replaying the WAL, applying the recovery policy to
// whatever the log reader reports: an interrupted write at the very end is truncated and
// reported; damage anywhere else fails the open with ISLAB_CORRUPTION naming file and offset.
import path from 'node:path'
import { CorruptionError } from '../errors.js'
import type { FileLayer } from '../io/fileLayer.js'
import type { MemoryState } from '../state/memoryState.js'
import { readLog } from '../wal/logReader.js'
import type { WalTail } from '../wal/walWriter.js'

export interface RecoveryReport {
  /** Seq of the checkpoint loaded (0: none, replayed from the start of the log). */
  checkpointSeq: number
  eventsReplayed: number
  segmentsRead: number
  /** Bytes of an interrupted write cut from the end of the log, and where. */
  tornBytesTruncated: number
  tornAt: { file: string; offset: number; reason: string } | undefined
  lastSeq: number
  timeMs: number
}

export interface Recovered {
  report: RecoveryReport
  /** The last segment, which the writer appends to. */
  tail: WalTail | undefined
}

export function recover(files: FileLayer, dir: string, state: MemoryState): Recovered {
  const started = performance.now()
  let replayed = 0
  const result = readLog(files, dir, (ev) => {
    state.apply(ev)
    replayed++
  })
  let tornBytes = 0
  let tornAt: RecoveryReport['tornAt']
  const problem = result.problem
  const segments = result.segments
  const first = segments[0]
  if (first !== undefined && first.firstSeq > 1) {
    throw new CorruptionError(
      `The WAL starts at seq ${first.firstSeq} (${first.name}) and no checkpoint covers seqs 1-${first.firstSeq - 1}; ` +
        'the database cannot be rebuilt without them. Restore the missing segments, or copy the directory elsewhere and inspect it with `islab verify`.',
      { file: first.path, offset: 0 },
    )
  }
  if (problem !== undefined) {
    if (problem.kind === 'corruption') {
      throw new CorruptionError(
        `WAL segment ${problem.file} is damaged at byte ${problem.offset} (${problem.reason}); run ` +
          `\`islab verify ${dir}\` to see the damage, or open with recovery: 'point-in-time' to keep the valid prefix.`,
        { file: path.join(dir, problem.file), offset: problem.offset },
      )
    }
    const p = path.join(dir, problem.file)
    const last = segments[segments.length - 1]
    if (last !== undefined && last.name === problem.file) {
      files.truncate(p, problem.offset)
      last.size = problem.offset
    } else {
      // The segment's header itself was cut short: the segment never held a record.
      files.unlink(p)
      files.syncDir(dir)
    }
    tornBytes = problem.bytes
    tornAt = { file: problem.file, offset: problem.offset, reason: problem.reason }
  }
  const last = segments[segments.length - 1]
  const tail: WalTail | undefined =
    last === undefined || last.format === undefined
      ? undefined
      : { firstSeq: last.firstSeq, format: last.format, size: last.validEnd, records: last.records }
  return {
    tail,
    report: {
      checkpointSeq: 0,
      eventsReplayed: replayed,
      segmentsRead: segments.length,
      tornBytesTruncated: tornBytes,
      tornAt,
      lastSeq: result.lastSeq,
      timeMs: performance.now() - started,
    },
  }
}
