// Writes a checkpoint: the state as of one seq, materialized. Entries are immutable, so the
// snapshot is just the list of (key, entry) references taken in one synchronous step; encoding
// and I/O then proceed a few MiB at a time, yielding to the event loop at each write so writers
// are not stalled. Version 2 layout: plain chunks with each key's hash, so that opening loads
// them without LZ4 or re-hashing. Temp file, fdatasync, rename, fsync the directory.
import path from 'node:path'
import { crc32 } from 'node:zlib'
import type { FileLayer } from '../io/fileLayer.js'
import { hashBytes } from '../state/baseTable.js'
import type { BaseView } from '../state/baseTable.js'
import type { Entry } from '../state/entry.js'
import { ENTANGLEMENT_EXTENSION } from '../state/entanglements.js'
import { EXPIRY_EXTENSION } from '../state/deadlines.js'
import type { MemoryState } from '../state/memoryState.js'
import { GrowBuffer } from '../wal/recordCodec.js'
import { writeU64 } from '../wal/format.js'
import { FRAME_EXTENSION, FRAME_HEADER_BYTES, FRAME_PLAIN_ENTRIES, checkpointName, encodeCheckpointHeader, encodeFooter, frame } from './format.js'

/** Entries per chunk: a load yields to the event loop between chunks, so a chunk is well under a time slice. */
const CHUNK_ENTRIES = 4096
/** Bytes gathered before each write to the file. */
const WRITE_BYTES = 4 << 20
const FNV_OFFSET = 0x811c9dc5 | 0
const FNV_PRIME = 16777619

export interface Snapshot {
  seq: number
  time: number
  /** The keys in the state's Map and their entries. */
  keys: string[]
  entries: Entry[]
  /** The keys still in the state's base table (not touched since the open), as of the snapshot. */
  base: { view: BaseView; live: number } | undefined
  /** Named blobs from subsystems whose state cannot be derived from the log (physics, ...). */
  extensions: { name: string; data: Uint8Array }[]
}

/**
 * The state as of now. State kept in extension frames (the entanglements) is taken from `state`
 * itself, replacing any blob of that name in `extensions`, so a caller carrying the blobs of an
 * older checkpoint forward cannot write stale ones.
 */
export function takeSnapshot(state: MemoryState, seq: number, extensions: Snapshot['extensions']): Snapshot {
  const keys = Array.from(state.entries.keys())
  const entries = Array.from(state.entries.values())
  const exts = extensions.filter((e) => e.name !== ENTANGLEMENT_EXTENSION && e.name !== EXPIRY_EXTENSION)
  if (state.entanglements.keys > 0) exts.push({ name: ENTANGLEMENT_EXTENSION, data: state.entanglements.encode() })
  // Deadlines of the versions the snapshot holds (a record whose version was replaced is left out).
  if (state.deadlines.size > 0) exts.push({ name: EXPIRY_EXTENSION, data: state.deadlines.encode((d) => state.seqOf(d.key) === d.seq) })
  return { seq, time: Date.now(), keys, entries, base: state.baseView(), extensions: exts }
}

export interface CheckpointWritten {
  file: string
  seq: number
  entries: number
  bytes: number
  timeMs: number
}

