// Reads and verifies a checkpoint: header, every frame's checksum, the footer's counts and seq,
// and that the footer ends the file. Damage throws CheckpointDamage; the caller decides to skip
// to an older checkpoint. Checksums and the footer are verified before any entry is delivered;
// a chunk that then fails to decode still throws after earlier chunks were delivered, so
// callers load into a scratch state. Version 2 files hold plain (uncompressed) chunks with each
// key's hash stored: loading them is a walk over the file's own bytes, no LZ4 and no re-hashing.
import { uncompressSync } from '../events/lz4.js'
import { crc32 } from 'node:zlib'
import type { FileLayer } from '../io/fileLayer.js'
import { TimeSlice } from '../io/timeSlice.js'
import type { MemoryState } from '../state/memoryState.js'
import { readF64, readU32, readU64 } from '../wal/format.js'
import {
  CHECKPOINT_HEADER_BYTES,
  FOOTER_PAYLOAD_BYTES,
  FRAME_ENTRIES,
  FRAME_EXTENSION,
  FRAME_FOOTER,
  FRAME_HEADER_BYTES,
  FRAME_PLAIN_ENTRIES,
  decodeCheckpointHeader,
  decodeFooter,
} from './format.js'
import type { Footer } from './format.js'

export class CheckpointDamage extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`checkpoint ${file} is damaged at byte ${offset}: ${reason}`)
  }
}

export interface LoadedCheckpoint {
  seq: number
  time: number
  entries: number
  bytes: number
  extensions: Map<string, Uint8Array>
}

export interface CheckpointProgress {
  done: number
  total: number
  bytes: number
}

/**
 * The `n` entries of one chunk, as places in it: entry k's key is at raw[pos[4k], +pos[4k+1]),
 * its msgpack value at raw[pos[4k+2], +pos[4k+3]), its seq is nums[2k] and its time
 * nums[2k+1]; `hashes[k]`, when given (version 2 chunks), is the FNV-1a hash of the key's bytes
 * (BaseTable's). The chunk buffer is the caller's to keep; `pos`, `nums` and `hashes` are reused
 * for the next chunk.
 */
export type CheckpointChunkSink = (raw: Buffer, n: number, pos: Int32Array, nums: Float64Array, hashes: Int32Array | undefined) => void

/** One entries frame: its payload's entries at b[start, end) (LZ4, or plain after `count` hashes). */
interface Chunk {
  start: number
  end: number
  count: number
  plain: boolean
}

/** A verified file: its header, entry chunks (payloads in `b`) and extensions. */
interface Verified {
  b: Buffer
  seq: number
  time: number
  chunks: Chunk[]
  counted: number
  extensions: Map<string, Uint8Array>
}

/** Where decoding puts one chunk's entry positions (grown as needed, reused from chunk to chunk). */
interface ChunkScratch {
  pos: Int32Array
  nums: Float64Array
  hashes: Int32Array
}

function newScratch(): ChunkScratch {
  return { pos: new Int32Array(0), nums: new Float64Array(0), hashes: new Int32Array(0) }
}

/**
 * Verifies the file, then calls `onChunk` for every chunk of entries in order. `onProgress` is told the
 * entries loaded so far, the total, and the bytes read.
 */
export function readCheckpoint(
  files: FileLayer,
  file: string,
  onChunk: CheckpointChunkSink,
  onProgress?: (p: CheckpointProgress) => void,
  /** The seq the file name promises. */
  expectedSeq?: number,
  /** Told the number of entries once the file is verified, before the first one is delivered. */
  onCount?: (entries: number) => void,
): LoadedCheckpoint {
  const v = verifyCheckpoint(files, file, expectedSeq)
  onCount?.(v.counted)
  const scratch = newScratch()
  let done = 0
  for (const c of v.chunks) {
    const raw = decodeChunk(file, v, c, scratch)
    onChunk(raw, c.count, scratch.pos, scratch.nums, c.plain ? scratch.hashes : undefined)
    done += c.count
    onProgress?.({ done, total: v.counted, bytes: c.end })
  }
  return { seq: v.seq, time: v.time, entries: v.counted, bytes: v.b.length, extensions: v.extensions }
}

