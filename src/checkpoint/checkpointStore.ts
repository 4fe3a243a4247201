// Which checkpoints exist, which to keep, and which WAL segments are no longer needed.
import path from 'node:path'
import type { FileLayer } from '../io/fileLayer.js'
import { listSegments } from '../wal/logReader.js'
import { CHECKPOINT_SUFFIX, parseCheckpointName } from './format.js'

export interface CheckpointFile {
  name: string
  path: string
  seq: number
  size: number
}

/** Checkpoints in the directory, newest first. */
export function listCheckpoints(files: FileLayer, dir: string): CheckpointFile[] {
  const out: CheckpointFile[] = []
  for (const name of files.list(dir)) {
    const seq = parseCheckpointName(name)
    if (seq === undefined) continue
    const p = path.join(dir, name)
    out.push({ name, path: p, seq, size: files.size(p) })
  }
  return out.sort((a, b) => b.seq - a.seq)
}

/** Removes temp files left by a checkpoint that a crash interrupted. */
export function removeCheckpointLeftovers(files: FileLayer, dir: string): string[] {
  const removed: string[] = []
  for (const name of files.list(dir)) {
    if (name.endsWith(`${CHECKPOINT_SUFFIX}.tmp`)) {
      files.unlink(path.join(dir, name))
      removed.push(name)
    }
  }
  if (removed.length > 0) files.syncDir(dir)
  return removed
}

export interface PruneResult {
  checkpointsDeleted: string[]
  segmentsDeleted: string[]
}

/**
 * Keeps the newest `keep` checkpoints, then deletes WAL segments every record of which is
 * covered by the oldest kept checkpoint — unless history retention still wants them. The last
 * segment is never deleted: the writer appends to it. The deletions and the directory fsync run
 * off the event loop: dozens of segments unlinked in a row blocked it for 40–170 ms.
 */
export async function prune(
  files: FileLayer,
  dir: string,
  keep: number,
  retain: { segments: number; ms: number } = { segments: 0, ms: 0 },
): Promise<PruneResult> {
  const cps = listCheckpoints(files, dir)
  const checkpointsDeleted: string[] = []
  for (const cp of cps.slice(keep)) {
    await files.unlinkAsync(cp.path)
    checkpointsDeleted.push(cp.name)
  }
  const kept = cps.slice(0, keep)
  const segmentsDeleted: string[] = []
  if (kept.length > 0) {
    const covered = kept[kept.length - 1]!.seq
    const segs = listSegments(files, dir)
    const now = Date.now()
    // Segment i holds seqs [first_i, first_{i+1} - 1]; deletable when that range ends at or before `covered`.
    const deletable = segs.length - 1 - retain.segments
    for (let i = 0; i < deletable; i++) {
      const next = segs[i + 1]!
      if (next.firstSeq - 1 > covered) break
      if (retain.ms > 0 && now - files.mtimeMs(segs[i]!.path) < retain.ms) break
      await files.unlinkAsync(segs[i]!.path)
      segmentsDeleted.push(segs[i]!.name)
    }
  }
  if (checkpointsDeleted.length > 0 || segmentsDeleted.length > 0) await files.syncDirAsync(dir)
  return { checkpointsDeleted, segmentsDeleted }
}
