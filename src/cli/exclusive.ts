// For the commands that rewrite files (checkpoint, compact, convert): take the directory lock
// exactly as open() does, settle what an interrupted rewrite left, and run the same recovery
// as open() (which cuts a torn tail and refuses a damaged log). Extension data (state that is
// not in the log) comes back with it, so a checkpoint written here carries it on.
import { takeSnapshot, writeCheckpoint } from '../checkpoint/checkpointWriter.js'
import type { CheckpointWritten } from '../checkpoint/checkpointWriter.js'
import { CorruptionError } from '../errors.js'
import { recover } from '../recovery/recover.js'
import type { Recovered } from '../recovery/recover.js'
import { finishInterruptedRewrites } from '../wal/rewrite.js'
import type { SettledRewrite } from '../wal/rewrite.js'
import { CliError } from './args.js'
import { files, lockForWriting, requireDatabaseDir } from './dbDir.js'
import { fmtInt, plural } from './format.js'
import { say } from './output.js'
import { Progress } from './progress.js'

export async function withRecoveredDir<T>(
  dir: string,
  command: string,
  work: (recovered: Recovered, settled: SettledRewrite[]) => Promise<T>,
): Promise<T> {
  requireDatabaseDir(dir)
  const lock = lockForWriting(dir, command)
  try {
    const settled = await finishInterruptedRewrites(files, dir)
    for (const s of settled) say(`Settled ${s.file} left by an interrupted rewrite (${s.action}).`)
    const bar = Progress.start({ label: 'recovering', totalBytes: undefined, itemName: 'events' })
    let recovered: Recovered
    try {
      recovered = await recover(files, dir, { mode: 'strict', onProgress: (p) => bar.update(p.bytes, p.items) })
    } catch (err) {
      if (err instanceof CorruptionError) {
        throw new CliError(err.message, 1, `'islab repair ${dir}' keeps the valid part of the log; then run 'islab ${command}' again.`)
      }
      throw err
    } finally {
      bar.finish()
    }
    const torn = recovered.report.tornAt
    if (torn !== undefined) {
      say(`Recovery cut ${plural(recovered.report.tornBytesTruncated, 'byte')} of an interrupted write from ${torn.file} (at byte ${fmtInt(torn.offset)}).`)
    }
    return await work(recovered, settled)
  } finally {
    lock.release()
  }
}

/** Writes a checkpoint of the recovered state, unless a valid one at its seq is already the newest. */
export async function checkpointRecovered(dir: string, r: Recovered): Promise<CheckpointWritten | undefined> {
  const seq = r.report.lastSeq
  if (r.report.checkpointFile !== undefined && r.report.checkpointSeq === seq) return undefined
  const extensions = Array.from(r.extensions, ([name, data]) => ({ name, data }))
  return writeCheckpoint(files, dir, takeSnapshot(r.state, seq, extensions))
}

export function keepOption(text: string | undefined): number {
  if (text === undefined) return 3
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new CliError(`--keep expects a whole number ≥ 1, not '${text}'`, 2)
  return Number(text)
}
