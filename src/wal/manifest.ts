// The MANIFEST: one small file naming the segments and checkpoints the directory must hold, so
// that recovery can tell a deleted or shortened file from an interrupted write (LevelDB's
// MANIFEST/CURRENT, reduced to one file). It changes rarely — a segment created at rotation,
// files deleted at prune, a rewrite by `islab compact`/`convert` — never per write, and always
// atomically: a temp file, fsync, rename, fsync of the directory. docs/wal-format.md describes it.
import path from 'node:path'
import type { FileLayer } from '../io/fileLayer.js'
import { jsonLineWithCrc, parseJsonLineWithCrc, segmentName } from './format.js'
import type { SegmentFile } from './logReader.js'

export const MANIFEST_FILE = 'MANIFEST'
export const MANIFEST_TMP = 'MANIFEST.tmp'
const MAGIC = 'ISLABMANIFEST'
const VERSION = 1

export interface ManifestSegment {
  firstSeq: number
  /**
   * The segment's length when the writer sealed it (fsynced, then started the next one): it never
   * changes again. Absent for the newest segment, which is still appended to, and for a segment
   * whose sealed length is not known.
   */
  bytes?: number
}

export interface Manifest {
  /** Every seq up to this one was durable when the manifest was written: recovery must reach it. */
  seq: number
  /** By ascending firstSeq. */
  segments: ManifestSegment[]
  /** Seqs of the checkpoints that must exist, ascending. */
  checkpoints: number[]
  /**
   * Segments (firstSeq) whose new content is committed in `<segment name>.rewrite`: a crash
   * left the rename undone, and recovery completes it.
   */
  rewrites: number[]
}

/** The MANIFEST exists but does not pass its checks: it was damaged after it was written. */
export class ManifestDamage extends Error {}

export function emptyManifest(): Manifest {
  return { seq: 0, segments: [], checkpoints: [], rewrites: [] }
}

/** The directory's manifest, undefined when it has none (a directory of an older version). */
export function readManifest(files: FileLayer, dir: string): Manifest | undefined {
  const p = path.join(dir, MANIFEST_FILE)
  if (!files.exists(p)) return undefined
  return decodeManifest(files.readFile(p))
}

export function encodeManifest(m: Manifest): Buffer {
  return Buffer.from(
    jsonLineWithCrc({
      magic: MAGIC,
      version: VERSION,
      seq: m.seq,
      segments: m.segments.map((s) => (s.bytes === undefined ? { firstSeq: s.firstSeq } : { firstSeq: s.firstSeq, bytes: s.bytes })),
      checkpoints: m.checkpoints,
      rewrites: m.rewrites,
    }),
    'utf8',
  )
}

export function decodeManifest(bytes: Buffer): Manifest {
  const nl = bytes.indexOf(0x0a)
  if (nl !== bytes.length - 1) throw new ManifestDamage('MANIFEST is not exactly one terminated line')
  const parsed = parseJsonLineWithCrc(bytes.toString('utf8', 0, nl))
  if (typeof parsed !== 'object' || parsed === null) throw new ManifestDamage(`MANIFEST: ${String(parsed)}`)
  const j = parsed as Record<string, unknown>
  if (j.magic !== MAGIC) throw new ManifestDamage('MANIFEST: bad magic')
  if (j.version !== VERSION) throw new ManifestDamage(`MANIFEST: unsupported version ${String(j.version)}`)
  const seqs = (v: unknown, what: string, min: number): number[] => {
    if (!Array.isArray(v) || !v.every((n) => Number.isSafeInteger(n) && (n as number) >= min)) throw new ManifestDamage(`MANIFEST: bad ${what}`)
    return v as number[]
  }
  if (!Number.isSafeInteger(j.seq) || (j.seq as number) < 0) throw new ManifestDamage('MANIFEST: bad seq')
  if (!Array.isArray(j.segments)) throw new ManifestDamage('MANIFEST: bad segments')
  const segments = j.segments.map((s: unknown): ManifestSegment => {
    const o = s as { firstSeq?: unknown; bytes?: unknown }
    if (typeof o !== 'object' || o === null || !Number.isSafeInteger(o.firstSeq) || (o.firstSeq as number) < 1) {
      throw new ManifestDamage('MANIFEST: bad segment entry')
    }
    if (o.bytes === undefined) return { firstSeq: o.firstSeq as number }
    if (!Number.isSafeInteger(o.bytes) || (o.bytes as number) < 0) throw new ManifestDamage('MANIFEST: bad segment length')
    return { firstSeq: o.firstSeq as number, bytes: o.bytes as number }
  })
  return { seq: j.seq as number, segments, checkpoints: seqs(j.checkpoints, 'checkpoints', 0), rewrites: seqs(j.rewrites, 'rewrites', 1) }
}

