// `islab get`: one key's current value, read from the files (no lock).
import { HistoryGoneError } from '../../errors.js'
import { writeTaggedJson } from '../../events/taggedJsonWriter.js'
import { materialize } from '../../recovery/materialize.js'
import { GrowBuffer } from '../../wal/recordCodec.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, flag } from '../args.js'
import { files, requireDatabaseDir, retryIfVanished } from '../dbDir.js'
import { fmtInt, fmtTime } from '../format.js'
import { stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'get',
  args: ['dir', 'key'],
  options: {
    entry: { type: 'boolean', desc: 'print {"key","value","seq","time","iso"} instead of the value alone' },
  },
  description: `
Prints the current value of <key> as one line of tagged JSON (the encoding of 'islab dump':
bigints, Dates, Buffers, Maps and Sets are tagged so that nothing is lost). The state is
rebuilt from the files, as open() would, without taking the lock: it works while an
application has the database open and shows what is on disk.

Exit codes: 0 found, 1 no such key, 2 could not run.`,
  examples: ['islab get ./data user:alice', "islab get ./data user:alice | jq .plan", 'islab get ./data user:alice --entry'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const [dir, key] = args.positionals as [string, string]
  requireDatabaseDir(dir)
  let m: Awaited<ReturnType<typeof materialize>>
  try {
    m = await retryIfVanished(() => materialize(files, dir))
  } catch (err) {
    if (!(err instanceof HistoryGoneError)) throw err
    throw new CliError(
      `the state cannot be rebuilt: the log starts at seq ${err.oldestSeq} and no valid checkpoint covers the seqs before it`,
      1,
      `Run 'islab verify ${dir}' for details.`,
    )
  }
  const e = m.state.get(key)
  if (e === undefined) throw new CliError(`no key ${JSON.stringify(key)} (last seq ${fmtInt(m.seq)})`, 1)
  const out = new GrowBuffer(256)
  writeTaggedJson(out, e.bytes)
  const value = out.view().toString('utf8')
  if (flag(args, 'entry')) stdout.line(`{"key":${JSON.stringify(key)},"value":${value},"seq":${e.seq},"time":${e.time},"iso":"${fmtTime(e.time)}"}`)
  else stdout.line(value)
  return 0
}
