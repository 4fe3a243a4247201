// `islab verify`: every checkpoint and every segment checked in full, with what each problem
// means for opening the database. Exit 0 healthy, 1 damaged, 2 could not run.
import { CheckpointDamage, readCheckpoint } from '../../checkpoint/checkpointReader.js'
import { listCheckpoints } from '../../checkpoint/checkpointStore.js'
import type { CheckpointFile } from '../../checkpoint/checkpointStore.js'
import { listSegments, readLog } from '../../wal/logReader.js'
import { MANIFEST_FILE, ManifestDamage, compareWithManifest, readManifest, sameManifest } from '../../wal/manifest.js'
import type { Manifest } from '../../wal/manifest.js'
import type { LogProblem, SegmentFile, SegmentResult } from '../../wal/logReader.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { flag } from '../args.js'
import { files, otherFiles, requireDatabaseDir, retryIfVanished, writerPid } from '../dbDir.js'
import { fmtBytes, fmtInt, plural, seqRange, table } from '../format.js'
import { ReadProgress } from '../logRead.js'
import { stdout } from '../output.js'
import { Progress } from '../progress.js'

export const spec: CommandSpec = {
  name: 'verify',
  args: ['dir'],
  options: {
    json: { type: 'boolean', desc: 'print the report as one JSON object' },
  },
  description: `
Reads every checkpoint and every WAL segment in full and checks everything the formats allow
checking: headers, each record's length and CRC-32, that seqs run on without a gap within and
across segments, that every record decodes, and each checkpoint's frames and footer. Then it
tells what each problem means for open(): what recovery would skip, cut off, or fail on.

An incomplete last record while another process has the database open is a write in progress,
not damage. Read-only: takes no lock and changes nothing.

Exit codes: 0 healthy, 1 damaged (what is wrong and where is printed), 2 could not run.`,
  examples: ['islab verify ./data', 'islab verify ./data --json | jq .problems', 'islab verify ./data || islab repair ./data --dry-run'],
}

interface CheckpointCheck {
  file: string
  seq: number
  bytes: number
  time: number | undefined
  keys: number | undefined
  damage: { offset: number; reason: string } | undefined
}

interface SegmentCheck {
  file: string
  firstSeq: number
  bytes: number
  format: string | undefined
  records: number
  lastSeq: number
  problem: LogProblem | undefined
}

