// `islab del`: delete one key, durably, through the normal write path.
import type { CommandSpec, ParsedArgs } from '../args.js'
import { parseSeq, stringOption } from '../args.js'
import { openForWriting } from '../edit.js'
import { fmtInt } from '../format.js'
import { stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'del',
  args: ['dir', 'key'],
  options: {
    'if-seq': { type: 'string', value: '<seq>', desc: "delete only if the key's current seq is this" },
  },
  description: `
Deletes <key> and waits until the delete is on disk (durability 'sync'). A delete is logged
even when the key does not exist (the output says so). Opens the database, so it needs it
closed (exit 1 names the process that has it open).`,
  examples: ['islab del ./data user:alice', 'islab del ./data user:alice --if-seq 17'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const [dir, key] = args.positionals as [string, string]
  const ifSeqText = stringOption(args, 'if-seq')
  const ifSeq = ifSeqText === undefined ? undefined : parseSeq('--if-seq', ifSeqText)
  const db = await openForWriting(dir, 'del', { durability: 'sync' })
  try {
    const existed = db.has(key)
    const { seq } = await db.delete(key, ifSeq === undefined ? undefined : { ifSeq })
    stdout.line(`deleted ${JSON.stringify(key)} at seq ${fmtInt(seq)}${existed ? '' : ' (it did not exist)'}`)
  } finally {
    await db.close()
  }
  return 0
}
