// Rebuilds the in-memory state at open: the newest valid checkpoint, then replay of the WAL
// after its seq. The policy for what the readers report lives here:
//  - a damaged checkpoint is skipped (and reported) for the previous one;
//  - an interrupted write at the very end of the log is truncated and reported;
//  - damage anywhere else fails the open with ISLAB_CORRUPTION (strict), or, in point-in-time
//    mode, keeps the longest valid prefix and moves the rest aside, reporting the lost seqs;
//  - a log that no longer reaches back to the checkpoint fails the open: never a silently
//    incomplete database;
//  - the MANIFEST names the files that must exist: a missing or shortened segment, or one
//    nothing explains, fails the open (strict) or is given up with a report (point-in-time);
//    what an interrupted prune or rewrite left is finished or rolled back.
import path from 'node:path'
import { CheckpointDamage, loadStateExtensions, readCheckpointSliced } from '../checkpoint/checkpointReader.js'
import { listCheckpoints, removeCheckpointLeftovers } from '../checkpoint/checkpointStore.js'
import { checkpointName } from '../checkpoint/format.js'
import { CorruptionError } from '../errors.js'
import type { FileLayer } from '../io/fileLayer.js'
import { MemoryState } from '../state/memoryState.js'
import { decodeSegmentHeader, segmentName } from '../wal/format.js'
import { listSegments } from '../wal/logReader.js'
import type { LogProblem, LogReadResult, SegmentFile } from '../wal/logReader.js'
import { MANIFEST_FILE, MANIFEST_TMP, ManifestDamage, compareWithManifest, readManifest, sameManifest, writeManifest } from '../wal/manifest.js'
import type { FileProblem, Manifest } from '../wal/manifest.js'
import { finishInterruptedRewrites } from '../wal/rewrite.js'
import type { SettledRewrite } from '../wal/rewrite.js'
import { salvageSeqRange } from '../wal/segmentReader.js'
import { StateLoader } from './stateLoader.js'
import type { WalTail } from '../wal/walWriter.js'

export type RecoveryMode = 'strict' | 'point-in-time'

/**
 * How far recovery is, often enough for a progress bar: `done` of `total` in one unit per phase
 * (keys of the checkpoint; bytes of the WAL, whose event count is not known ahead), `bytes` read
 * in the phase, and `items` done (keys loaded, events replayed).
 */
export interface RecoveryProgress {
  phase: 'checkpoint' | 'wal'
  done: number
  total: number
  bytes: number
  items: number
}

export interface RecoveryReport {
  /** Seq of the checkpoint loaded (0: none, replayed from the start of the log). */
  checkpointSeq: number
  checkpointFile: string | undefined
  checkpointKeys: number
  /** Checkpoints found damaged and skipped, newest first. */
  checkpointsSkipped: { file: string; offset: number; reason: string }[]
  eventsReplayed: number
  segmentsRead: number
  /** Bytes of an interrupted write cut from the end of the log, and where. */
  tornBytesTruncated: number
  tornAt: { file: string; offset: number; reason: string } | undefined
  /** Point-in-time recovery only: what was given up, and where the damaged files went. */
  lost: { fromSeq: number; toSeq: number | undefined; movedAside: string[]; reason: string } | undefined
  /** What recovery found and did about the directory's files, measured against its MANIFEST. */
  logFiles: {
    /** There was no MANIFEST (a directory of an older version): one was built from the files present. */
    manifestCreated: boolean
    /** `*.wal.rewrite` files an interrupted `islab compact`/`convert` left, and what became of each. */
    rewritesSettled: SettledRewrite[]
    /** Segments a prune had taken out of the MANIFEST but not yet deleted: deleted now. */
    leftoversRemoved: string[]
    /** Point-in-time only: problems with the files themselves that were given up (files moved aside are in `movedAside`). */
    problems: string[]
    movedAside: string[]
  }
  lastSeq: number
  timeMs: number
}

export interface Recovered {
  state: MemoryState
  report: RecoveryReport
  /** The last segment, which the writer appends to (undefined: start a new one). */
  tail: WalTail | undefined
  /** Time of the newest event recovered (or of the checkpoint): new events are stamped no earlier. */
  lastTime: number
  /** Extension blobs of the loaded checkpoint. */
  extensions: Map<string, Uint8Array>
}

