// A WAL segment's bytes made from events by the engine's own encoders, for format tests.
import type { WalEvent } from '../../src/events/types.js'
import { encodeSegmentHeader } from '../../src/wal/format.js'
import { GrowBuffer, encodeBinaryRecord, encodeJsonRecord } from '../../src/wal/recordCodec.js'

/** The segment holding `events` (first seq from the first event), and where each record ends (ends[0]: the header's end). */
export function encodeSegment(format: 'binary' | 'json', events: WalEvent[]): { bytes: Buffer; ends: number[] } {
  const out = new GrowBuffer(256)
  out.append(encodeSegmentHeader(format, events[0]!.seq))
  const ends = [out.pos]
  for (const ev of events) {
    if (format === 'binary') encodeBinaryRecord(out, ev, 1024)
    else encodeJsonRecord(out, ev)
    ends.push(out.pos)
  }
  return { bytes: Buffer.from(out.view()), ends }
}
