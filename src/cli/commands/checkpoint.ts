// `islab checkpoint`: a checkpoint of the current state, then the usual pruning.
import path from 'node:path'
import { prune } from '../../checkpoint/checkpointStore.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { stringOption } from '../args.js'
import { files } from '../dbDir.js'
import { checkpointRecovered, keepOption, withRecoveredDir } from '../exclusive.js'
import { fmtBytes, fmtInt, plural } from '../format.js'
import { stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'checkpoint',
  args: ['dir'],
  options: {
    keep: { type: 'string', value: '<n>', desc: 'checkpoints to keep, as open({ checkpoint: { keep } }) (default 3)' },
  },
  description: `
Writes a checkpoint of the current state (the same file db.checkpoint() writes), keeps the
newest --keep checkpoints, and deletes the WAL segments that all kept checkpoints cover.
Extension data of the newest checkpoint is carried into the new one.

Takes the directory lock like open(): the database must not be open elsewhere (exit 1 says
which process has it). Runs open()'s recovery first, so a torn tail is cut off as at open,
and a damaged log is refused (run 'islab repair' first).`,
  examples: ['islab checkpoint ./data', 'islab checkpoint ./data --keep 1'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  const keep = keepOption(stringOption(args, 'keep'))
  return withRecoveredDir(dir, 'checkpoint', async (r) => {
    const written = await checkpointRecovered(dir, r)
    const pruned = await prune(files, dir, keep)
    if (written === undefined) stdout.line(`The newest checkpoint is already at the last seq (${fmtInt(r.report.lastSeq)}); nothing to write.`)
    else {
      stdout.line(
        `Wrote ${path.basename(written.file)}: seq ${fmtInt(written.seq)}, ${plural(written.entries, 'key')}, ${fmtBytes(written.bytes)} ` +
          `in ${written.timeMs.toFixed(0)} ms.`,
      )
    }
    if (pruned.checkpointsDeleted.length > 0) stdout.line(`Deleted older checkpoints: ${pruned.checkpointsDeleted.join(', ')}.`)
    if (pruned.segmentsDeleted.length > 0) stdout.line(`Deleted WAL segments the kept checkpoints cover: ${pruned.segmentsDeleted.join(', ')}.`)
    return 0
  })
}
