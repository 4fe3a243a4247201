// `islab put`: store one value, durably, through the normal write path.
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, flag, parseSeq, stringOption } from '../args.js'
import { ConflictError } from '../../errors.js'
import { openForWriting } from '../edit.js'
import { fmtInt } from '../format.js'
import { stdout } from '../output.js'
import { parseValueArgument } from '../value.js'

export const spec: CommandSpec = {
  name: 'put',
  args: ['dir', 'key', 'value'],
  options: {
    string: { type: 'boolean', desc: 'store <value> as a string, as typed (no JSON parsing)' },
    'if-seq': { type: 'string', value: '<seq>', desc: "write only if the key's current seq is this (0: only if absent)" },
  },
  description: `
Stores <value> under <key> and waits until it is on disk (durability 'sync'). The value is
JSON, with the tags of 'islab dump' for what JSON lacks ({"$bigint":"1"}, {"$date":"…"},
{"$bytes":"<base64>"}, …); '-' reads it from stdin. Opens the database, so it needs it closed
(exit 1 names the process that has it open).

Exit codes: 0 written, 1 locked or the --if-seq condition failed, 2 bad usage.`,
  examples: [
    'islab put ./data user:alice \'{"name":"Alice","plan":"pro"}\'',
    'islab put ./data greeting hello --string',
    'islab put ./data counter 5 --if-seq 41',
    'cat value.json | islab put ./data config -',
  ],
}

export async function run(args: ParsedArgs): Promise<number> {
  const [dir, key, text] = args.positionals as [string, string, string]
  const value = parseValueArgument(text, flag(args, 'string'))
  const ifSeqText = stringOption(args, 'if-seq')
  const ifSeq = ifSeqText === undefined ? undefined : parseSeq('--if-seq', ifSeqText)
  const db = await openForWriting(dir, 'put', { durability: 'sync' })
  try {
    const { seq } = await db.put(key, value, ifSeq === undefined ? undefined : { ifSeq })
    stdout.line(`put ${JSON.stringify(key)} at seq ${fmtInt(seq)}`)
  } catch (err) {
    // The API's message points at getEntry(); on the command line the seq comes from get --entry.
    if (err instanceof ConflictError) {
      throw new CliError(`${JSON.stringify(key)} is at seq ${err.actualSeq}, not ${err.expectedSeq} as --if-seq required: nothing written; see its seq with islab get ${dir} ${JSON.stringify(key)} --entry and retry with it`, 1)
    }
    throw err
  } finally {
    await db.close()
  }
  return 0
}