/**
 * readCheckpoint in time slices, reading the file while it loads: the file is read in pieces,
 * several at a time off the event loop, and each entries frame is checked and delivered as soon
 * as its bytes are in, so reading overlaps decoding (reading first took a fifth of an open).
 * Between chunks, once a slice (src/io/timeSlice.ts) is used up, `onPause` runs (the loader
 * finishes what it batched) and a turn of the event loop goes by, so loading a large checkpoint
 * at open never stalls timers and I/O for long. Unlike readCheckpoint, chunks are delivered
 * before the frames after them are checked: damage found later still throws CheckpointDamage,
 * so the caller loads into a scratch state. `onCount` is told the footer's count before the
 * first chunk (a file whose end is not a footer is read whole first, then reported as
 * readCheckpoint reports it).
 */
export async function readCheckpointSliced(
  files: FileLayer,
  file: string,
  onChunk: CheckpointChunkSink,
  onPause: () => void,
  onProgress?: (p: CheckpointProgress) => void,
  expectedSeq?: number,
  onCount?: (entries: number) => void,
): Promise<LoadedCheckpoint> {
  const slice = new TimeSlice()
  const size = files.size(file)
  const b = Buffer.allocUnsafe(size)
  const reads = new PieceReads(files, file, b)
  const tail = footerAt(files, file, size)
  if (tail === undefined) {
    // No valid footer at the end: the whole-file check says exactly what is wrong.
    await reads.upTo(size)
    verifyFrames(file, b, expectedSeq)
    throw new CheckpointDamage(file, size, 'the file changed while it was read')
  }
  await reads.upTo(Math.min(size, CHECKPOINT_HEADER_BYTES))
  const header = checkHeader(file, b, expectedSeq)
  onCount?.(tail.entries)
  const w: FrameWalk = { chunks: [], counted: 0, extensions: new Map(), footer: undefined }
  const v: Verified = { b, seq: header.seq, time: header.time, chunks: w.chunks, counted: 0, extensions: w.extensions }
  const scratch = newScratch()
  let done = 0
  let p = CHECKPOINT_HEADER_BYTES
  while (p < size) {
    await reads.upTo(Math.min(size, p + FRAME_HEADER_BYTES))
    const next = frameEnd(file, b, p)
    await reads.upTo(next)
    const chunks = w.chunks.length
    p = checkFrame(file, b, p, header.version, w)
    if (w.chunks.length === chunks) continue
    if (slice.due()) {
      onPause()
      await slice.turn()
    }
    const c = w.chunks[chunks]!
    const raw = decodeChunk(file, v, c, scratch)
    onChunk(raw, c.count, scratch.pos, scratch.nums, c.plain ? scratch.hashes : undefined)
    done += c.count
    onProgress?.({ done, total: tail.entries, bytes: c.end })
  }
  checkFooter(file, b, header.seq, w)
  return { seq: header.seq, time: header.time, entries: w.counted, bytes: size, extensions: w.extensions }
}

/** Bytes per read of readCheckpointSliced, and reads under way at once (the thread pool runs 4). */
const PIECE_BYTES = 2 * 1024 * 1024
const PIECES_AHEAD = 4

/** Reads a file into `b` piece by piece, a few pieces ahead of what is asked for. */
class PieceReads {
  private readonly reads: Promise<number>[] = []
  /** Bytes from 0 known to be in `b`. */
  private ready = 0

  constructor(
    private readonly files: FileLayer,
    private readonly file: string,
    private readonly b: Buffer,
  ) {
    this.issue(PIECES_AHEAD)
  }

  /** Waits until b[0, end) is read. */
  async upTo(end: number): Promise<void> {
    while (this.ready < end) {
      const k = this.ready / PIECE_BYTES
      this.issue(k + 1 + PIECES_AHEAD)
      const want = Math.min(PIECE_BYTES, this.b.length - this.ready)
      const got = await this.reads[k]!
      if (got !== want) throw new CheckpointDamage(this.file, this.ready + got, 'the file is shorter than when it was opened')
      this.ready += want
    }
  }

  /** Starts the reads of pieces up to (not including) `k`. */
  private issue(k: number): void {
    for (let i = this.reads.length; i < k && i * PIECE_BYTES < this.b.length; i++) {
      const at = i * PIECE_BYTES
      const read = this.files.readIntoAsync(this.file, at, this.b, at, Math.min(PIECE_BYTES, this.b.length - at))
      // Awaited in order; one never awaited (an earlier piece threw) must not be an unhandled rejection.
      read.catch(() => undefined)
      this.reads.push(read)
    }
  }
}

