// Replaces a directory's whole database (its log, checkpoints and MANIFEST) with one checkpoint
// file already in the directory under a temporary name: a replica whose stream no longer holds
// the seqs after its own goes on from a newer snapshot, in place.
//
// Each step leaves a directory that opens, so a crash anywhere leaves the old database or the
// new one, never a damaged one: the checkpoint is renamed into place first (from then on it is
// the newest, and recovery starts a new segment after it, as the old log ends before it); the
// MANIFEST is rewritten to name only it; the old segments and checkpoints, named nowhere now and
// all older, are deleted last, as a prune's leftovers would be.
import path from 'node:path'
import type { FileLayer } from '../io/fileLayer.js'
import { readManifest, writeManifest } from '../wal/manifest.js'
import { parseSegmentName } from '../wal/format.js'
import { checkpointName, parseCheckpointName } from './format.js'

export function replaceWithCheckpoint(files: FileLayer, dir: string, tmpFile: string, seq: number): void {
  const target = checkpointName(seq)
  files.rename(tmpFile, path.join(dir, target))
  files.syncDir(dir)
  const m = readManifest(files, dir)
  if (m !== undefined) writeManifest(files, dir, { seq: Math.max(m.seq, seq), segments: [], checkpoints: [seq], rewrites: [] })
  for (const n of files.list(dir)) {
    if (n === target) continue
    const segment = parseSegmentName(n.replace(/\.rewrite$/, ''))
    const checkpoint = parseCheckpointName(n.replace(/\.tmp$/, ''))
    if ((segment !== undefined && segment <= seq) || (checkpoint !== undefined && checkpoint < seq)) files.unlink(path.join(dir, n))
  }
  files.syncDir(dir)
}
