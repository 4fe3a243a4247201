// Checkpoint file layout (docs/checkpoint-format.md is the prose version):
//   header (40 bytes): "ISLABCKP" | u16 version | u16 0 | u32 0 | u64 seq | f64 time | u32 0 | u32 crc32(bytes 0..35)
//   frames:            u8 kind | u32 payload length | u32 crc32(payload) | payload
//     kind 1, entries:   u32 count | LZ4 block with u32 raw-length prefix, holding `count` entries of
//                        u16 key length | key UTF-8 | u64 seq | f64 time | u32 value length | value (msgpack)
//     kind 3, plain entries (version 2): u32 count | count × u32 FNV-1a hash of the key's bytes |
//                        the same `count` entries as kind 1's, uncompressed
//     kind 2, extension: u16 name length | name UTF-8 | data (msgpack, owned by the extension)
//     kind 255, footer:  u64 seq | u64 entries | u32 entry frames | u32 extension frames
//   The footer is the last frame and ends exactly at the end of the file.
// All integers little-endian.
import { crc32 } from 'node:zlib'
import { parseSeqFileName, readU64, seqFileName, writeU64 } from '../wal/format.js'

export const CHECKPOINT_MAGIC = 'ISLABCKP'
/**
 * Version 2 writes plain entries frames (kind 3): no LZ4, and each key's hash stored, so a load
 * neither decompresses nor re-hashes. Version 1 files (kind 1 frames) still load.
 */
export const CHECKPOINT_VERSION = 2
export const CHECKPOINT_SUFFIX = '.ckpt'
export const CHECKPOINT_HEADER_BYTES = 40
export const FRAME_HEADER_BYTES = 9
export const FRAME_ENTRIES = 1
export const FRAME_EXTENSION = 2
export const FRAME_PLAIN_ENTRIES = 3
export const FRAME_FOOTER = 255
export const FOOTER_PAYLOAD_BYTES = 24

/** Checkpoint file name: the seq it materializes. */
export function checkpointName(seq: number): string {
  return seqFileName(seq, CHECKPOINT_SUFFIX)
}

export function parseCheckpointName(name: string): number | undefined {
  return parseSeqFileName(name, CHECKPOINT_SUFFIX)
}

export function encodeCheckpointHeader(seq: number, time: number, version = CHECKPOINT_VERSION): Buffer {
  const b = Buffer.alloc(CHECKPOINT_HEADER_BYTES)
  b.write(CHECKPOINT_MAGIC, 0, 'latin1')
  b.writeUInt16LE(version, 8)
  writeU64(b, 16, seq)
  b.writeDoubleLE(time, 24)
  b.writeUInt32LE(crc32(b.subarray(0, 36)), 36)
  return b
}

export function decodeCheckpointHeader(b: Buffer): { seq: number; time: number; version: number } | string {
  if (b.length < CHECKPOINT_HEADER_BYTES) return `header is ${b.length} bytes, expected ${CHECKPOINT_HEADER_BYTES}`
  if (b.toString('latin1', 0, 8) !== CHECKPOINT_MAGIC) return 'bad magic'
  if (b.readUInt32LE(36) !== crc32(b.subarray(0, 36))) return 'header checksum mismatch'
  const version = b.readUInt16LE(8)
  if (version !== 1 && version !== CHECKPOINT_VERSION) return `unsupported version ${version}`
  return { seq: readU64(b, 16), time: b.readDoubleLE(24), version }
}

/** Wraps a payload in a frame: kind, length, checksum. */
export function frame(kind: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  b[0] = kind
  b.writeUInt32LE(payload.length, 1)
  b.writeUInt32LE(crc32(payload), 5)
  b.set(payload, FRAME_HEADER_BYTES)
  return b
}

export interface Footer {
  seq: number
  entries: number
  entryFrames: number
  extensionFrames: number
}

export function encodeFooter(f: Footer): Buffer {
  const p = Buffer.alloc(FOOTER_PAYLOAD_BYTES)
  writeU64(p, 0, f.seq)
  writeU64(p, 8, f.entries)
  p.writeUInt32LE(f.entryFrames, 16)
  p.writeUInt32LE(f.extensionFrames, 20)
  return frame(FRAME_FOOTER, p)
}

export function decodeFooter(p: Buffer): Footer {
  return { seq: readU64(p, 0), entries: readU64(p, 8), entryFrames: p.readUInt32LE(16), extensionFrames: p.readUInt32LE(20) }
}
