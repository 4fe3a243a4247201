// `islab stats`: what is in a database directory, from the files alone (no lock taken).
import { CheckpointDamage, readCheckpoint } from '../../checkpoint/checkpointReader.js'
import { listCheckpoints } from '../../checkpoint/checkpointStore.js'
import { HistoryGoneError } from '../../errors.js'
import { materialize } from '../../recovery/materialize.js'
import type { Materialized } from '../../recovery/materialize.js'
import { MemoryState } from '../../state/memoryState.js'
import type { LogProblem, SegmentResult } from '../../wal/logReader.js'
import { listSegments, readLog } from '../../wal/logReader.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { files, otherFiles, requireDatabaseDir, retryIfVanished, writerPid } from '../dbDir.js'
import { fmtAge, fmtBytes, fmtInt, fmtTime, plural, table } from '../format.js'
import { describeProblem } from '../logRead.js'
import { stdout } from '../output.js'
import { Progress } from '../progress.js'

export const spec: CommandSpec = {
  name: 'stats',
  args: ['dir'],
  options: {
    json: { type: 'boolean', desc: 'print one JSON object (raw numbers: bytes, ms since the epoch)' },
  },
  description: `
Shows the WAL segments (count, bytes, seq range and entry format of each), the checkpoints
(seq, size, age, and whether each one is valid), and the current state: keys, value bytes,
keys with entanglements (db.entangle), last seq and its time. The state is rebuilt the way open() rebuilds it (newest valid
checkpoint + the log after it), in memory, without the lock: it works while an application
has the database open, and shows what is on disk.

Exit codes: 0 (also for a damaged log: the problem is printed; 'islab verify' checks in full),
2 could not run.`,
  examples: ['islab stats ./data', 'islab stats ./data --json | jq .keys'],
}

interface SegmentInfo {
  file: string
  format: string | undefined
  bytes: number
  firstSeq: number
  lastSeq: number
  records: number
}

interface CheckpointInfo {
  file: string
  seq: number
  bytes: number
  time: number | undefined
  valid: boolean
  keys: number | undefined
  damage: string | undefined
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  requireDatabaseDir(dir)
  const pid = writerPid(dir)
  const cps = listCheckpoints(files, dir)
  const segs = listSegments(files, dir)
  const bar = Progress.start({ label: 'stats', totalBytes: (cps[0]?.size ?? 0) + segs.reduce((n, s) => n + s.size, 0), itemName: 'events' })
  let m: Materialized
  let unbuildable: string | undefined
  try {
    m = await retryIfVanished(() =>
      materialize(files, dir, { onProgress: (p) => bar.update(p.phase === 'checkpoint' ? p.bytes : (cps[0]?.size ?? 0) + p.bytes, p.items) }),
    )
  } catch (err) {
    if (!(err instanceof HistoryGoneError)) throw err
    // No valid checkpoint the log reaches back to: open() would fail. Show the files anyway.
    unbuildable = `the state cannot be rebuilt: the log starts at seq ${fmtInt(err.oldestSeq)} and no valid checkpoint covers the seqs before it (open() fails)`
    m = { state: new MemoryState(), seq: 0, time: undefined, checkpoint: undefined, checkpointsSkipped: [], eventsReplayed: 0, log: { segments: [], lastSeq: 0, problem: undefined }, stoppedAtTime: false }
  } finally {
    bar.finish()
  }

  // Segments wholly before the checkpoint were not needed for the state: read them for their ranges.
  const read = new Map<string, SegmentResult>(m.log.segments.map((s) => [s.name, s]))
  const firstRead = m.log.segments[0]?.firstSeq ?? Infinity
  let coveredProblem: LogProblem | undefined
  if (segs.length > 0 && segs[0]!.firstSeq < firstRead) {
    const upTo = unbuildable !== undefined ? Infinity : Math.min(firstRead, m.seq + 1) - 1
    const r = await retryIfVanished(() => readLog(files, dir, () => undefined, { toSeq: upTo }))
    for (const s of r.segments) if (!read.has(s.name)) read.set(s.name, s)
    coveredProblem = r.problem
  }
  const segments: SegmentInfo[] = segs.map((s) => {
    const r = read.get(s.name)
    return { file: s.name, format: r?.format, bytes: s.size, firstSeq: s.firstSeq, lastSeq: r?.lastSeq ?? s.firstSeq - 1, records: r?.records ?? 0 }
  })

