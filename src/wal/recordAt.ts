// Reads the one record that starts at a known offset of a segment: how time travel fetches an
// old version without scanning the log. Same checks as the sequential reader: checksum, decode.
import path from 'node:path'
import { CorruptionError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { crc32Range } from './crc.js'
import { FRAME_HEADER_BYTES, parseJsonLineWithCrc, segmentName } from './format.js'
import { decodeBinaryPayload, decodeJsonRecord } from './recordCodec.js'

export function readRecordAt(files: FileLayer, dir: string, segment: number, offset: number): WalEvent {
  const p = path.join(dir, segmentName(segment))
  const damaged = (reason: string) =>
    new CorruptionError(`WAL segment ${segmentName(segment)} has no valid record at byte ${offset} (${reason})`, { file: p, offset })
  const first = files.readRange(p, 0, 1)
  if (first[0] === 0x7b /* { */) {
    // JSON segment: the record is one line.
    let want = 4096
    for (;;) {
      const b = files.readRange(p, offset, want)
      const nl = b.indexOf(0x0a)
      if (nl >= 0) {
        const parsed = parseJsonLineWithCrc(b.toString('utf8', 0, nl))
        if (typeof parsed !== 'object' || parsed === null) throw damaged(String(parsed))
        return decodeJsonRecord(parsed)
      }
      if (b.length < want) throw damaged('line is not terminated')
      want *= 4
    }
  }
  const head = files.readRange(p, offset, FRAME_HEADER_BYTES)
  if (head.length < FRAME_HEADER_BYTES) throw damaged('frame header cut short')
  const len = head.readUInt32LE(0)
  const payload = files.readRange(p, offset + FRAME_HEADER_BYTES, len)
  if (payload.length < len) throw damaged('record cut short')
  if (crc32Range(payload, 0, len) !== head.readUInt32LE(4)) throw damaged('checksum mismatch')
  return decodeBinaryPayload(payload, 0, len)
}