/** Replaces the manifest atomically and durably: temp file (fsynced), rename, directory fsync. */
export function writeManifest(files: FileLayer, dir: string, m: Manifest): void {
  m.segments.sort((a, b) => a.firstSeq - b.firstSeq)
  m.checkpoints.sort((a, b) => a - b)
  const tmp = path.join(dir, MANIFEST_TMP)
  files.writeFileDurable(tmp, encodeManifest(m))
  files.rename(tmp, path.join(dir, MANIFEST_FILE))
  files.syncDir(dir)
}

/**
 * Reads, changes and rewrites the manifest. A directory without one (never opened by this
 * version: recovery creates it) is left alone. Synchronous from read to rename, so two updates
 * in one process never interleave.
 */
export function updateManifest(files: FileLayer, dir: string, change: (m: Manifest) => void): void {
  const m = readManifest(files, dir)
  if (m === undefined) return
  change(m)
  writeManifest(files, dir, m)
}

/** Adds a segment the writer just created (header fsynced, directory entry fsynced). */
export function addSegment(m: Manifest, firstSeq: number, sealed: { firstSeq: number; bytes: number } | undefined): void {
  if (sealed !== undefined) {
    const s = m.segments.find((x) => x.firstSeq === sealed.firstSeq)
    if (s !== undefined) s.bytes = sealed.bytes
  }
  // Everything before the new segment is in sealed segments, fsynced before it was created.
  m.seq = Math.max(m.seq, firstSeq - 1)
  if (!m.segments.some((x) => x.firstSeq === firstSeq)) m.segments.push({ firstSeq })
  m.segments.sort((a, b) => a.firstSeq - b.firstSeq)
}

export function removeSegments(m: Manifest, firstSeqs: Iterable<number>): void {
  const gone = new Set(firstSeqs)
  m.segments = m.segments.filter((s) => !gone.has(s.firstSeq))
}

export function sameManifest(a: Manifest, b: Manifest): boolean {
  return encodeManifest(a).equals(encodeManifest(b))
}

/** A segment that does not match the MANIFEST. */
export interface FileProblem {
  kind: 'missing' | 'resized' | 'stray'
  firstSeq: number
  file: string
  message: string
}

/**
 * Compares the segments present with the MANIFEST. Named but missing, or not of its sealed
 * length: a problem. Not named: newer than everything it names and above its seq, a segment
 * whose creation a crash interrupted before the MANIFEST named it (fine); older than everything
 * it names and at or below its seq, one a prune took out of it but had not deleted yet (a
 * leftover); anything else, a problem (a stray). Problems come sorted by firstSeq.
 */
export function compareWithManifest(m: Manifest, present: SegmentFile[]): { problems: FileProblem[]; leftovers: SegmentFile[] } {
  const byFirst = new Map(present.map((s) => [s.firstSeq, s]))
  const problems: FileProblem[] = []
  for (const s of m.segments) {
    const file = segmentName(s.firstSeq)
    const f = byFirst.get(s.firstSeq)
    if (f === undefined) {
      problems.push({ kind: 'missing', firstSeq: s.firstSeq, file, message: `WAL segment ${file}, holding seqs from ${s.firstSeq}, is missing (the MANIFEST names it)` })
    } else if (s.bytes !== undefined && f.size !== s.bytes) {
      problems.push({
        kind: 'resized',
        firstSeq: s.firstSeq,
        file,
        message: `WAL segment ${file} is ${f.size} bytes but was sealed at ${s.bytes} bytes (the MANIFEST records its length)`,
      })
    }
  }
  const named = new Set(m.segments.map((s) => s.firstSeq))
  const firstNamed = m.segments[0]?.firstSeq ?? Infinity
  const lastNamed = m.segments.at(-1)?.firstSeq ?? 0
  const leftovers: SegmentFile[] = []
  for (const f of present) {
    if (named.has(f.firstSeq)) continue
    if (f.firstSeq > lastNamed && f.firstSeq > m.seq) continue
    if (f.firstSeq < firstNamed && f.firstSeq <= m.seq) leftovers.push(f)
    else problems.push({ kind: 'stray', firstSeq: f.firstSeq, file: f.name, message: `WAL segment ${f.name} is not named by the MANIFEST, and no interrupted operation explains it` })
  }
  problems.sort((a, b) => a.firstSeq - b.firstSeq)
  return { problems, leftovers }
}
