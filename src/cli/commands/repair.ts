// `islab repair`: open()'s point-in-time recovery, run on purpose, plus moving damaged
// checkpoints aside; reports exactly what was cut, moved and lost. --dry-run runs the very
// same code over a copy-on-write file layer, so it shows what would happen without doing it.
import path from 'node:path'
import { CheckpointDamage, readCheckpoint } from '../../checkpoint/checkpointReader.js'
import { listCheckpoints } from '../../checkpoint/checkpointStore.js'
import { CorruptionError } from '../../errors.js'
import type { FileLayer } from '../../io/fileLayer.js'
import { OverlayFileLayer } from '../../io/overlayFileLayer.js'
import type { RecoveryReport } from '../../recovery/recover.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, flag } from '../args.js'
import { files, lockedError, requireDatabaseDir, writerPid } from '../dbDir.js'
import { openForWriting } from '../edit.js'
import { fmtInt, plural } from '../format.js'
import { stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'repair',
  args: ['dir'],
  options: {
    'dry-run': { type: 'boolean', desc: 'show what a repair would do, change nothing' },
    json: { type: 'boolean', desc: "print the recovery report as JSON (stats().recovery, plus the checkpoints moved aside)" },
  },
  description: `
Opens the database with point-in-time recovery, which:
  - cuts off an interrupted write at the end of the log (a torn tail);
  - at damage anywhere else, keeps the longest valid prefix of the log: the damaged segment
    and every later one are renamed to <name>.damaged (never deleted), the valid part of the
    damaged segment is written back under its name, and the seqs given up are reported;
  - skips damaged checkpoints; repair then checks every checkpoint and renames the damaged
    ones to <name>.damaged too.
It prints exactly what was cut, moved aside and lost. New writes continue after the last
valid seq (reusing the seqs that were lost).

Refuses to run while another process has the database open (exit 1). --dry-run runs the
same recovery over an in-memory copy-on-write view of the directory: it prints the same
report and changes nothing (no lock needed).`,
  examples: ['islab repair ./data --dry-run', 'islab repair ./data', 'islab verify ./data || islab repair ./data'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  const dryRun = flag(args, 'dry-run')
  requireDatabaseDir(dir)
  const pid = writerPid(dir)
  if (pid !== undefined) throw lockedError(dir, 'repair', pid)

  const layer: FileLayer = dryRun ? new OverlayFileLayer(files) : files
  const before = new Set(layer.list(dir))
  let db: Awaited<ReturnType<typeof openForWriting>>
  try {
    db = await openForWriting(dir, 'repair', { fileLayer: layer, recovery: 'point-in-time', durability: 'sync' })
  } catch (err) {
    if (!(err instanceof CorruptionError)) throw err
    throw new CliError(`cannot repair ${dir}: ${err.message}`, 1)
  }
  const report = db.stats().recovery!
  const lastSeq = db.seq
  const keys = db.size
  // Recovery skips damaged checkpoints newer than the one it loads, at every open, and would
  // fall back on older damaged ones; moving every damaged one aside ends that, keeping the bytes.
  const checkpointsMoved: MovedCheckpoint[] = []
  try {
    for (const cp of listCheckpoints(layer, dir)) {
      if (cp.name === report.checkpointFile) continue
      try {
        readCheckpoint(layer, cp.path, () => undefined, undefined, cp.seq)
        continue
      } catch (err) {
        if (!(err instanceof CheckpointDamage)) throw err
        let to = `${cp.path}.damaged`
        for (let n = 2; layer.exists(to); n++) to = `${cp.path}.damaged.${n}`
        layer.rename(cp.path, to)
        checkpointsMoved.push({ file: cp.name, to: path.basename(to), offset: err.offset, reason: err.reason })
      }
    }
    if (checkpointsMoved.length > 0) layer.syncDir(dir)
  } finally {
    await db.close()
  }
  const leftovers = [...before].filter((n) => n.endsWith('.ckpt.tmp') && !layer.exists(path.join(dir, n)))

  if (flag(args, 'json')) {
    stdout.line(JSON.stringify({ dir, dryRun, recovery: report, checkpointsMovedAside: checkpointsMoved, leftoversRemoved: leftovers, lastSeq, keys }))
    return 0
  }
  const lines = describe(report, checkpointsMoved, leftovers, dryRun)
  if (lines.length === 0) {
    stdout.line(`Nothing to repair in ${dir}: the log and the checkpoints recovery uses are intact (last seq ${fmtInt(lastSeq)}, ${plural(keys, 'key')}).`)
    return 0
  }
  stdout.line(dryRun ? `Dry run, nothing was changed. Repairing ${dir} would:` : `Repaired ${dir}:`)
  for (const l of lines) stdout.line(`  - ${l}`)
  stdout.line(
    `${dryRun ? 'The database would then end' : 'The database now ends'} at seq ${fmtInt(lastSeq)} with ${plural(keys, 'key')}; ` +
      `new writes continue at seq ${fmtInt(lastSeq + 1)}.`,
  )
  if (dryRun) stdout.line(`Run 'islab repair ${dir}' to do it.`)
  return 0
}

interface MovedCheckpoint {
  file: string
  to: string
  offset: number
  reason: string
}

function describe(r: RecoveryReport, checkpointsMoved: MovedCheckpoint[], leftovers: string[], dry: boolean): string[] {
  const v = (past: string, base: string): string => (dry ? base : past)
  const out: string[] = []
  if (r.tornAt !== undefined) {
    out.push(
      `${v('cut', 'cut')} ${plural(r.tornBytesTruncated, 'byte')} of an interrupted write from the end of ${r.tornAt.file} ` +
        `(at byte ${fmtInt(r.tornAt.offset)}: ${r.tornAt.reason}); no complete record ${v('was', 'is')} lost`,
    )
  }
  if (r.lost !== undefined) {
    const { fromSeq, toSeq, movedAside, reason } = r.lost
    const renamed = movedAside.map((n) => n.replace(/\.damaged(\.\d+)?$/, ''))
    out.push(`${v('kept', 'keep')} the log up to seq ${fmtInt(fromSeq - 1)}: it is damaged at ${reason}`)
    out.push(
      `${v('renamed', 'rename')} ${renamed.join(', ')} to ${movedAside.join(', ')} (kept on disk, never read again); ` +
        `the valid part of the damaged segment ${v('was', 'is')} written back under its name`,
    )
    // Events the checkpoint recovery loaded already holds are not lost, only their log records.
    const firstLost = Math.max(fromSeq, r.checkpointSeq + 1)
    if (r.checkpointSeq >= fromSeq) {
      out.push(`seqs ${fmtInt(fromSeq)}–${fmtInt(r.checkpointSeq)} are in checkpoint ${r.checkpointFile ?? ''}: their effect on the state is kept`)
    }
    if (toSeq === undefined) {
      out.push(`${v('lost', 'lose')} the events from seq ${fmtInt(firstLost)} on, if any: no checksum-valid record was found after the damage`)
    } else if (toSeq >= firstLost) {
      out.push(`${v('lost', 'lose')} seqs ${fmtInt(firstLost)}–${fmtInt(toSeq)} (${plural(toSeq - firstLost + 1, 'event')}; the highest seq found in the files moved aside)`)
    } else {
      out.push(`no event is lost: the checkpoint holds all of them`)
    }
  }
  for (const c of checkpointsMoved) {
    out.push(`${v('renamed', 'rename')} the damaged checkpoint ${c.file} (byte ${fmtInt(c.offset)}: ${c.reason}) to ${c.to}`)
  }
  if (leftovers.length > 0) out.push(`${v('deleted', 'delete')} ${leftovers.join(', ')} (left by a checkpoint that a crash interrupted)`)
  return out
}