interface Problem {
  file: string
  offset: number
  reason: string
  /** damage: exit 1; in-flight: a live writer's record being written, not damage. */
  severity: 'damage' | 'in-flight'
  effect: string
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0]!
  requireDatabaseDir(dir)
  const started = performance.now()
  const pid = writerPid(dir)
  // The durable seq the MANIFEST records before the log is read: a running writer raises it as it
  // goes, so one read after would claim seqs the (earlier) read of the log could not have seen.
  const seqBefore = manifestSeq(dir)
  const cps = listCheckpoints(files, dir)
  const segs = listSegments(files, dir)
  const cpBytes = cps.reduce((n, c) => n + c.size, 0)
  const bar = Progress.start({ label: 'verify', totalBytes: cpBytes + segs.reduce((n, s) => n + s.size, 0), itemName: 'records' })

  const checkpoints = checkCheckpoints(cps, bar)
  const progress = new ReadProgress(bar, segs, cpBytes)
  const segments = await checkSegments(dir, segs, progress)
  bar.finish()
  const records = progress.items
  const seconds = (performance.now() - started) / 1000

  const atOpen = await recoveryView(dir, checkpoints, segments)
  const problems = explain(dir, checkpoints, segments, pid, atOpen)
  // A log ending before the MANIFEST's seq is only news when no damage found already explains it.
  const explained = problems.some((p) => p.severity === 'damage')
  problems.push(...manifestProblems(dir, segments, checkpoints, explained ? undefined : seqBefore ?? Infinity))
  const damaged = problems.some((p) => p.severity === 'damage')
  const others = otherFiles(dir)

  if (args.values.json === true) {
    stdout.line(JSON.stringify({ dir, healthy: !damaged, writerPid: pid ?? null, records, seconds, checkpoints, segments, problems, otherFiles: others }))
    return damaged ? 1 : 0
  }
  stdout.line(`Verifying ${dir}${pid !== undefined ? ` (open in process ${pid}; its last record may be in flight)` : ''}`)
  stdout.line('')
  stdout.line(cps.length === 0 ? 'Checkpoints: none' : 'Checkpoints:')
  for (const l of table(
    checkpoints.map((c) => [
      `  ${c.file}`,
      `seq ${fmtInt(c.seq)}`,
      fmtBytes(c.bytes),
      c.damage === undefined ? `ok (${plural(c.keys ?? 0, 'key')})` : `DAMAGED at byte ${fmtInt(c.damage.offset)}: ${c.damage.reason}`,
    ]),
  )) {
    stdout.line(l)
  }
  stdout.line(segs.length === 0 ? 'Segments: none' : 'Segments:')
  for (const l of table(
    segments.map((s) => [
      `  ${s.file}`,
      s.format ?? '?',
      fmtBytes(s.bytes),
      seqRange(s.firstSeq, s.lastSeq),
      s.problem === undefined ? 'ok' : `${s.problem.kind === 'torn-tail' ? 'INCOMPLETE' : 'DAMAGED'} at byte ${fmtInt(s.problem.offset)}: ${s.problem.reason}`,
    ]),
  )) {
    stdout.line(l)
  }
  if (others.length > 0) stdout.line(`Other files: ${others.join(', ')} (not read; see docs/cli.md)`)
  stdout.line('')
  for (const p of problems) {
    stdout.line(`${p.severity === 'damage' ? '✗' : '•'} ${p.file} at byte ${fmtInt(p.offset)}: ${p.reason}.`)
    stdout.line(`  ${p.effect}`)
  }
  const lastSeq = segments.reduce((n, s) => Math.max(n, s.lastSeq), checkpoints.find((c) => c.damage === undefined)?.seq ?? 0)
  const summary = `${plural(segs.length, 'segment')}, ${plural(cps.length, 'checkpoint')}, ${plural(records, 'record')} checked in ${seconds.toFixed(2)} s`
  if (damaged) {
    if (atOpen !== undefined || checkpoints.some((c) => c.damage !== undefined)) {
      stdout.line(`What to do: 'islab repair ${dir} --dry-run' shows what a repair keeps and loses; 'islab repair ${dir}' does it.`)
    }
    stdout.line(`Result: DAMAGED (${plural(problems.filter((p) => p.severity === 'damage').length, 'problem')}; ${summary}).`)
    return 1
  }
  stdout.line(`Result: healthy (${summary}; last seq ${fmtInt(lastSeq)}).`)
  return 0
}

/** What open() finds wrong with the files themselves, measured against the MANIFEST. */
/** `seqBefore`: the MANIFEST's seq before the log was read (undefined: do not check the log's end). */
function manifestProblems(dir: string, checked: SegmentCheck[], cps: CheckpointCheck[], seqBefore: number | undefined): Problem[] {
  const effect = "open() fails with ISLAB_CORRUPTION; 'islab repair' (recovery: 'point-in-time') keeps the log before it."
  let m: Manifest | undefined
  let segs: SegmentFile[] = []
  try {
    // A running writer may rotate or prune meanwhile: the listing must fall between two equal reads.
    for (let attempt = 0; attempt < 5; attempt++) {
      m = readManifest(files, dir)
      segs = listSegments(files, dir)
      const again = readManifest(files, dir)
      if (m === undefined || (again !== undefined && sameManifest(m, again))) break
    }
  } catch (err) {
    if (!(err instanceof ManifestDamage)) throw err
    return [{ file: MANIFEST_FILE, offset: 0, reason: err.message, severity: 'damage', effect }]
  }
  if (m === undefined) return []
  const out: Problem[] = compareWithManifest(m, segs).problems.map((p) => ({ file: p.file, offset: 0, reason: p.message, severity: 'damage', effect }))
  const lastSeq = checked.reduce((n, s) => Math.max(n, s.lastSeq), cps.find((c) => c.damage === undefined)?.seq ?? 0)
  const durable = Math.min(m.seq, seqBefore ?? 0)
  if (out.length === 0 && lastSeq < durable) {
    out.push({ file: MANIFEST_FILE, offset: 0, reason: `the WAL ends at seq ${lastSeq} but the MANIFEST records that seqs up to ${durable} were durable`, severity: 'damage', effect })
  }
  return out
}