export interface RecoverOptions {
  mode: RecoveryMode
  onProgress?: (p: RecoveryProgress) => void
}

/**
 * Asynchronous so that a long replay yields to the event loop (see logReader); nothing else may
 * touch the directory meanwhile (open() holds the lock and has not started the writer).
 */
export async function recover(files: FileLayer, dir: string, opts: RecoverOptions): Promise<Recovered> {
  const started = performance.now()
  const strict = opts.mode === 'strict'
  const logFiles: RecoveryReport['logFiles'] = { manifestCreated: false, rewritesSettled: [], leftoversRemoved: [], problems: [], movedAside: [] }
  setAsideDamagedManifest(files, dir, strict, logFiles)
  await settleRewrites(files, dir, strict, logFiles)
  const manifest = readManifest(files, dir)
  if (manifest === undefined) assertManifestNeverWritten(files, dir, strict, logFiles)
  removeCheckpointLeftovers(files, dir)
  const fileProblems = manifest === undefined ? [] : checkFiles(files, dir, manifest, strict, logFiles)

  const skipped: RecoveryReport['checkpointsSkipped'] = []
  let state = new MemoryState()
  let loaded: Awaited<ReturnType<typeof readCheckpointSliced>> | undefined
  let loadedFile: string | undefined
  const checkpoints = listCheckpoints(files, dir)
  // A checkpoint the MANIFEST names that is gone counts as a damaged one: skipped and reported.
  for (const seq of manifest?.checkpoints ?? []) {
    if (!checkpoints.some((c) => c.seq === seq)) skipped.push({ file: checkpointName(seq), offset: 0, reason: 'missing (the MANIFEST names it)' })
  }
  for (const cp of checkpoints) {
    const candidate = new MemoryState()
    try {
      // In time slices: a large checkpoint must not stall the event loop while it loads.
      const got = await readCheckpointSliced(
        files,
        cp.path,
        (raw, n, pos, nums, hashes) => candidate.loadMany(raw, n, pos, nums, hashes),
        () => candidate.settleLoad(),
        (p) => opts.onProgress?.({ phase: 'checkpoint', ...p, items: p.done }),
        cp.seq,
        (n) => candidate.reserve(n),
      )
      loadStateExtensions(candidate, cp.path, got.extensions)
      loaded = got
      state = candidate
      loadedFile = cp.name
      break
    } catch (err) {
      if (!(err instanceof CheckpointDamage)) throw err
      skipped.push({ file: cp.name, offset: err.offset, reason: err.reason })
    }
  }
  skipped.sort((a, b) => (a.file < b.file ? 1 : a.file > b.file ? -1 : 0))
  const checkpointSeq = loaded?.seq ?? 0
  const fromSeq = checkpointSeq + 1
  const inRange = setAsideCoveredProblems(files, dir, fileProblems, fromSeq, logFiles)
  assertLogReachesBack(files, dir, fromSeq, loadedFile)

  const loader = new StateLoader(state, undefined, opts.onProgress)
  const result = await loader.load(files, dir, fromSeq)
  const replayed = loader.events

  let tornBytes = 0
  let tornAt: RecoveryReport['tornAt']
  let lost: RecoveryReport['lost']
  const problem = result.problem
  if (problem?.kind === 'corruption') {
    if (strict) {
      throw new CorruptionError(
        `WAL segment ${problem.file} is damaged at byte ${problem.offset} (${problem.reason}); run ` +
          `\`islab verify ${dir}\` to see the damage, or open with recovery: 'point-in-time' to keep the valid prefix.`,
        { file: path.join(dir, problem.file), offset: problem.offset },
      )
    }
    lost = keepValidPrefix(files, dir, result, problem, checkpointSeq)
  }
  const lastSeq = Math.max(result.lastSeq, checkpointSeq)
  // Point-in-time: a missing or changed segment in the replayed range ends the log at the last
  // valid seq before it; the reader has already stopped there (a gap) unless it was the newest.
  if (lost === undefined && inRange.length > 0) {
    lost = { fromSeq: lastSeq + 1, toSeq: manifest !== undefined && manifest.seq > lastSeq ? manifest.seq : undefined, movedAside: [], reason: inRange[0]!.message }
  }
  // Seqs the MANIFEST knows were durable must come back: a log that ends before them lost a
  // file or its end (a shortened newest segment, say), which no crash does.
  if (manifest !== undefined && lastSeq < manifest.seq && lost === undefined) {
    const newest = listSegments(files, dir).at(-1)
    const reason =
      `the WAL ends at seq ${lastSeq}${newest === undefined ? '' : ` (in ${newest.name})`} but the MANIFEST records that seqs up to ` +
      `${manifest.seq} were durable: a segment was shortened or deleted`
    if (strict) {
      throw new CorruptionError(
        `${capitalize(reason)}. Restore the missing data, or open with recovery: 'point-in-time' to keep the log up to seq ${lastSeq}.`,
        { file: newest?.path },
      )
    }
    lost = { fromSeq: lastSeq + 1, toSeq: manifest.seq, movedAside: [], reason }
  }
  if (problem?.kind === 'torn-tail') {
    cutTornTail(files, dir, result, problem)
    tornBytes = problem.bytes
    tornAt = { file: problem.file, offset: problem.offset, reason: problem.reason }
  }

  const last = result.segments[result.segments.length - 1]
  // A log that ends before the checkpoint's seq cannot take the next seq without a gap: start a new segment.
  const tail: WalTail | undefined =
    last === undefined || last.format === undefined || last.lastSeq !== lastSeq
      ? undefined
      : { firstSeq: last.firstSeq, format: last.format, size: last.validEnd, records: last.records, version: last.version }
  writeRecoveredManifest(files, dir, manifest, lastSeq, checkpointSeq, new Set(skipped.map((c) => c.file)), logFiles)
  return {
    state,
    tail,
    extensions: loaded?.extensions ?? new Map(),
    lastTime: Math.max(loader.time ?? 0, loaded?.time ?? 0),
    report: {
      checkpointSeq,
      checkpointFile: loadedFile,
      checkpointKeys: loaded?.entries ?? 0,
      checkpointsSkipped: skipped,
      eventsReplayed: replayed,
      segmentsRead: result.segments.length,
      tornBytesTruncated: tornBytes,
      tornAt,
      lost,
      logFiles,
      lastSeq,
      timeMs: performance.now() - started,
    },
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/**
 * Removes a MANIFEST.tmp a crash left. A MANIFEST that fails its checks: strict refuses;
 * point-in-time sets it aside and rebuilds one.
 */
function setAsideDamagedManifest(files: FileLayer, dir: string, strict: boolean, logFiles: RecoveryReport['logFiles']): void {
  const tmp = path.join(dir, MANIFEST_TMP)
  if (files.exists(tmp)) files.unlink(tmp)
  try {
    readManifest(files, dir)
  } catch (err) {
    if (!(err instanceof ManifestDamage)) throw err
    const p = path.join(dir, MANIFEST_FILE)
    if (strict) {
      throw new CorruptionError(
        `${err.message}: the list of files the log must have cannot be trusted. Check the directory with ` +
          `\`islab verify ${dir}\`, then open with recovery: 'point-in-time' to rebuild the MANIFEST from the files present.`,
        { file: p },
      )
    }
    logFiles.movedAside.push(path.basename(moveAside(files, p)))
    logFiles.problems.push(err.message)
    files.syncDir(dir)
  }
}

/**
 * Finishes the rewrites the MANIFEST committed and removes the ones it never did. A committed
 * rewrite whose file is damaged (it was fsynced before the commit) is corruption.
 */
async function settleRewrites(files: FileLayer, dir: string, strict: boolean, logFiles: RecoveryReport['logFiles']): Promise<void> {
  for (const s of await finishInterruptedRewrites(files, dir)) {
    if (s.action !== 'damaged') {
      logFiles.rewritesSettled.push(s)
      continue
    }
    const p = path.join(dir, s.file)
    if (strict) {
      throw new CorruptionError(
        `${s.file}, the new content of a segment that \`islab compact\` or \`convert\` committed in the MANIFEST, is damaged ` +
          `(${s.reason ?? 'unknown'}); open with recovery: 'point-in-time' to set it aside and keep the log before that segment.`,
        { file: p },
      )
    }
    logFiles.movedAside.push(path.basename(moveAside(files, p)))
    logFiles.problems.push(`${s.file}: ${s.reason ?? 'damaged'}`)
    logFiles.rewritesSettled.push(s)
    files.syncDir(dir)
  }
}

/**
 * Compares the segments present with the MANIFEST (see compareWithManifest). Strict mode throws
 * on the first problem before changing anything; then prune leftovers are deleted, and
 * point-in-time sets strays aside.
 */
function checkFiles(files: FileLayer, dir: string, m: Manifest, strict: boolean, logFiles: RecoveryReport['logFiles']): FileProblem[] {
  const { problems, leftovers } = compareWithManifest(m, listSegments(files, dir))
  const strays = problems.filter((p) => p.kind === 'stray')
  if (strict && problems.length > 0) {
    const p = problems[0]!
    const fix =
      p.kind === 'stray'
        ? 'move it out of the directory if it does not belong there'
        : 'restore it from a backup'
    throw new CorruptionError(
      `${p.message}: the database cannot be opened complete. Run \`islab verify ${dir}\`; ${fix}, or open with ` +
        `recovery: 'point-in-time' to keep the valid log before it.`,
      { file: path.join(dir, segmentName(p.firstSeq)), offset: 0 },
    )
  }
  for (const f of leftovers) {
    files.unlink(f.path)
    logFiles.leftoversRemoved.push(f.name)
  }
  for (const f of strays) logFiles.movedAside.push(path.basename(moveAside(files, path.join(dir, f.file))))
  for (const p of problems) logFiles.problems.push(p.message)
  if (leftovers.length > 0 || strays.length > 0) files.syncDir(dir)
  return problems.filter((p) => p.kind !== 'stray')
}

/**
 * Point-in-time: a missing or changed segment before the one replay starts in only held
 * history the checkpoint covers; that segment and every earlier one are set aside, so that the
 * retained log stays one unbroken run. Returns the problems replay will meet instead.
 */
function setAsideCoveredProblems(files: FileLayer, dir: string, problems: FileProblem[], fromSeq: number, logFiles: RecoveryReport['logFiles']): FileProblem[] {
  const present = listSegments(files, dir)
  const start = present.filter((s) => s.firstSeq <= fromSeq).at(-1)
  const inRange: FileProblem[] = []
  let limit = 0
  for (const p of problems) {
    if (start === undefined || p.firstSeq >= start.firstSeq) inRange.push(p)
    else limit = Math.max(limit, p.firstSeq)
  }
  const aside = present.filter((s) => s.firstSeq <= limit)
  for (const s of aside) logFiles.movedAside.push(path.basename(moveAside(files, s.path)))
  if (aside.length > 0) files.syncDir(dir)
  return inRange
}

/** Renames a file to `<name>.damaged` (or `.damaged.N`), never over an earlier one. */
function moveAside(files: FileLayer, p: string): string {
  let aside = `${p}.damaged`
  for (let n = 2; files.exists(aside); n++) aside = `${p}.damaged.${n}`
  files.rename(p, aside)
  return aside
}

/**
 * Writes the MANIFEST for the directory as recovery leaves it (creating it for a directory of an
 * older version): the segments present, sealed at their lengths except the newest; the
 * checkpoints present and not found damaged; and, as the seq that must come back, what is durable for sure — the
 * checkpoint's seq and everything before the newest segment (sealed segments were fsynced
 * before the next one was created), never more than the log holds.
 */
function writeRecoveredManifest(
  files: FileLayer,
  dir: string,
  before: Manifest | undefined,
  lastSeq: number,
  checkpointSeq: number,
  damagedCheckpoints: Set<string>,
  logFiles: RecoveryReport['logFiles'],
): void {
  const segs = listSegments(files, dir)
  const newest = segs.at(-1)
  const m: Manifest = {
    seq: Math.min(lastSeq, Math.max(before?.seq ?? 0, checkpointSeq, (newest?.firstSeq ?? 1) - 1)),
    segments: segs.map((s) => (s === newest ? { firstSeq: s.firstSeq } : { firstSeq: s.firstSeq, bytes: s.size })),
    // Known-damaged checkpoints are not named: `islab repair` moves them aside.
    checkpoints: listCheckpoints(files, dir)
      .filter((c) => !damagedCheckpoints.has(c.name))
      .map((c) => c.seq),
    rewrites: [],
  }
  logFiles.manifestCreated = before === undefined
  if (before !== undefined && sameManifest(before, m)) return
  writeManifest(files, dir, m)
}

/**
 * A directory without a MANIFEST is one an older version wrote — unless it holds a segment of
 * format version 2, which only a writer that keeps a MANIFEST makes (recovery writes one before
 * the first segment exists, and it is only ever replaced atomically). Then the MANIFEST was
 * deleted, and with it every check of missing files: strict refuses; point-in-time rebuilds it
 * from the files present and says so.
 */
function assertManifestNeverWritten(files: FileLayer, dir: string, strict: boolean, logFiles: RecoveryReport['logFiles']): void {
  const written = listSegments(files, dir).find((s) => {
    const header = decodeSegmentHeader(files.readRange(s.path, 0, 4096))
    return typeof header !== 'string' && header.version >= 2
  })
  if (written === undefined) return
  const problem =
    `the MANIFEST is missing, but ${written.name} was written by a version that keeps one: ` +
    'without it, missing or shortened segments cannot be detected'
  if (strict) {
    throw new CorruptionError(
      `${capitalize(problem)}. Restore the MANIFEST, or open with recovery: 'point-in-time' to rebuild it from the files present.`,
      { file: path.join(dir, MANIFEST_FILE) },
    )
  }
  logFiles.problems.push(problem)
}

/** The segment holding `fromSeq` must exist, unless the log is empty past the checkpoint. */
function assertLogReachesBack(files: FileLayer, dir: string, fromSeq: number, checkpoint: string | undefined): void {
  const segs = listSegments(files, dir)
  const first = segs[0]
  if (first === undefined || first.firstSeq <= fromSeq) return
  // With a checkpoint, a log that starts after it is still whole if it starts right after it.
  if (checkpoint !== undefined && first.firstSeq === fromSeq) return
  const from = checkpoint === undefined ? 'no valid checkpoint' : `checkpoint ${checkpoint}`
  throw new CorruptionError(
    `The WAL starts at seq ${first.firstSeq} (${first.name}) but recovery from ${from} needs seq ${fromSeq} onwards; ` +
      `seqs ${fromSeq}-${first.firstSeq - 1} are missing and the database cannot be rebuilt without them. ` +
      'Restore the missing segments or checkpoints; `islab verify` shows what is there.',
    { file: first.path, offset: 0 },
  )
}

function cutTornTail(files: FileLayer, dir: string, result: LogReadResult, problem: LogProblem): void {
  const p = path.join(dir, problem.file)
  const last = result.segments[result.segments.length - 1]
  if (last !== undefined && last.name === problem.file) {
    files.truncate(p, problem.offset)
    last.size = problem.offset
  } else {
    // The segment's header itself was cut short: the segment never held a record.
    files.unlink(p)
    files.syncDir(dir)
  }
}

/**
 * Point-in-time: the damaged segment and every later one are renamed to `<name>.damaged`
 * (never deleted); the damaged segment's valid prefix is written back under its own name.
 */
function keepValidPrefix(
  files: FileLayer,
  dir: string,
  result: LogReadResult,
  problem: LogProblem,
  checkpointSeq: number,
): RecoveryReport['lost'] {
  const movedAside: string[] = []
  let maxLost: number | undefined
  const segs = listSegments(files, dir)
  const at = segs.findIndex((s) => s.name === problem.file)
  for (let i = at; i < segs.length; i++) {
    const seg = segs[i]!
    const bytes = files.readFile(seg.path)
    const range = salvageSeqRange(bytes, i === at ? problem.offset : 0)
    if (range !== undefined) maxLost = Math.max(maxLost ?? 0, range.max)
    // Never overwrite what an earlier recovery moved aside.
    movedAside.push(path.basename(moveAside(files, seg.path)))
    if (i === at) {
      const good = result.segments.find((s) => s.name === seg.name)
      if (good !== undefined && good.validEnd > 0) {
        files.writeFileDurable(seg.path, bytes.subarray(0, problem.offset))
        good.size = problem.offset
      } else {
        result.segments = result.segments.filter((s) => s.name !== seg.name)
      }
    }
  }
  files.syncDir(dir)
  // The valid prefix ends at the last good record, or at the checkpoint when no record after it was read.
  const fromSeq = Math.max(result.lastSeq, checkpointSeq) + 1
  return { fromSeq, toSeq: maxLost !== undefined && maxLost >= fromSeq ? maxLost : undefined, movedAside, reason: `${problem.file} at byte ${problem.offset}: ${problem.reason}` }
}
