// `islab tail`: the last events of the log, and with -f the new ones as another process writes
// them. Following polls (fs.watch misses events on some file systems) with the log reader as
// change streams use it, which reads only the bytes appended since the last poll.
import { CorruptionError, HistoryGoneError } from '../../errors.js'
import type { WalEvent } from '../../events/types.js'
import { FollowWriter, LogReader, listSegments } from '../../wal/logReader.js'
import type { LogProblem } from '../../wal/logReader.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, UsageError, choice, flag, stringOption } from '../args.js'
import { files, requireDatabaseDir } from '../dbDir.js'
import { EventPrinter } from '../eventFormat.js'
import { fmtInt } from '../format.js'
import { describeProblem, readLogResilient } from '../logRead.js'
import { say, stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'tail',
  args: ['dir'],
  options: {
    lines: { type: 'string', short: 'n', value: '<count>', desc: 'how many of the last events to print first (default 10)' },
    follow: { type: 'boolean', short: 'f', desc: 'keep printing new events as they are written, until Ctrl-C' },
    prefix: { type: 'string', value: '<p>', desc: 'only keys starting with p' },
    format: { type: 'string', value: 'ndjson|table', desc: "output format, as in 'islab dump' (default ndjson)" },
    interval: { type: 'string', value: '<ms>', desc: 'with -f, how often to look for new events (default 150)' },
  },
  description: `
Prints the last events of the log in the format of 'islab dump'. With -f it then waits and
prints every new event as soon as its record is in the segment file, following the writer
into new segments. A record still being written is waited for, not reported as damage.
Read-only: made to run next to the application that writes.

With -f, events reach the file when the writer commits them: at once with durability 'sync',
within syncIntervalMs (default 100 ms) with 'buffered'.`,
  examples: ['islab tail ./data', 'islab tail -f ./data --prefix user: --format table', 'islab tail -n 0 -f ./data | jq -c .key'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  const count = positiveInt('--lines', stringOption(args, 'lines') ?? '10')
  const interval = positiveInt('--interval', stringOption(args, 'interval') ?? '150')
  const prefix = stringOption(args, 'prefix')
  const printer = new EventPrinter(stdout, choice(args, 'format', ['ndjson', 'table'] as const, 'ndjson'), { prefix, flat: false })
  requireDatabaseDir(dir)
  const matches = (ev: WalEvent): boolean => {
    if (prefix === undefined) return true
    if (ev.type === 'batch') return ev.ops.some((op) => op.key.startsWith(prefix))
    const key = (ev as { key?: unknown }).key
    return typeof key !== 'string' || key.startsWith(prefix) // events without a key are printed, as by dump
  }

  const { last, nextSeq, problem } = await lastEvents(dir, count, matches)
  for (const ev of last) printer.print(ev)
  stdout.flush()
  if (problem !== undefined) {
    say(`islab tail: the log is damaged at ${describeProblem(problem)}; the events before it are printed.`)
    if (!flag(args, 'follow')) return 1
    throw new CliError(`the log is damaged at ${describeProblem(problem)}`, 1, `Run 'islab verify ${dir}' for details.`)
  }
  if (!flag(args, 'follow')) return 0

  // Following is what a change stream does when it catches up: the same reader and policy,
  // which read only what was appended since the last call and wait for unfinished records.
  let next = nextSeq
  const follow = { exactStart: true, reporter: new FollowWriter(dir) }
  let cursor = new LogReader(files, dir, { fromSeq: next, ...follow })
  for (;;) {
    let got: WalEvent[]
    try {
      got = await cursor.take(FOLLOW_BATCH)
    } catch (err) {
      if (err instanceof HistoryGoneError) {
        say(`islab tail: seqs ${fmtInt(next)}–${fmtInt(err.oldestSeq - 1)} were deleted (after a checkpoint) before they could be read.`)
        next = err.oldestSeq
        cursor = new LogReader(files, dir, { fromSeq: next, ...follow })
        continue
      }
      if (err instanceof CorruptionError) throw new CliError(`the log is damaged: ${err.message}`, 1, `Run 'islab verify ${dir}' for details.`)
      throw err
    }
    for (const ev of got) printer.print(ev)
    if (got.length > 0) next = got[got.length - 1]!.seq + 1
    stdout.flush()
    if (got.length < FOLLOW_BATCH) await new Promise((resolve) => setTimeout(resolve, interval))
  }
}

const FOLLOW_BATCH = 10_000

function positiveInt(option: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} expects a whole number, not '${text}'`)
  return Number(text)
}

/** The last `count` matching events, reading segments backwards until enough are found; and where the log ends. */
async function lastEvents(
  dir: string,
  count: number,
  matches: (ev: WalEvent) => boolean,
): Promise<{ last: WalEvent[]; nextSeq: number; problem: LogProblem | undefined }> {
  const segs = listSegments(files, dir)
  let last: WalEvent[] = []
  let nextSeq = 1
  let problem: LogProblem | undefined
  let before = Infinity
  for (let i = segs.length - 1; i >= 0; i--) {
    const got: WalEvent[] = []
    const r = await readLogResilient(
      dir,
      (ev) => {
        if (!matches(ev)) return
        got.push(ev)
        if (got.length > 2 * count + 1024) got.splice(0, got.length - count)
      },
      { fromSeq: segs[i]!.firstSeq, toSeq: before - 1 },
    )
    if (i === segs.length - 1) {
      nextSeq = Math.max(r.lastSeq + 1, segs[i]!.firstSeq)
      // An unfinished last record is the writer at work: following waits for it.
      if (r.problem?.kind === 'corruption') problem = r.problem
    }
    last = got.slice(-count).concat(last).slice(-count)
    if (last.length >= count) break
    before = segs[i]!.firstSeq
  }
  return { last: count === 0 ? [] : last, nextSeq, problem }
}