/** The MANIFEST's durable seq now (undefined without a readable MANIFEST). */
function manifestSeq(dir: string): number | undefined {
  try {
    return readManifest(files, dir)?.seq
  } catch (err) {
    if (err instanceof ManifestDamage) return undefined
    throw err
  }
}

function checkCheckpoints(cps: CheckpointFile[], bar: Progress): CheckpointCheck[] {
  const out: CheckpointCheck[] = []
  let before = 0
  for (const cp of cps) {
    const c: CheckpointCheck = { file: cp.name, seq: cp.seq, bytes: cp.size, time: undefined, keys: undefined, damage: undefined }
    try {
      const loaded = readCheckpoint(files, cp.path, () => undefined, (p) => bar.update(before + p.bytes, p.done), cp.seq)
      c.time = loaded.time
      c.keys = loaded.entries
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // pruned by a running writer meanwhile
      if (!(err instanceof CheckpointDamage)) throw err
      c.damage = { offset: err.offset, reason: err.reason }
    }
    before += cp.size
    out.push(c)
  }
  return out
}

/**
 * Every segment, with the one reader: it stops at the first problem, so after one it is
 * started again at the next segment (or at the segment it could not reach, after a gap).
 */
async function checkSegments(dir: string, segs: SegmentFile[], progress: ReadProgress): Promise<SegmentCheck[]> {
  const results = new Map<string, SegmentResult>()
  const problems = new Map<string, LogProblem>()
  let start: number | undefined = segs[0]?.firstSeq
  let lastRead = 0
  const visit = (ev: { seq: number }): void => {
    progress.event(ev.seq)
    lastRead = ev.seq
  }
  for (let round = 0; start !== undefined && round <= 2 * segs.length + 1; round++) {
    const from: number = start
    let r: Awaited<ReturnType<typeof readLog>>
    try {
      r = await readLog(files, dir, visit, { fromSeq: from, onSegment: progress.onSegment })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      // A running writer's checkpoint pruned a segment while it was read: go on after what was
      // read, from the oldest segment there now (the pruned ones were covered by the checkpoint).
      const oldest = listSegments(files, dir)[0]?.firstSeq
      start = oldest === undefined ? undefined : Math.max(oldest, lastRead + 1, from)
      continue
    }
    for (const s of r.segments) results.set(s.name, s)
    const problem = r.problem
    if (problem === undefined) break
    if (!problems.has(problem.file)) problems.set(problem.file, problem)
    const all = listSegments(files, dir)
    const i = all.findIndex((s) => s.name === problem.file)
    const scanned = r.segments.some((s) => s.name === problem.file) || all[i]?.firstSeq === from
    start = (scanned ? all[i + 1] : all[i])?.firstSeq
  }
  return segs.map((s) => {
    const r = results.get(s.name)
    return {
      file: s.name,
      firstSeq: s.firstSeq,
      bytes: s.size,
      format: r?.format,
      records: r?.records ?? 0,
      lastSeq: r?.lastSeq ?? s.firstSeq - 1,
      problem: problems.get(s.name),
    }
  })
}

/**
 * The problem open() would meet: recovery reads from the newest valid checkpoint's seq + 1, in
 * the last segment named at or before it and every later one, walking records before that seq
 * without their checksums. When that segment has no such records, it reads exactly what verify
 * read from there, so verify's first problem from there on is recovery's. Otherwise the one
 * reader is asked again, as recovery asks it.
 */