  const checkpoints: CheckpointInfo[] = cps.map((cp) => {
    if (m.checkpoint?.file === cp.name) {
      return { file: cp.name, seq: cp.seq, bytes: cp.size, time: m.checkpoint.time, valid: true, keys: m.checkpoint.entries, damage: undefined }
    }
    try {
      const c = readCheckpoint(files, cp.path, () => undefined, undefined, cp.seq)
      return { file: cp.name, seq: cp.seq, bytes: cp.size, time: c.time, valid: true, keys: c.entries, damage: undefined }
    } catch (err) {
      if (!(err instanceof CheckpointDamage) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      const damage = err instanceof CheckpointDamage ? `damaged at byte ${err.offset}: ${err.reason}` : 'deleted while reading'
      return { file: cp.name, seq: cp.seq, bytes: cp.size, time: undefined, valid: false, keys: undefined, damage }
    }
  })

  let valueBytes = 0
  let newest = 0
  m.state.forEachEntry((_k, e) => {
    valueBytes += e.bytes.length
    if (e.time > newest) newest = e.time
  })
  const lastTime = m.eventsReplayed > 0 ? m.time : newest > 0 ? newest : undefined
  const problem = m.log.problem ?? coveredProblem
  const others = otherFiles(dir)
  const walBytes = segs.reduce((n, s) => n + s.size, 0)

  if (args.values.json === true) {
    stdout.line(
      JSON.stringify({
        dir,
        writerPid: pid ?? null,
        lastSeq: m.seq,
        lastTime: lastTime ?? null,
        keys: m.state.size,
        valueBytes,
        entangledKeys: m.state.entanglements.keys,
        entanglementLinks: m.state.entanglements.count,
        state: { checkpoint: m.checkpoint?.file ?? null, eventsReplayed: m.eventsReplayed },
        walBytes,
        segments,
        checkpoints,
        otherFiles: others,
        problem: problem ?? null,
        unbuildable: unbuildable ?? null,
      }),
    )
    return 0
  }
  const writer = ['writer', pid !== undefined ? `process ${pid} has it open (figures are what is on disk now)` : 'none (the database is closed)']
  const rows: string[][] = unbuildable !== undefined ? [writer, ['state', 'cannot be rebuilt (see Problem below)']] : [
    writer,
    ['last seq', m.seq === 0 ? '0 (empty)' : `${fmtInt(m.seq)}${lastTime !== undefined ? `  at ${fmtTime(lastTime)} (${fmtAge(lastTime)})` : ''}`],
    ['keys', fmtInt(m.state.size)],
    ['value bytes', `${fmtBytes(valueBytes)} (msgpack, as held in memory)`],
    ['entangled', `${plural(m.state.entanglements.keys, 'key')} with partners (${plural(m.state.entanglements.count, 'link')})`],
    [
      'state from',
      `${m.checkpoint === undefined ? 'the log alone' : `checkpoint seq ${fmtInt(m.checkpoint.seq)}`} + ${plural(m.eventsReplayed, 'event')} replayed`,
    ],
  ]
  stdout.line(`Database ${dir}`)
  for (const l of table(rows.map(([k, v]) => [`  ${k}`, v!]))) stdout.line(l)
  stdout.line('')
  const span = segments.length === 0 ? '' : `, seqs ${fmtInt(segments[0]!.firstSeq)}–${fmtInt(Math.max(...segments.map((s) => s.lastSeq)))}`
  stdout.line(`Segments: ${segments.length}, ${fmtBytes(walBytes)}${span}`)
  if (segments.length > 0) {
    const t = [['  FILE', 'FORMAT', 'SIZE', 'FIRST SEQ', 'LAST SEQ', 'RECORDS']]
    for (const s of segments) {
      const unread = s.format === undefined
      t.push([`  ${s.file}`, s.format ?? '?', fmtBytes(s.bytes), fmtInt(s.firstSeq), unread ? '-' : fmtInt(s.lastSeq), unread ? 'not read' : fmtInt(s.records)])
    }
    for (const l of table(t, [2, 3, 4, 5])) stdout.line(l)
  }
  stdout.line(`Checkpoints: ${checkpoints.length}`)
  if (checkpoints.length > 0) {
    const t = [['  FILE', 'SEQ', 'SIZE', 'AGE', 'STATUS']]
    for (const c of checkpoints) {
      t.push([
        `  ${c.file}`,
        fmtInt(c.seq),
        fmtBytes(c.bytes),
        c.time === undefined ? '-' : fmtAge(c.time),
        c.valid ? `valid, ${plural(c.keys ?? 0, 'key')}` : `INVALID: ${c.damage}`,
      ])
    }
    for (const l of table(t, [1, 2])) stdout.line(l)
  }
  if (others.length > 0) stdout.line(`Other files: ${others.join(', ')}`)
  if (unbuildable !== undefined) {
    stdout.line('')
    stdout.line(`Problem: ${unbuildable}.`)
    stdout.line(`  Run 'islab verify ${dir}' for details.`)
  }
  if (problem !== undefined && !(problem.kind === 'torn-tail' && pid !== undefined)) {
    stdout.line('')
    stdout.line(
      `Problem: ${problem.kind === 'torn-tail' ? 'an interrupted write at the end of the log' : 'the log is damaged'}, ${describeProblem(problem)}.`,
    )
    stdout.line(`  Run 'islab verify ${dir}' for details.`)
  }
  return 0
}