/** The footer the file ends with, read on its own; undefined when its last bytes are not a valid footer frame. */
function footerAt(files: FileLayer, file: string, size: number): Footer | undefined {
  const n = FRAME_HEADER_BYTES + FOOTER_PAYLOAD_BYTES
  if (size < CHECKPOINT_HEADER_BYTES + n) return undefined
  const f = files.readRange(file, size - n, n)
  if (f.length !== n || f[0] !== FRAME_FOOTER || f.readUInt32LE(1) !== FOOTER_PAYLOAD_BYTES) return undefined
  const payload = f.subarray(FRAME_HEADER_BYTES)
  if (crc32(payload) !== f.readUInt32LE(5)) return undefined
  return decodeFooter(payload)
}

/** Pass 1: the header, every frame and checksum, and the footer, so nothing is loaded from a damaged file. */
function verifyCheckpoint(files: FileLayer, file: string, expectedSeq: number | undefined): Verified {
  return verifyFrames(file, files.readFile(file), expectedSeq)
}

function verifyFrames(file: string, b: Buffer, expectedSeq: number | undefined): Verified {
  const header = checkHeader(file, b, expectedSeq)
  const w: FrameWalk = { chunks: [], counted: 0, extensions: new Map(), footer: undefined }
  let p = CHECKPOINT_HEADER_BYTES
  while (p < b.length) {
    frameEnd(file, b, p)
    p = checkFrame(file, b, p, header.version, w)
  }
  checkFooter(file, b, header.seq, w)
  return { b, seq: header.seq, time: header.time, chunks: w.chunks, counted: w.counted, extensions: w.extensions }
}

function checkHeader(file: string, b: Buffer, expectedSeq: number | undefined): { seq: number; time: number; version: number } {
  const header = decodeCheckpointHeader(b)
  if (typeof header === 'string') throw new CheckpointDamage(file, 0, header)
  if (expectedSeq !== undefined && header.seq !== expectedSeq) {
    throw new CheckpointDamage(file, 0, `header seq ${header.seq} does not match the file name's ${expectedSeq}`)
  }
  return header
}

/** The frames checked so far. */
interface FrameWalk {
  chunks: Chunk[]
  counted: number
  extensions: Map<string, Uint8Array>
  footer: Footer | undefined
}

/** Where the frame at `p` ends, by its length; throws when the file ends first. */
function frameEnd(file: string, b: Buffer, p: number): number {
  if (p + FRAME_HEADER_BYTES > b.length) throw new CheckpointDamage(file, p, 'frame header cut short')
  const end = p + FRAME_HEADER_BYTES + b.readUInt32LE(p + 1)
  if (end > b.length) throw new CheckpointDamage(file, p, 'frame cut short')
  return end
}

/** Checks the frame at `p` (its bytes read: see frameEnd) and notes it in `w`; returns where the next one starts. */
function checkFrame(file: string, b: Buffer, p: number, version: number, w: FrameWalk): number {
  const kind = b[p]!
  const len = b.readUInt32LE(p + 1)
  const s = p + FRAME_HEADER_BYTES
  if (crc32(b.subarray(s, s + len)) !== b.readUInt32LE(p + 5)) throw new CheckpointDamage(file, p, 'checksum mismatch')
  // Each version has one kind of entries frame: the kind byte is outside the checksum, so a
  // flipped kind must not turn one into the other.
  if (kind === FRAME_ENTRIES && version === 1) {
    if (len < 4) throw new CheckpointDamage(file, p, 'entries frame too short')
    const count = b.readUInt32LE(s)
    w.chunks.push({ start: s + 4, end: s + len, count, plain: false })
    w.counted += count
  } else if (kind === FRAME_PLAIN_ENTRIES && version >= 2) {
    const count = len >= 4 ? b.readUInt32LE(s) : 0
    if (len < 4 || count === 0 || 4 + 4 * count > len) throw new CheckpointDamage(file, p, 'plain entries frame too short for its count')
    w.chunks.push({ start: s + 4 + 4 * count, end: s + len, count, plain: true })
    w.counted += count
  } else if (kind === FRAME_EXTENSION) {
    const n = len >= 2 ? b.readUInt16LE(s) : Infinity
    if (2 + n > len) throw new CheckpointDamage(file, p, 'extension frame too short for its name')
    w.extensions.set(b.toString('utf8', s + 2, s + 2 + n), b.subarray(s + 2 + n, s + len))
  } else if (kind === FRAME_FOOTER) {
    if (len !== FOOTER_PAYLOAD_BYTES) throw new CheckpointDamage(file, p, `footer is ${len} bytes, expected ${FOOTER_PAYLOAD_BYTES}`)
    w.footer = decodeFooter(b.subarray(s, s + len))
    if (s + len !== b.length) throw new CheckpointDamage(file, s + len, 'bytes after the footer')
  } else {
    throw new CheckpointDamage(file, p, `unknown frame kind ${kind}`)
  }
  return s + len
}

