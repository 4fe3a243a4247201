// Writes a checkpoint: the state as of one seq, materialized. Entries are immutable, so the
// snapshot is just the list of (key, entry) references taken in one synchronous step; encoding,
// compression and I/O then proceed chunk by chunk, yielding to the event loop between chunks
// so writers are not stalled. Temp file, fdatasync, rename, fsync the directory.
import path from 'node:path'
import { compressSync } from '../events/lz4.js'
import type { FileLayer } from '../io/fileLayer.js'
import type { BaseView } from '../state/baseTable.js'
import type { Entry } from '../state/entry.js'
import { ENTANGLEMENT_EXTENSION } from '../state/entanglements.js'
import { EXPIRY_EXTENSION } from '../state/deadlines.js'
import type { MemoryState } from '../state/memoryState.js'
import { GrowBuffer } from '../wal/recordCodec.js'
import { writeU64 } from '../wal/format.js'
import { FRAME_ENTRIES, FRAME_EXTENSION, checkpointName, encodeCheckpointHeader, encodeFooter, frame } from './format.js'

/** Entries per chunk: large enough for LZ4 to find repetition, small enough to yield often. */
const CHUNK_ENTRIES = 4096

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
  const put = async (b: Uint8Array): Promise<void> => {
    await file.write(b)
    bytes += b.length
  }
  try {
    await put(encodeCheckpointHeader(snap.seq, snap.time))
    const raw = new GrowBuffer(1 << 20)
    let entryFrames = 0
    const total = snap.keys.length + (snap.base?.live ?? 0)
    const view = snap.base?.view
    let row = 0
    for (let start = 0; start < total; start += CHUNK_ENTRIES) {
      const end = Math.min(start + CHUNK_ENTRIES, total)
      raw.reset()
      for (let i = start; i < end; i++) {
        if (i < snap.keys.length) {
          encodeEntry(raw, snap.keys[i]!, snap.entries[i]!)
        } else {
          while (!view!.isLive(row)) row++
          encodeBaseRow(raw, view!, row++)
        }
      }
      const packed = compressSync(raw.view())
      const payload = Buffer.allocUnsafe(4 + packed.length)
      payload.writeUInt32LE(end - start, 0)
      payload.set(packed, 4)
      await put(frame(FRAME_ENTRIES, payload))
      entryFrames++
    }
    for (const ext of snap.extensions) {
      const nameBytes = Buffer.from(ext.name, 'utf8')
      const payload = Buffer.allocUnsafe(2 + nameBytes.length + ext.data.length)
      payload.writeUInt16LE(nameBytes.length, 0)
      payload.set(nameBytes, 2)
      payload.set(ext.data, 2 + nameBytes.length)
      await put(frame(FRAME_EXTENSION, payload))
    }
    await put(
      encodeFooter({ seq: snap.seq, entries: total, entryFrames, extensionFrames: snap.extensions.length }),
    )
    await file.datasync()
  } finally {
    await file.close()
  }
  const final = path.join(dir, name)
  files.rename(tmp, final)
  files.syncDir(dir)
  return { file: final, seq: snap.seq, entries: snap.keys.length + (snap.base?.live ?? 0), bytes, timeMs: performance.now() - started }
}

function encodeEntry(out: GrowBuffer, key: string, e: Entry): void {
  out.ensure(2 + key.length * 3 + 20 + e.bytes.length)
  const b = out.buf
  let p = out.pos
  const n = b.write(key, p + 2, 'utf8')
  b.writeUInt16LE(n, p)
  p += 2 + n
  writeU64(b, p, e.seq)
  b.writeDoubleLE(e.time, p + 8)
  b.writeUInt32LE(e.bytes.length, p + 16)
  b.set(e.bytes, p + 20)
  out.pos = p + 20 + e.bytes.length
}

/** Same layout as encodeEntry, copied from a base row's bytes without decoding them. */
function encodeBaseRow(out: GrowBuffer, v: BaseView, row: number): void {
  const kLen = v.keyLength(row)
  const vLen = v.valueLength(row)
  out.ensure(2 + kLen + 20 + vLen)
  const b = out.buf
  let p = out.pos
  b.writeUInt16LE(kLen, p)
  v.copyKey(row, b, p + 2)
  p += 2 + kLen
  writeU64(b, p, v.seq(row))
  b.writeDoubleLE(v.time(row), p + 8)
  b.writeUInt32LE(vLen, p + 16)
  v.copyValue(row, b, p + 20)
  out.pos = p + 20 + vLen
}