async function recoveryView(dir: string, cps: CheckpointCheck[], segs: SegmentCheck[]): Promise<LogProblem | undefined> {
  const from = (cps.find((c) => c.damage === undefined)?.seq ?? 0) + 1
  const first = segs[0]
  if (first === undefined || first.firstSeq > from) return undefined
  let i = 0
  while (i + 1 < segs.length && segs[i + 1]!.firstSeq <= from) i++
  if (segs[i]!.firstSeq === from) return segs.slice(i).find((s) => s.problem !== undefined)?.problem
  try {
    return (await retryIfVanished(() => readLog(files, dir, () => undefined, { fromSeq: from }))).problem
  } catch (err) {
    // Pruned again and again by a running writer: its own open is the authority on what it reads.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** What each problem means for open(), which reads the newest valid checkpoint and the log after it. */
function explain(dir: string, cps: CheckpointCheck[], segs: SegmentCheck[], pid: number | undefined, atOpen: LogProblem | undefined): Problem[] {
  const problems: Problem[] = []
  const base = cps.find((c) => c.damage === undefined)
  const from = (base?.seq ?? 0) + 1
  const baseName = base === undefined ? 'no checkpoint' : `checkpoint ${base.file}`
  for (const c of cps) {
    if (c.damage === undefined) continue
    const newer = base === undefined || c.seq > base.seq
    problems.push({
      file: c.file,
      offset: c.damage.offset,
      reason: c.damage.reason,
      severity: 'damage',
      effect: newer
        ? base === undefined
          ? 'open() skips it and replays the whole log from seq 1 instead.'
          : `open() skips it and recovers from the older ${baseName} plus the log after it.`
        : 'Not used while a newer valid checkpoint exists.',
    })
  }
  const first = segs[0]
  if (first !== undefined && first.firstSeq > from) {
    problems.push({
      file: first.file,
      offset: 0,
      reason: `the log starts at seq ${fmtInt(first.firstSeq)}, but recovery from ${baseName} needs seq ${fmtInt(from)} onwards`,
      severity: 'damage',
      effect: `Seqs ${fmtInt(from)}–${fmtInt(first.firstSeq - 1)} are missing: open() fails with ISLAB_CORRUPTION. Restore the missing segments or checkpoints from a backup.`,
    })
  }
  // Recovery reads the last segment named at or before `from`, and everything after it.
  let needFrom = 0
  segs.forEach((s, i) => {
    if (s.firstSeq <= from) needFrom = i
  })
  let metAtOpen = false
  segs.forEach((s, i) => {
    const p = s.problem
    if (p === undefined) return
    const last = i === segs.length - 1
    if (p.kind === 'torn-tail' && last && pid !== undefined) {
      problems.push({ file: s.file, offset: p.offset, reason: p.reason, severity: 'in-flight', effect: `Process ${pid} is writing; a record being appended looks like this. Not damage.` })
      return
    }
    let effect: string
    if (atOpen !== undefined && atOpen.file === s.file && atOpen.offset === p.offset) {
      metAtOpen = true
      effect =
        atOpen.kind === 'torn-tail'
          ? `An interrupted write (${plural(atOpen.bytes, 'byte')}): the next open() cuts it off, losing no complete record.`
          : 'Valid records follow it, so this is not an interrupted write: open() fails with ISLAB_CORRUPTION. ' +
            'A repair keeps the log before it and moves this segment and the later ones aside.'
    } else if (i < needFrom) {
      effect = `Not needed to open the database (${baseName} covers it); only recovery from an older checkpoint would read it.`
    } else if (metAtOpen || (atOpen !== undefined && segs.findIndex((x) => x.file === atOpen.file) < i)) {
      effect = 'After the problem open() stops at; a repair moves it aside with the rest.'
    } else {
      effect =
        `Not noticed by open(): ${baseName} covers these records, and recovery walks covered records without their checksums. ` +
        `Only recovery from an older checkpoint would fail on it; 'islab compact ${dir}' drops the covered records.`
    }
    problems.push({ file: s.file, offset: p.offset, reason: p.reason, severity: 'damage', effect })
  })
  return problems
}