/** The footer must be there and agree with the header and the frames. */
function checkFooter(file: string, b: Buffer, seq: number, w: FrameWalk): void {
  const footer = w.footer
  if (footer === undefined) throw new CheckpointDamage(file, b.length, 'no footer: the file is truncated')
  if (footer.seq !== seq) throw new CheckpointDamage(file, b.length, `footer seq ${footer.seq} ≠ header seq ${seq}`)
  if (footer.entries !== w.counted || footer.entryFrames !== w.chunks.length || footer.extensionFrames !== w.extensions.size) {
    throw new CheckpointDamage(file, b.length, 'footer counts do not match the frames')
  }
}

/**
 * Pass 2, one chunk: decompressed (version 1) or viewed in place (version 2) and checked whole;
 * its entries' places go into `scratch`, and a plain chunk's stored hashes into scratch.hashes.
 */
function decodeChunk(file: string, v: Verified, c: Chunk, scratch: ChunkScratch): Buffer {
  let raw: Buffer
  if (c.plain) {
    raw = v.b.subarray(c.start, c.end)
  } else {
    try {
      raw = uncompressSync(v.b.subarray(c.start, c.end))
    } catch (err) {
      throw new CheckpointDamage(file, c.start, `chunk does not decompress: ${(err as Error).message}`)
    }
  }
  if (scratch.pos.length < 4 * c.count) {
    scratch.pos = new Int32Array(4 * c.count)
    scratch.nums = new Float64Array(2 * c.count)
    scratch.hashes = new Int32Array(c.count)
  }
  if (c.plain) {
    const b = v.b
    const hashes = scratch.hashes
    for (let i = 0, h = c.start - 4 * c.count; i < c.count; i++, h += 4) hashes[i] = b[h]! | (b[h + 1]! << 8) | (b[h + 2]! << 16) | (b[h + 3]! << 24)
  }
  const pos = scratch.pos
  const nums = scratch.nums
  let q = 0
  for (let i = 0; i < c.count; i++) {
    if (q + 2 > raw.length) throw new CheckpointDamage(file, c.start, 'chunk ends inside an entry')
    const kn = raw[q]! | (raw[q + 1]! << 8)
    const kOff = q + 2
    q = kOff + kn
    if (kn === 0 || q + 20 > raw.length) throw new CheckpointDamage(file, c.start, 'chunk ends inside an entry')
    const seq = readU64(raw, q)
    const vn = readU32(raw, q + 16)
    if (q + 20 + vn > raw.length || seq > v.seq) throw new CheckpointDamage(file, c.start, 'malformed entry')
    pos[4 * i] = kOff
    pos[4 * i + 1] = kn
    pos[4 * i + 2] = q + 20
    pos[4 * i + 3] = vn
    nums[2 * i] = seq
    nums[2 * i + 1] = readF64(raw, q + 8)
    q += 20 + vn
  }
  if (q !== raw.length) throw new CheckpointDamage(file, c.start, 'chunk has trailing bytes')
  return raw
}

/**
 * Restores the state that a checkpoint keeps in extension frames (the entanglements), before the
 * log after it is replayed. Data that does not decode makes the checkpoint damaged.
 */
export function loadStateExtensions(state: MemoryState, file: string, extensions: ReadonlyMap<string, Uint8Array>): void {
  try {
    state.loadCheckpointExtensions(extensions)
  } catch (err) {
    throw new CheckpointDamage(file, 0, `state extension does not decode: ${(err as Error).message}`)
  }
}

/** One key's entry in a checkpoint: the seq and time of its last write, and its msgpack value. */
export interface CheckpointEntry {
  seq: number
  time: number
  value: Buffer
}

/** Work per stretch of a lookup before it yields to the event loop. */
const LOOKUP_SLICE_MS = 8

/**
 * Finds one key's entry in a checkpoint file without loading the rest: reads it frame by frame
 * (checksums checked as it goes) and yields to the event loop between stretches of work, so a
 * large checkpoint never stalls writers. Undefined means the key is not in the checkpoint, said
 * only once every frame and the footer were read and verified; damage throws CheckpointDamage.
 * Entries are in no order, so this reads up to the whole file: it is for the rare reads that
 * need a value the log no longer holds (time travel before the oldest retained segment).
 */
