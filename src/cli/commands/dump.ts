// `islab dump`: the events of the log, as JSON lines or a table, optionally a range and a key prefix.
import { listSegments } from '../../wal/logReader.js'
import type { LogProblem } from '../../wal/logReader.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { choice, flag, parseSeqOrTime, stringOption } from '../args.js'
import { files, requireDatabaseDir, writerPid } from '../dbDir.js'
import { EventPrinter } from '../eventFormat.js'
import { fmtInt } from '../format.js'
import { ReadProgress, describeProblem, readLogResilient } from '../logRead.js'
import type { ResilientRead } from '../logRead.js'
import { say, stdout } from '../output.js'
import { dumpParallel, dumpWorkers } from '../parallelDump.js'
import { Progress } from '../progress.js'
import { RecordPrinter } from '../recordPrinter.js'

export const spec: CommandSpec = {
  name: 'dump',
  args: ['dir'],
  options: {
    from: { type: 'string', value: '<seq|time>', desc: 'start at this seq, or at the first event stamped at or after this time' },
    to: { type: 'string', value: '<seq|time>', desc: 'stop after this seq, or before the first event stamped later than this time' },
    prefix: { type: 'string', value: '<p>', desc: 'only keys starting with p (a batch keeps its matching ops)' },
    format: { type: 'string', value: 'ndjson|table', desc: 'JSON lines for programs (default) or a table for people' },
    flat: { type: 'boolean', desc: 'print each op of a batch as its own line' },
  },
  description: `
Prints the events of the write-ahead log in seq order, one JSON object per line:
  {"seq":7,"time":1764162000000,"iso":"2025-11-26T13:00:00.000Z","type":"put","key":"k","value":{"n":1}}
  {"seq":8,"time":...,"iso":"...","type":"del","key":"k"}
  {"seq":9,"time":...,"iso":"...","type":"batch","ops":[{"type":"put","key":"a","value":1},{"type":"del","key":"b"}]}
Values that JSON lacks are tagged reversibly: {"$bigint":"12"}, {"$date":"2025-…Z"},
{"$bytes":"<base64>"}, {"$map":[[k,v],…]}, {"$set":[…]} (docs/cli.md lists them all).

Only the retained log is printed: events covered by a checkpoint whose segments were deleted
are gone from the log (use \`islab replay\` for the state as of any retained point). Read-only:
works while another process has the database open. Exit code 1 if the log is damaged (the
events before the damage are printed), 0 otherwise.`,
  examples: [
    'islab dump ./data | jq -c \'select(.type == "put") | .key\'',
    'islab dump ./data --from 1000 --to 2000 --prefix user:',
    'islab dump ./data --to 2026-11-26T12:00:00Z --format table',
    'islab dump ./data > events.ndjson        # a progress bar shows on the terminal',
  ],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  const fromArg = stringOption(args, 'from')
  const toArg = stringOption(args, 'to')
  const from = fromArg === undefined ? undefined : parseSeqOrTime('--from', fromArg)
  const to = toArg === undefined ? undefined : parseSeqOrTime('--to', toArg)
  const format = choice(args, 'format', ['ndjson', 'table'] as const, 'ndjson')
  requireDatabaseDir(dir)

  const prefix = stringOption(args, 'prefix')
  const printer = new EventPrinter(stdout, format, { prefix, flat: flag(args, 'flat') })
  const segments = listSegments(files, dir)
  // The bar's total: the segments the range touches (the one holding --from and on, up to --to).
  const touched = segments.filter((s, i) => (to?.seq === undefined || s.firstSeq <= to.seq) && (from?.seq === undefined || (segments[i + 1]?.firstSeq ?? Infinity) > from.seq))
  const bar = Progress.start({ label: 'dump', totalBytes: touched.reduce((n, s) => n + s.size, 0), itemName: 'events' })
  const progress = new ReadProgress(bar, touched)
  const fromTime = from?.time
  const toTime = to?.time
  const read = async (afterSeq: number, opts: Parameters<typeof readLogResilient>[2]): Promise<ResilientRead> => {
    const records = new RecordPrinter(printer, stdout, { fromTime, toTime, afterSeq }, progress)
    const r = await readLogResilient(dir, records.visit, { ...opts, sink: records })
    records.finish(r.lastSeq)
    return r
  }
  let result: { lastSeq: number; problem: LogProblem | undefined; vanished: ResilientRead['vanished'] }
  // Tables are for a few screens of events; long NDJSON dumps use every core.
  const workers = format === 'ndjson' ? dumpWorkers(segments) : 0
  if (workers > 0) {
    const settings = { dir, format, prefix, flat: flag(args, 'flat'), fromTime, toTime }
    const r = await dumpParallel(settings, segments, { fromSeq: from?.seq, toSeq: to?.seq }, stdout, bar, workers)
    if (r.finished) result = { ...r, vanished: undefined }
    // Something only a sequential read can judge (or a segment deleted meanwhile): go on with one.
    else result = await read(r.printedUpTo, { fromSeq: r.fromSeq, toSeq: to?.seq })
  } else {
    result = await read(0, { fromSeq: from?.seq, toSeq: to?.seq, onSegment: progress.onSegment })
  }
  stdout.flush()
  bar.finish(`dump: read the log up to seq ${fmtInt(result.lastSeq)}`)

  const first = segments[0]
  if (from?.seq !== undefined && first !== undefined && first.firstSeq > from.seq) {
    say(`note: the log starts at seq ${fmtInt(first.firstSeq)}; earlier events were deleted after checkpoints covered them.`)
  }
  if (result.vanished !== undefined) {
    say(
      `note: seqs ${fmtInt(result.vanished.fromSeq)}–${fmtInt(result.vanished.toSeq)} were deleted by the database's ` +
        'checkpoint while dump was reading them, and are not printed.',
    )
  }
  const problem = result.problem
  if (problem?.kind === 'corruption') {
    say(`islab dump: the log is damaged at ${describeProblem(problem)}; nothing after seq ${fmtInt(result.lastSeq)} was printed.`)
    say(`Run 'islab verify ${dir}' for every problem, and 'islab repair ${dir}' to keep the valid part.`)
    return 1
  }
  if (problem?.kind === 'torn-tail' && writerPid(dir) === undefined) {
    say(
      `note: the last record of ${problem.file} is incomplete (${fmtInt(problem.bytes)} bytes of an interrupted write at byte ` +
        `${fmtInt(problem.offset)}); the next open of the database cuts it off.`,
    )
  }
  return 0
}