export async function writeCheckpoint(files: FileLayer, dir: string, snap: Snapshot): Promise<CheckpointWritten> {
  const started = performance.now()
  const name = checkpointName(snap.seq)
  const tmp = path.join(dir, `${name}.tmp`)
  if (files.exists(tmp)) files.unlink(tmp)
  const file = files.openAppend(tmp)
  let bytes = 0
  const total = snap.keys.length + (snap.base?.live ?? 0)
  // Frames are encoded in place into `out`, which goes to the file in writes of a few MiB: one
  // write per frame cost a thread-pool round trip each.
  const out = new GrowBuffer(WRITE_BYTES + (1 << 20))
  const drain = async (): Promise<void> => {
    await file.write(out.view())
    bytes += out.pos
    out.reset()
  }
  try {
    out.append(encodeCheckpointHeader(snap.seq, snap.time))
    let entryFrames = 0
    const view = snap.base?.view
    let row = 0
    for (let start = 0; start < total; start += CHUNK_ENTRIES) {
      const end = Math.min(start + CHUNK_ENTRIES, total)
      const count = end - start
      // Frame header, count and hashes first (filled in as the entries are written), then the entries.
      out.ensure(FRAME_HEADER_BYTES + 4 + 4 * count)
      const at = out.pos
      out.buf.writeUInt32LE(count, at + FRAME_HEADER_BYTES)
      let h = at + FRAME_HEADER_BYTES + 4
      out.pos = h + 4 * count
      for (let i = start; i < end; i++, h += 4) {
        let hash: number
        if (i < snap.keys.length) {
          hash = encodeEntry(out, snap.keys[i]!, snap.entries[i]!)
        } else {
          while (!view!.isLive(row)) row++
          hash = encodeBaseRow(out, view!, row++)
        }
        out.buf.writeInt32LE(hash, h)
      }
      const b = out.buf
      const payload = b.subarray(at + FRAME_HEADER_BYTES, out.pos)
      b[at] = FRAME_PLAIN_ENTRIES
      b.writeUInt32LE(payload.length, at + 1)
      b.writeUInt32LE(crc32(payload), at + 5)
      entryFrames++
      if (out.pos >= WRITE_BYTES) await drain()
    }
    for (const ext of snap.extensions) {
      const nameBytes = Buffer.from(ext.name, 'utf8')
      const payload = Buffer.allocUnsafe(2 + nameBytes.length + ext.data.length)
      payload.writeUInt16LE(nameBytes.length, 0)
      payload.set(nameBytes, 2)
      payload.set(ext.data, 2 + nameBytes.length)
      out.append(frame(FRAME_EXTENSION, payload))
    }
    out.append(encodeFooter({ seq: snap.seq, entries: total, entryFrames, extensionFrames: snap.extensions.length }))
    await drain()
    await file.datasync()
  } finally {
    await file.close()
  }
  const final = path.join(dir, name)
  files.rename(tmp, final)
  files.syncDir(dir)
  return { file: final, seq: snap.seq, entries: total, bytes, timeMs: performance.now() - started }
}

/**
 * Writes one entry (u16 key length, key, u64 seq, f64 time, u32 value length, value) and
 * returns the hash of the key's bytes. ASCII keys are copied and hashed in one loop.
 */
function encodeEntry(out: GrowBuffer, key: string, e: Entry): number {
  const n = key.length
  out.ensure(2 + n * 3 + 20 + e.bytes.length)
  const b = out.buf
  let p = out.pos
  let kLen = n
  let h = FNV_OFFSET
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i)
    if (c >= 0x80) {
      kLen = -1
      break
    }
    b[p + 2 + i] = c
    h = Math.imul(h ^ c, FNV_PRIME)
  }
  if (kLen < 0) {
    kLen = b.write(key, p + 2, 'utf8')
    h = hashBytes(b, p + 2, kLen)
  }
  b[p] = kLen & 0xff
  b[p + 1] = kLen >>> 8
  p += 2 + kLen
  writeU64(b, p, e.seq)
  b.writeDoubleLE(e.time, p + 8)
  const v = e.bytes
  b.writeUInt32LE(v.length, p + 16)
  copyInto(v, b, p + 20)
  out.pos = p + 20 + v.length
  return h
}

/** Same layout as encodeEntry, copied from a base row's bytes without decoding them. */
function encodeBaseRow(out: GrowBuffer, v: BaseView, row: number): number {
  const kLen = v.keyLength(row)
  const vLen = v.valueLength(row)
  out.ensure(2 + kLen + 20 + vLen)
  const b = out.buf
  let p = out.pos
  b.writeUInt16LE(kLen, p)
  v.copyKey(row, b, p + 2)
  const h = hashBytes(b, p + 2, kLen)
  p += 2 + kLen
  writeU64(b, p, v.seq(row))
  b.writeDoubleLE(v.time(row), p + 8)
  b.writeUInt32LE(vLen, p + 16)
  v.copyValue(row, b, p + 20)
  out.pos = p + 20 + vLen
  return h
}

/** Short copies in JS: Buffer#set's checks cost more than copying ~100 bytes. */
function copyInto(from: Uint8Array, to: Buffer, at: number): void {
  const n = from.length
  if (n > 256) {
    to.set(from, at)
    return
  }
  for (let i = 0; i < n; i++) to[at + i] = from[i]!
}
