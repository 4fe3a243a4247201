// `islab replay`: the state as of a seq or a time, into a new database directory (as one
// checkpoint) or an NDJSON export. The source directory is only read.
import fs from 'node:fs'
import path from 'node:path'
import { takeSnapshot, writeCheckpoint } from '../../checkpoint/checkpointWriter.js'
import { HistoryGoneError } from '../../errors.js'
import { writeJsonString, writeTaggedJson } from '../../events/taggedJsonWriter.js'
import { materialize } from '../../recovery/materialize.js'
import type { Materialized } from '../../recovery/materialize.js'
import type { Entry } from '../../state/entry.js'
import { listCheckpoints } from '../../checkpoint/checkpointStore.js'
import { listSegments } from '../../wal/logReader.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, UsageError, parseSeqOrTime, stringOption } from '../args.js'
import { files, requireDatabaseDir, retryIfVanished } from '../dbDir.js'
import { fmtBytes, fmtInt, fmtTime, plural } from '../format.js'
import { writeEntangleMembers } from '../eventFormat.js'
import { describeProblem } from '../logRead.js'
import { Sink, say, stdout } from '../output.js'
import { Progress } from '../progress.js'

export const spec: CommandSpec = {
  name: 'replay',
  args: ['dir'],
  options: {
    to: { type: 'string', value: '<seq|time>', desc: 'the point: a seq, or an ISO time (the state before the first event stamped later)' },
    out: { type: 'string', value: '<dir2>', desc: 'write the state as a new database directory (must not exist, or be empty)' },
    export: { type: 'string', value: '<file>', desc: "write the state as NDJSON, one key per line ('-': stdout)" },
  },
  description: `
Materializes the state as of --to: the newest valid checkpoint at or before that point, then
the log up to it, exactly as recovery would. The result goes to --out, a new database
directory holding one checkpoint at that seq (open it with open({ dir }) or any islab
command), and/or to --export, NDJSON with one line per key, sorted by key:
  {"key":"user:1","value":{"name":"Ada"},"seq":17,"time":1764162000000}
(values in the tagged JSON of 'islab dump'), then the entanglements, one line per key and
strength, as 'islab dump' prints entangle events:
  {"type":"entangle","key":"user:1","partners":["team:1"],"strength":0.5}
'islab import' reads all these lines back. --out keeps the entanglements in the checkpoint.

The source is never modified and no lock is taken. A point before the oldest retained
checkpoint, whose log was deleted, cannot be materialized (exit 1, saying what is left).`,
  examples: [
    'islab replay ./data --to 5000 --out ./data-at-5000',
    'islab replay ./data --to 2026-11-26T12:00:00Z --export state.ndjson',
    'islab replay ./data --to 5000 --export - | jq -c \'select(.key | startswith("user:"))\'',
  ],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  const toArg = stringOption(args, 'to')
  if (toArg === undefined) throw new UsageError('--to is required: the seq or time to materialize the state at')
  const to = parseSeqOrTime('--to', toArg)
  const out = stringOption(args, 'out')
  const exportTo = stringOption(args, 'export')
  if (out === undefined && exportTo === undefined) throw new UsageError('say where the state goes: --out <dir2> and/or --export <file> (- for stdout)')
  requireDatabaseDir(dir)
  const src = path.resolve(dir)
  if (out !== undefined) checkNewDir(out, src)
  if (exportTo !== undefined && exportTo !== '-' && path.dirname(path.resolve(exportTo)) === src) {
    throw new CliError('the export file would go into the database directory, which replay never changes', 2, 'Write it somewhere else.')
  }

  const cpBytes = listCheckpoints(files, dir)[0]?.size ?? 0
  const bar = Progress.start({ label: 'replay', totalBytes: cpBytes + listSegments(files, dir).reduce((n, s) => n + s.size, 0), itemName: 'events' })
  let m: Materialized
  try {
    m = await retryIfVanished(() =>
      materialize(files, dir, {
        toSeq: to.seq,
        toTime: to.time,
        onProgress: (p) => bar.update(p.phase === 'checkpoint' ? p.bytes : cpBytes + p.bytes, p.items),
      }),
    )
  } catch (err) {
    throw historyGone(err, dir) ?? err
  } finally {
    bar.finish()
  }
  const problem = m.log.problem
  if (to.seq !== undefined && m.seq < to.seq) {
    if (problem?.kind === 'corruption') {
      throw new CliError(
        `the log is damaged at ${describeProblem(problem)}, before seq ${fmtInt(to.seq)}`,
        1,
        `The state can be materialized up to seq ${fmtInt(m.seq)} (--to ${m.seq}); 'islab verify ${dir}' shows the damage.`,
      )
    }
    throw new CliError(`seq ${fmtInt(to.seq)} is past the end of the log, which ends at seq ${fmtInt(m.seq)}`, 1, `Use --to ${m.seq} or less.`)
  }
  if (to.time !== undefined && !m.stoppedAtTime && problem?.kind === 'corruption') {
    throw new CliError(
      `the log is damaged at ${describeProblem(problem)}, so the state as of ${fmtTime(to.time)} cannot be told`,
      1,
      `Events up to seq ${fmtInt(m.seq)} are intact: --to ${m.seq} works. 'islab verify ${dir}' shows the damage.`,
    )
  }

  const current = new Map<string, Entry>()
  m.state.forEachEntry((k, e) => current.set(k, e))
  const keys = Array.from(current.keys()).sort()
  const what =
    `seq ${fmtInt(m.seq)}${m.time !== undefined ? ` (${fmtTime(m.time)})` : ''}: ${plural(keys.length, 'key')}, ` +
    `from ${m.checkpoint === undefined ? 'the log alone' : `checkpoint seq ${fmtInt(m.checkpoint.seq)}`} + ${plural(m.eventsReplayed, 'event')}`
  if (exportTo !== undefined) {
    const sink = exportTo === '-' ? stdout : new Sink(fs.openSync(exportTo, 'w'))
    let bytes = 0
    for (const key of keys) {
      const e = current.get(key)!
      const o = sink.out
      o.ensure(16)
      o.pos += o.buf.write('{"key":', o.pos, 'latin1')
      writeJsonString(o, key)
      o.ensure(16)
      o.pos += o.buf.write(',"value":', o.pos, 'latin1')
      writeTaggedJson(o, e.bytes)
      sink.write(`,"seq":${e.seq},"time":${e.time}}\n`)
      bytes += e.bytes.length
    }
    writeEntanglements(sink, m)
    sink.flush()
    if (sink !== stdout) fs.closeSync(sink.fd)
    const line = `Exported the state as of ${what} (${fmtBytes(bytes)} of values) to ${exportTo === '-' ? 'stdout' : exportTo}.`
    if (exportTo === '-') say(line)
    else stdout.line(line)
  }
  if (out !== undefined) {
    const carried = m.checkpoint !== undefined && m.checkpoint.seq === m.seq ? m.checkpoint.extensions : new Map<string, Uint8Array>()
    fs.mkdirSync(out, { recursive: true })
    const snapshot = takeSnapshot(m.state, m.seq, Array.from(carried, ([name, data]) => ({ name, data })))
    // The time of event `seq`, not now: every event in the state is that old or older.
    if (m.time !== undefined) snapshot.time = m.time
    const written = await writeCheckpoint(files, out, snapshot)
    stdout.line(`Materialized the state as of ${what} into ${out} (${path.basename(written.file)}, ${fmtBytes(written.bytes)}).`)
    const left = [...(m.checkpoint?.extensions.keys() ?? [])].filter((n) => !snapshot.extensions.some((e) => e.name === n))
    if (left.length > 0) {
      say(
        `note: extension data (${left.join(', ')}) exists only in checkpoints, and the one used is as of ` +
          `seq ${fmtInt(m.checkpoint!.seq)}, not ${fmtInt(m.seq)}: it was not carried into ${out}.`,
      )
    }
  }
  return 0
}

