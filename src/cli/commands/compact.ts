// `islab compact`: checkpoint, then drop from the WAL everything the kept checkpoints cover,
// including the covered start of the segment that straddles the oldest kept checkpoint.
import path from 'node:path'
import { CheckpointDamage, readCheckpoint } from '../../checkpoint/checkpointReader.js'
import { deleteCoveredSegments, listCheckpoints, prune } from '../../checkpoint/checkpointStore.js'
import { LogReader, listSegments } from '../../wal/logReader.js'
import { RewriteRefused, dropCoveredPrefix } from '../../wal/rewrite.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, stringOption } from '../args.js'
import { files } from '../dbDir.js'
import { checkpointRecovered, keepOption, withRecoveredDir } from '../exclusive.js'
import { fmtBytes, fmtInt, plural } from '../format.js'
import { stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'compact',
  args: ['dir'],
  options: {
    keep: { type: 'string', value: '<n>', desc: 'checkpoints to keep (default 3; 1 drops the whole WAL)' },
  },
  description: `
Makes the directory as small as the kept checkpoints allow: writes a checkpoint of the current
state, keeps the newest --keep checkpoints (after verifying them in full), deletes every WAL
segment they all cover, and rewrites the segment that straddles the oldest kept checkpoint so
that it starts right after it. With --keep 1 the WAL is empty afterwards: the database is one
checkpoint file (and no older checkpoint to fall back on if that file is ever damaged).

Every rewrite is crash-safe: it is written in full and fsynced before anything is removed,
and the next compact (or checkpoint, convert) finishes one that a crash interrupted.
Takes the directory lock like open(); runs open()'s recovery first.`,
  examples: ['islab compact ./data', 'islab compact ./data --keep 1'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  const keep = keepOption(stringOption(args, 'keep'))
  return withRecoveredDir(dir, 'compact', async (r) => {
    const before = walBytes(dir)
    const written = await checkpointRecovered(dir, r)
    if (written !== undefined) stdout.line(`Wrote ${path.basename(written.file)} (seq ${fmtInt(written.seq)}, ${plural(written.entries, 'key')}).`)
    // The WAL about to go is only safe to drop if the checkpoints that replace it are readable.
    const kept = listCheckpoints(files, dir).slice(0, keep)
    for (const cp of kept) {
      try {
        readCheckpoint(files, cp.path, () => undefined, undefined, cp.seq)
      } catch (err) {
        if (!(err instanceof CheckpointDamage)) throw err
        throw new CliError(
          `checkpoint ${cp.name} is damaged (byte ${err.offset}: ${err.reason}); compacting would drop the WAL it is meant to replace`,
          1,
          `Run 'islab repair ${dir}' (it moves damaged checkpoints aside), then compact again.`,
        )
      }
    }
    const pruned = await prune(files, dir, keep)
    const covered = kept.at(-1)!.seq
    const deleted = [...pruned.segmentsDeleted]
    let rewritten: Awaited<ReturnType<typeof dropCoveredPrefix>> | undefined
    // prune never deletes the last segment (a writer appends to it); nobody writes now. A
    // segment's last seq comes from the next one's name, as prune has it; the last segment is
    // walked as recovery walks it (covered records by length), since nothing names its end.
    const segs = listSegments(files, dir)
    const toDelete: typeof segs = []
    for (const [i, seg] of segs.entries()) {
      const next = segs[i + 1]
      let lastSeq: number
      if (next !== undefined) lastSeq = next.firstSeq - 1
      else {
        const reader = new LogReader(files, dir, { file: seg, fromSeq: covered + 1 })
        await reader.read(() => undefined)
        lastSeq = reader.problem !== undefined ? Infinity : reader.lastSeq
      }
      if (lastSeq <= covered) {
        toDelete.push(seg)
        deleted.push(seg.name)
        continue
      }
      // The MANIFEST stops naming them before they go, and before the rewrite below.
      deleteCoveredSegments(files, dir, toDelete)
      toDelete.length = 0
      if (seg.firstSeq <= covered) {
        try {
          rewritten = await dropCoveredPrefix(files, dir, seg, covered)
        } catch (err) {
          if (err instanceof RewriteRefused) throw new CliError(err.message, 1, `Run 'islab verify ${dir}'.`)
          throw err
        }
      }
      break
    }
    deleteCoveredSegments(files, dir, toDelete)
    if (pruned.checkpointsDeleted.length > 0) stdout.line(`Deleted older checkpoints: ${pruned.checkpointsDeleted.join(', ')}.`)
    if (deleted.length > 0) stdout.line(`Deleted ${plural(deleted.length, 'WAL segment')} covered by checkpoint seq ${fmtInt(covered)}: ${deleted.join(', ')}.`)
    if (rewritten !== undefined) {
      stdout.line(
        `Rewrote ${rewritten.from} as ${rewritten.to}: dropped ${plural(rewritten.recordsDropped, 'covered record')}, ` +
          `kept ${fmtInt(rewritten.recordsKept)} (${fmtBytes(rewritten.bytesBefore)} → ${fmtBytes(rewritten.bytesAfter)}).`,
      )
    }
    stdout.line(`WAL: ${fmtBytes(before)} → ${fmtBytes(walBytes(dir))}; ${plural(kept.length, 'checkpoint')} kept, the oldest at seq ${fmtInt(covered)}.`)
    return 0
  })
}

function walBytes(dir: string): number {
  return listSegments(files, dir).reduce((n, s) => n + s.size, 0)
}
