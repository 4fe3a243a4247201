// Reads and verifies a checkpoint: header, every frame's checksum, the footer's counts and seq,
// and that the footer ends the file. Damage throws CheckpointDamage; the caller decides to skip
// to an older checkpoint. Checksums and the footer are verified before any entry is delivered;
// a chunk that then fails to decode still throws after earlier chunks were delivered, so
// callers load into a scratch state.
import { uncompressSync } from 'lz4-napi'
import { crc32 } from 'node:zlib'
import type { FileLayer } from '../io/fileLayer.js'
import type { MemoryState } from '../state/memoryState.js'
import { readU64 } from '../wal/format.js'
import {
  CHECKPOINT_HEADER_BYTES,
  FOOTER_PAYLOAD_BYTES,
  FRAME_ENTRIES,
  FRAME_EXTENSION,
  FRAME_FOOTER,
  FRAME_HEADER_BYTES,
  decodeCheckpointHeader,
  decodeFooter,
} from './format.js'

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
 * One checkpoint entry, as bytes in a decompressed chunk: the key is raw[kOff, kOff + kLen),
 * the msgpack value raw[vOff, vOff + vLen). The chunk buffer is the caller's to keep.
 */
export type CheckpointEntrySink = (raw: Buffer, kOff: number, kLen: number, vOff: number, vLen: number, seq: number, time: number) => void

/**
 * Verifies the file, then calls `onEntry` for every entry in order. `onProgress` is told the
 * entries loaded so far, the total, and the bytes read.
 */
export function readCheckpoint(
  files: FileLayer,
  file: string,
  onEntry: CheckpointEntrySink,
  onProgress?: (p: CheckpointProgress) => void,
  /** The seq the file name promises. */
  expectedSeq?: number,
): LoadedCheckpoint {
  const b = files.readFile(file)
  const header = decodeCheckpointHeader(b)
  if (typeof header === 'string') throw new CheckpointDamage(file, 0, header)
  if (expectedSeq !== undefined && header.seq !== expectedSeq) {
    throw new CheckpointDamage(file, 0, `header seq ${header.seq} does not match the file name's ${expectedSeq}`)
  }
  // Pass 1: frames and checksums, so nothing is loaded from a damaged file.
  const chunks: { start: number; end: number; count: number }[] = []
  const extensions = new Map<string, Uint8Array>()
  let p = CHECKPOINT_HEADER_BYTES
  let footer: ReturnType<typeof decodeFooter> | undefined
  let counted = 0
  while (p < b.length) {
    if (p + FRAME_HEADER_BYTES > b.length) throw new CheckpointDamage(file, p, 'frame header cut short')
    const kind = b[p]!
    const len = b.readUInt32LE(p + 1)
    const s = p + FRAME_HEADER_BYTES
    if (s + len > b.length) throw new CheckpointDamage(file, p, 'frame cut short')
    if (crc32(b.subarray(s, s + len)) !== b.readUInt32LE(p + 5)) throw new CheckpointDamage(file, p, 'checksum mismatch')
    if (kind === FRAME_ENTRIES) {
      if (len < 4) throw new CheckpointDamage(file, p, 'entries frame too short')
      const count = b.readUInt32LE(s)
      chunks.push({ start: s + 4, end: s + len, count })
      counted += count
    } else if (kind === FRAME_EXTENSION) {
      const n = len >= 2 ? b.readUInt16LE(s) : Infinity
      if (2 + n > len) throw new CheckpointDamage(file, p, 'extension frame too short for its name')
      extensions.set(b.toString('utf8', s + 2, s + 2 + n), b.subarray(s + 2 + n, s + len))
    } else if (kind === FRAME_FOOTER) {
      if (len !== FOOTER_PAYLOAD_BYTES) throw new CheckpointDamage(file, p, `footer is ${len} bytes, expected ${FOOTER_PAYLOAD_BYTES}`)
      footer = decodeFooter(b.subarray(s, s + len))
      if (s + len !== b.length) throw new CheckpointDamage(file, s + len, 'bytes after the footer')
    } else {
      throw new CheckpointDamage(file, p, `unknown frame kind ${kind}`)
    }
    p = s + len
  }
  if (footer === undefined) throw new CheckpointDamage(file, b.length, 'no footer: the file is truncated')
  if (footer.seq !== header.seq) throw new CheckpointDamage(file, b.length, `footer seq ${footer.seq} ≠ header seq ${header.seq}`)
  if (footer.entries !== counted || footer.entryFrames !== chunks.length || footer.extensionFrames !== extensions.size) {
    throw new CheckpointDamage(file, b.length, 'footer counts do not match the frames')
  }
  // Pass 2: decode entries.
  let done = 0
  for (const c of chunks) {
    let raw: Buffer
    try {
      raw = uncompressSync(b.subarray(c.start, c.end))
    } catch (err) {
      throw new CheckpointDamage(file, c.start, `chunk does not decompress: ${(err as Error).message}`)
    }
    let q = 0
    for (let i = 0; i < c.count; i++) {
      if (q + 2 > raw.length) throw new CheckpointDamage(file, c.start, 'chunk ends inside an entry')
      const kn = raw[q]! | (raw[q + 1]! << 8)
      const kOff = q + 2
      q = kOff + kn
      if (kn === 0 || q + 20 > raw.length) throw new CheckpointDamage(file, c.start, 'chunk ends inside an entry')
      const seq = readU64(raw, q)
      const time = raw.readDoubleLE(q + 8)
      const vn = raw.readUInt32LE(q + 16)
      q += 20
      if (q + vn > raw.length || seq > header.seq) throw new CheckpointDamage(file, c.start, 'malformed entry')
      onEntry(raw, kOff, kn, q, vn, seq, time)
      q += vn
    }
    if (q !== raw.length) throw new CheckpointDamage(file, c.start, 'chunk has trailing bytes')
    done += c.count
    onProgress?.({ done, total: counted, bytes: c.end })
  }
  return { seq: header.seq, time: header.time, entries: counted, bytes: b.length, extensions }
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
