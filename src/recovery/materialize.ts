// Rebuilds the state as of a past (or the latest) point without touching the directory: the
// newest valid checkpoint at or before the target, then the log up to the target, read by the
// same readers recovery uses. Read-only: no lock, no truncation, no leftovers removed, so it
// may run on a directory another process has open (`islab replay`, `stats`, `get`).
import { CheckpointDamage, loadStateExtensions, readCheckpoint } from '../checkpoint/checkpointReader.js'
import { listCheckpoints } from '../checkpoint/checkpointStore.js'
import { HistoryGoneError } from '../errors.js'
import type { FileLayer } from '../io/fileLayer.js'
import { MemoryState } from '../state/memoryState.js'
import { listSegments } from '../wal/logReader.js'
import type { LogReadResult } from '../wal/logReader.js'
import type { RecoveryProgress } from './recover.js'
import { StateLoader } from './stateLoader.js'

export interface MaterializeOptions {
  /** Last seq to include. Default: all of the log. */
  toSeq?: number
  /**
   * Last time to include (ms since the epoch): the state holds every event up to, not
   * including, the first one stamped later than this.
   */
  toTime?: number
  onProgress?: (p: RecoveryProgress) => void
}

export interface Materialized {
  state: MemoryState
  /** The seq the state is as of: the last event applied, or the checkpoint's seq. */
  seq: number
  /** Time of event `seq` when it was replayed; the checkpoint's time when the state is the checkpoint's. */
  time: number | undefined
  checkpoint: { file: string; seq: number; time: number; entries: number; extensions: Map<string, Uint8Array> } | undefined
  /** Checkpoints at or before the target that were damaged and skipped, newest first. */
  checkpointsSkipped: { file: string; offset: number; reason: string }[]
  eventsReplayed: number
  /** What the log reader saw from the checkpoint on (problem: why it stopped before the target, if it did). */
  log: LogReadResult
  /** True when reading stopped at the time target, before the end of the log. */
  stoppedAtTime: boolean
}

/** Thrown through the reader to stop at a time target: the log has no index by time. */
class ReachedTime {}

/**
 * Materializes the state as of the target. Throws HistoryGoneError when no valid checkpoint at
 * or before the target is left and the log no longer starts at seq 1 (or starts after the
 * checkpoint's seq + 1): the events needed are gone. Damage in the log is not thrown: it is in
 * `log.problem`, and `seq` says how far the state got.
 */
export async function materialize(files: FileLayer, dir: string, opts: MaterializeOptions = {}): Promise<Materialized> {
  const toSeq = opts.toSeq ?? Infinity
  const toTime = opts.toTime ?? Infinity
  const skipped: Materialized['checkpointsSkipped'] = []
  let state = new MemoryState()
  let checkpoint: Materialized['checkpoint']
  for (const cp of listCheckpoints(files, dir)) {
    if (cp.seq > toSeq) continue
    const candidate = new MemoryState()
    try {
      const loaded = readCheckpoint(
        files,
        cp.path,
        (raw, n, pos, nums) => candidate.loadMany(raw, n, pos, nums),
        (p) => opts.onProgress?.({ phase: 'checkpoint', ...p, items: p.done }),
        cp.seq,
        (n) => candidate.reserve(n),
      )
      loadStateExtensions(candidate, cp.path, loaded.extensions)
      // The header time is when the snapshot was taken, so every event in it is older.
      if (loaded.time > toTime) continue
      state = candidate
      checkpoint = { file: cp.name, seq: loaded.seq, time: loaded.time, entries: loaded.entries, extensions: loaded.extensions }
      break
    } catch (err) {
      if (!(err instanceof CheckpointDamage)) throw err
      skipped.push({ file: cp.name, offset: err.offset, reason: err.reason })
    }
  }
  const fromSeq = (checkpoint?.seq ?? 0) + 1
  const first = listSegments(files, dir)[0]
  if (first !== undefined && first.firstSeq > fromSeq && fromSeq <= toSeq) throw new HistoryGoneError(fromSeq, first.firstSeq)

  let stoppedAtTime = false
  let log: LogReadResult = { segments: [], lastSeq: 0, problem: undefined }
  const loader = new StateLoader(
    state,
    (_seq, time) => {
      if (time > toTime) throw new ReachedTime()
    },
    opts.onProgress,
  )
  if (fromSeq <= toSeq) {
    try {
      log = await loader.load(files, dir, fromSeq, toSeq)
    } catch (err) {
      if (!(err instanceof ReachedTime)) throw err
      stoppedAtTime = true
      log = { segments: [], lastSeq: loader.seq, problem: undefined }
    }
  }
  const seq = loader.events > 0 ? loader.seq : (checkpoint?.seq ?? 0)
  const time = loader.events > 0 ? loader.time : checkpoint?.time
  const replayed = loader.events
  return { state, seq, time, checkpoint, checkpointsSkipped: skipped, eventsReplayed: replayed, log, stoppedAtTime }
}
