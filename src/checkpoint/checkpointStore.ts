// Which checkpoints exist, which to keep, and which WAL segments are no longer needed.
import path from 'node:path'
import type { FileLayer } from '../io/fileLayer.js'
import { listSegments } from '../wal/logReader.js'
import type { SegmentFile } from '../wal/logReader.js'
import { removeSegments, updateManifest } from '../wal/manifest.js'
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
 * covered by the oldest kept checkpoint — unless history retention still wants them, or they
 * hold `retain.fromSeq` or later. The last
 * segment is never deleted: the writer appends to it. The MANIFEST is updated first (it names
 * the checkpoints kept, the new one included, and drops what goes), then the files are deleted:
 * a crash in between leaves files it no longer names, which recovery deletes. The deletions and
 * the directory fsync run off the event loop: dozens of segments unlinked in a row blocked it
 * for 40–170 ms.
 */
export async function prune(
  files: FileLayer,
  dir: string,
  keep: number,
  retain: { segments: number; ms: number; fromSeq?: number } = { segments: 0, ms: 0 },
): Promise<PruneResult> {
  const cps = listCheckpoints(files, dir)
  const gone = cps.slice(keep)
  const kept = cps.slice(0, keep)
  const segs: SegmentFile[] = []
  if (kept.length > 0) {
    const covered = kept[kept.length - 1]!.seq
    const all = listSegments(files, dir)
    const now = Date.now()
    // Segment i holds seqs [first_i, first_{i+1} - 1]; deletable when that range ends at or before `covered`.
    const deletable = all.length - 1 - retain.segments
    for (let i = 0; i < deletable; i++) {
      const next = all[i + 1]!
      if (next.firstSeq - 1 > covered) break
      // A reader still needs the log from `fromSeq` on (replication not yet caught up).
      if (retain.fromSeq !== undefined && next.firstSeq - 1 >= retain.fromSeq) break
      if (retain.ms > 0 && now - files.mtimeMs(all[i]!.path) < retain.ms) break
      segs.push(all[i]!)
    }
  }
  updateManifest(files, dir, (m) => {
    m.checkpoints = kept.map((c) => c.seq)
    // The newest checkpoint is durable, so its seq always comes back at recovery.
    if (kept.length > 0) m.seq = Math.max(m.seq, kept[0]!.seq)
    removeSegments(m, segs.map((s) => s.firstSeq))
  })
  for (const cp of gone) await files.unlinkAsync(cp.path)
  for (const s of segs) await files.unlinkAsync(s.path)
  if (gone.length > 0 || segs.length > 0) await files.syncDirAsync(dir)
  return { checkpointsDeleted: gone.map((c) => c.name), segmentsDeleted: segs.map((s) => s.name) }
}

/**
 * Deletes WAL segments a checkpoint covers (`islab compact`), MANIFEST first, as prune does.
 */
export function deleteCoveredSegments(files: FileLayer, dir: string, segs: SegmentFile[]): void {
  if (segs.length === 0) return
  updateManifest(files, dir, (m) => removeSegments(m, segs.map((s) => s.firstSeq)))
  for (const s of segs) files.unlink(s.path)
  files.syncDir(dir)
}
