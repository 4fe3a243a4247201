// One event as one self-contained binary WAL record (frame: u32 length, u32 crc32, payload; see
// docs/wal-format.md), for shipping events elsewhere — the replication face publishes exactly
// these bytes — with the same encoder and decoder as the log, so there is one format.
import { CorruptionError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import { crc32Range } from './crc.js'
import { FRAME_HEADER_BYTES } from './format.js'
import { GrowBuffer, RecordDecodeError, decodeBinaryPayload, encodeBinaryRecord } from './recordCodec.js'

/** Values larger than this are LZ4-compressed in a shipped record (the log's default threshold). */
const COMPRESS_THRESHOLD = 1024

const scratch = new GrowBuffer(1 << 12)

/**
 * The binary WAL record of `ev`, in a buffer of its own. The encoding is deterministic: the same
 * event always gives the same bytes, so two copies of an event can be compared byte for byte.
 */
export function encodeEvent(ev: WalEvent): Buffer {
  scratch.reset()
  encodeBinaryRecord(scratch, ev, COMPRESS_THRESHOLD)
  return Buffer.from(scratch.view())
}

/** The event of a record made by encodeEvent; CorruptionError when the bytes are not one whole, intact record. */
export function decodeEvent(bytes: Uint8Array): WalEvent {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length < FRAME_HEADER_BYTES) throw new CorruptionError(`event record is ${b.length} bytes, shorter than its frame header`)
  const len = b.readUInt32LE(0)
  const end = FRAME_HEADER_BYTES + len
  if (end !== b.length) throw new CorruptionError(`event record frames ${len} payload bytes but holds ${b.length - FRAME_HEADER_BYTES}`)
  if (crc32Range(b, FRAME_HEADER_BYTES, end) !== b.readUInt32LE(4)) throw new CorruptionError('event record checksum mismatch')
  try {
    return decodeBinaryPayload(b, FRAME_HEADER_BYTES, end)
  } catch (err) {
    if (err instanceof RecordDecodeError) throw new CorruptionError(`event record does not decode: ${err.message}`, { cause: err })
    throw err
  }
}
