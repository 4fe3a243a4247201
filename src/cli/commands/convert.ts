// `islab convert`: rewrite every WAL segment in one entry format (binary or JSON).
import { listSegments } from '../../wal/logReader.js'
import { RewriteRefused, convertSegment } from '../../wal/rewrite.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, UsageError, stringOption } from '../args.js'
import { files } from '../dbDir.js'
import { withRecoveredDir } from '../exclusive.js'
import { fmtBytes, plural } from '../format.js'
import { stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'convert',
  args: ['dir'],
  options: {
    format: { type: 'string', value: 'json|binary', desc: 'the entry format to rewrite the segments in (required)' },
    'compress-threshold': { type: 'string', value: '<bytes>', desc: 'binary: LZ4-compress values longer than this (default 1024, as open())' },
  },
  description: `
Rewrites every WAL segment that is not in --format into it: the same events with the same
seqs, times, keys and values, in JSON lines (readable with jq and grep) or binary records
(smaller, faster). Each segment is written to a temporary file, fsynced and renamed over the
original, so a crash leaves either the old or the new segment, both valid.

New segments follow the walFormat the application opens the database with: set it there too
(open({ walFormat: 'json' })), or the next segment it starts is in its own format again (a log
may mix both). Takes the directory lock like open(); runs open()'s recovery first.`,
  examples: ['islab convert ./data --format json && grep -h user:alice ./data/*.wal', 'islab convert ./data --format binary'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  const format = stringOption(args, 'format')
  if (format !== 'json' && format !== 'binary') throw new UsageError(`--format must be 'json' or 'binary'${format === undefined ? '' : `, not '${format}'`}`)
  const thresholdText = stringOption(args, 'compress-threshold') ?? '1024'
  if (!/^\d+$/.test(thresholdText)) throw new UsageError(`--compress-threshold expects a number of bytes, not '${thresholdText}'`)
  return withRecoveredDir(dir, 'convert', async () => {
    let converted = 0
    let before = 0
    let after = 0
    for (const seg of listSegments(files, dir)) {
      let c: Awaited<ReturnType<typeof convertSegment>>
      try {
        c = await convertSegment(files, dir, seg, format, Number(thresholdText))
      } catch (err) {
        if (err instanceof RewriteRefused) throw new CliError(err.message, 1, `Run 'islab verify ${dir}'.`)
        throw err
      }
      if (c === undefined) continue
      converted++
      before += c.bytesBefore
      after += c.bytesAfter
      stdout.line(`${c.name}: ${c.from} → ${format}, ${plural(c.records, 'record')}, ${fmtBytes(c.bytesBefore)} → ${fmtBytes(c.bytesAfter)}`)
    }
    const total = listSegments(files, dir).length
    if (total === 0) stdout.line('There are no WAL segments to convert.')
    else if (converted === 0) stdout.line(`Every segment is already in the ${format} format.`)
    else stdout.line(`Converted ${plural(converted, 'segment')} to ${format}: ${fmtBytes(before)} → ${fmtBytes(after)}.`)
    return 0
  })
}