export async function lookupCheckpointEntry(
  files: FileLayer,
  file: string,
  key: string,
  expectedSeq?: number,
): Promise<CheckpointEntry | undefined> {
  const header = decodeCheckpointHeader(files.readRange(file, 0, CHECKPOINT_HEADER_BYTES))
  if (typeof header === 'string') throw new CheckpointDamage(file, 0, header)
  if (expectedSeq !== undefined && header.seq !== expectedSeq) {
    throw new CheckpointDamage(file, 0, `header seq ${header.seq} does not match the file name's ${expectedSeq}`)
  }
  const want = Buffer.from(key, 'utf8')
  const size = files.size(file)
  let p = CHECKPOINT_HEADER_BYTES
  let counted = 0
  let entryFrames = 0
  let extensionFrames = 0
  let slice = performance.now()
  while (p < size) {
    if (performance.now() - slice > LOOKUP_SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve))
      slice = performance.now()
    }
    const head = files.readRange(file, p, FRAME_HEADER_BYTES)
    if (head.length < FRAME_HEADER_BYTES) throw new CheckpointDamage(file, p, 'frame header cut short')
    const kind = head[0]!
    const len = head.readUInt32LE(1)
    const s = p + FRAME_HEADER_BYTES
    if (kind === FRAME_EXTENSION) {
      // Not needed here; the full reader checks extensions.
      if (s + len > size) throw new CheckpointDamage(file, p, 'frame cut short')
      extensionFrames++
      p = s + len
      continue
    }
    const payload = files.readRange(file, s, len)
    if (payload.length < len) throw new CheckpointDamage(file, p, 'frame cut short')
    if (crc32(payload) !== head.readUInt32LE(5)) throw new CheckpointDamage(file, p, 'checksum mismatch')
    if (kind === FRAME_FOOTER) {
      if (len !== FOOTER_PAYLOAD_BYTES) throw new CheckpointDamage(file, p, `footer is ${len} bytes, expected ${FOOTER_PAYLOAD_BYTES}`)
      const footer = decodeFooter(payload)
      if (s + len !== size) throw new CheckpointDamage(file, s + len, 'bytes after the footer')
      if (footer.seq !== header.seq) throw new CheckpointDamage(file, size, `footer seq ${footer.seq} ≠ header seq ${header.seq}`)
      if (footer.entries !== counted || footer.entryFrames !== entryFrames || footer.extensionFrames !== extensionFrames) {
        throw new CheckpointDamage(file, size, 'footer counts do not match the frames')
      }
      return undefined
    }
    const plain = kind === FRAME_PLAIN_ENTRIES && header.version >= 2
    if (!(kind === FRAME_ENTRIES && header.version === 1) && !plain) throw new CheckpointDamage(file, p, `unknown frame kind ${kind}`)
    if (len < 4) throw new CheckpointDamage(file, p, 'entries frame too short')
    const count = payload.readUInt32LE(0)
    let raw: Buffer
    if (plain) {
      if (count === 0 || 4 + 4 * count > len) throw new CheckpointDamage(file, p, 'plain entries frame too short for its count')
      raw = payload.subarray(4 + 4 * count)
    } else {
      try {
        raw = uncompressSync(payload.subarray(4))
      } catch (err) {
        throw new CheckpointDamage(file, s + 4, `chunk does not decompress: ${(err as Error).message}`)
      }
    }
    let q = 0
    for (let i = 0; i < count; i++) {
      if (q + 2 > raw.length) throw new CheckpointDamage(file, s + 4, 'chunk ends inside an entry')
      const kn = raw[q]! | (raw[q + 1]! << 8)
      const kOff = q + 2
      q = kOff + kn
      if (kn === 0 || q + 20 > raw.length) throw new CheckpointDamage(file, s + 4, 'chunk ends inside an entry')
      const vn = readU32(raw, q + 16)
      if (q + 20 + vn > raw.length) throw new CheckpointDamage(file, s + 4, 'malformed entry')
      if (kn === want.length && raw.compare(want, 0, kn, kOff, kOff + kn) === 0) {
        return { seq: readU64(raw, q), time: readF64(raw, q + 8), value: raw.subarray(q + 20, q + 20 + vn) }
      }
      q += 20 + vn
    }
    counted += count
    entryFrames++
    p = s + len
  }
  throw new CheckpointDamage(file, size, 'no footer: the file is truncated')
}