/** The entanglements as entangle lines, by key, one per strength: importing them rebuilds them. */
function writeEntanglements(sink: Sink, m: Materialized): void {
  const links = Array.from(m.state.entanglements.entries()).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [key, partners] of links) {
    const byStrength = new Map<number, string[]>()
    for (const [partner, strength] of partners) {
      const list = byStrength.get(strength)
      if (list === undefined) byStrength.set(strength, [partner])
      else list.push(partner)
    }
    for (const [strength, list] of byStrength) {
      sink.write('{')
      writeEntangleMembers(sink.out, { key, partners: list, strength })
      sink.write('}\n')
    }
  }
}

function checkNewDir(out: string, src: string): void {
  const abs = path.resolve(out)
  if (abs === src) throw new CliError('--out is the source directory; replay never changes the source', 2, 'Give a new directory.')
  if (fs.existsSync(abs) && (!fs.statSync(abs).isDirectory() || fs.readdirSync(abs).length > 0)) {
    throw new CliError(`${out} already exists and is not an empty directory`, 2, 'Give a new directory: replay will not mix states.')
  }
}

/** The message for a point whose history is gone. */
function historyGone(err: unknown, dir: string): CliError | undefined {
  if (!(err instanceof HistoryGoneError)) return undefined
  const oldest = listCheckpoints(files, dir).at(-1)
  return new CliError(
    `the log no longer reaches back that far: it starts at seq ${fmtInt(err.oldestSeq)}, and no valid checkpoint at or before the ` +
      `point is left to start from`,
    1,
    oldest === undefined
      ? 'Earlier events were deleted; only points from the start of the log on can be materialized.'
      : `The oldest checkpoint is at seq ${fmtInt(oldest.seq)}: points from there on can be materialized (if it is valid).`,
  )
}
