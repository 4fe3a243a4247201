// The lines of `islab dump` and `islab tail` (EventPrinter) are built byte by byte for speed;
// they must be exactly what JSON.stringify makes of the event with toTaggedJson values, for any
// event and any value encodeValue accepts.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EventPrinter } from '../../src/cli/eventFormat.js'
import type { ByteSink } from '../../src/cli/output.js'
import { toTaggedJson } from '../../src/events/taggedJson.js'
import type { Op, WalEvent } from '../../src/events/types.js'
import { decodeValue, encodeValue } from '../../src/events/valueCodec.js'
import { RecordPrinter, StopReading } from '../../src/cli/recordPrinter.js'
import { FRAME_HEADER_BYTES, RECORD_PUT } from '../../src/wal/format.js'
import { GrowBuffer, decodeBinaryPayload, encodeBinaryRecord, walkBinaryPayload } from '../../src/wal/recordCodec.js'

class MemorySink implements ByteSink {
  readonly out = new GrowBuffer(16)
  maybeFlush(): void {}
  line(text = ''): void {
    this.out.append(Buffer.from(`${text}\n`))
  }
}

function printed(events: WalEvent[], flat: boolean, prefix?: string): string {
  const sink = new MemorySink()
  const printer = new EventPrinter(sink, 'ndjson', { prefix, flat })
  for (const ev of events) printer.print(ev)
  return sink.out.view().toString('utf8')
}

/**
 * What dump prints reading the events' binary records: puts and deletes from the bytes
 * (RecordPrinter), the rest as events. compress: LZ4 for every value (a buffer of its own).
 */
function printedFromRecords(events: WalEvent[], flat: boolean, prefix: string | undefined, compress: boolean): string {
  const sink = new MemorySink()
  const records = new RecordPrinter(new EventPrinter(sink, 'ndjson', { prefix, flat }), sink, { fromTime: undefined, toTime: undefined }, undefined)
  const frame = new GrowBuffer(16)
  for (const ev of events) {
    frame.reset()
    encodeBinaryRecord(frame, ev, compress ? 0 : Infinity)
    walkBinaryPayload(frame.buf, FRAME_HEADER_BYTES, frame.pos, records)
  }
  records.finish(events.at(-1)!.seq)
  return sink.out.view().toString('utf8')
}

/** The events as the reader gives them back from their binary records (keys through UTF-8). */
function roundTrip(events: WalEvent[]): WalEvent[] {
  const frame = new GrowBuffer(16)
  return events.map((ev) => {
    frame.reset()
    encodeBinaryRecord(frame, ev, Infinity)
    return decodeBinaryPayload(Buffer.from(frame.view()), FRAME_HEADER_BYTES, frame.pos)
  })
}

/** What a line must be: the event as an object, through JSON.stringify. */
function reference(events: WalEvent[], flat: boolean): string {
  const opJson = (op: Op) => (op.type === 'put' ? { type: 'put', key: op.key, value: toTaggedJson(decodeValue(op.value)) } : { type: 'del', key: op.key })
  const lines: unknown[] = []
  for (const ev of events) {
    const head = { seq: ev.seq, time: ev.time, iso: new Date(ev.time).toISOString() }
    if (ev.type === 'batch') {
      if (flat) ev.ops.forEach((op, i) => lines.push({ ...head, ...opJson(op), batch: { op: i, ops: ev.ops.length } }))
      else lines.push({ ...head, type: 'batch', ops: ev.ops.map(opJson) })
    } else if (ev.type === 'entangle') {
      lines.push({ ...head, type: 'entangle', key: ev.key, partners: ev.partners, strength: ev.strength })
    } else {
      lines.push({ ...head, ...opJson(ev) })
    }
  }
  return lines.map((l) => `${JSON.stringify(l)}\n`).join('')
}

const text = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }).filter((s) => s.isWellFormed()),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', '\u2028', 'é', '😀', '$', 'a', '0') }),
)
const leaf = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, 127, 128, -32, -33, 65535, 65536, 2 ** 31, 2 ** 32, 2 ** 53, 0.1, 0.125, 1e21, 5e-324, NaN, Infinity, -Infinity),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array().map((a) => Buffer.from(a)),
  fc.uint8Array(),
  fc.int16Array(),
  fc.float64Array(),
)
const valueArb = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, tie('arr'), tie('obj'), tie('map'), tie('set'), tie('dollar')),
  arr: fc.array(fc.oneof(tie('v'), fc.constant(undefined)), { maxLength: 5 }),
  obj: fc.dictionary(fc.oneof(text, fc.constantFrom('$x', '__proto__', '12', 'a"b', '')), fc.oneof(tie('v'), fc.constant(undefined)), { maxKeys: 5 }),
  map: fc.array(fc.tuple(tie('v'), tie('v')), { maxLength: 3 }).map((e) => new Map(e)),
  set: fc.array(tie('v'), { maxLength: 3 }).map((e) => new Set(e)),
  dollar: fc.tuple(fc.constantFrom('$date', '$bytes', '$object', '$', '$x'), tie('v')).map(([k, v]) => ({ [k]: v })),
})).v

const keyArb = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), text.filter((k) => k.length > 0))
const encoded = valueArb.chain((v) => {
  try {
    return fc.constant(encodeValue(v))
  } catch {
    return fc.constant(encodeValue(null)) // e.g. an object whose __proto__ key made it look like a Date
  }
})
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ type: fc.constant('put' as const), key: keyArb, value: encoded }),
  fc.record({ type: fc.constant('del' as const), key: keyArb }),
)
const bodyArb = fc.oneof(
  opArb,
  fc.array(opArb, { minLength: 1, maxLength: 4 }).map((ops) => ({ type: 'batch' as const, ops })),
  fc.record({
    type: fc.constant('entangle' as const),
    key: keyArb,
    partners: fc.uniqueArray(keyArb, { maxLength: 10 }),
    strength: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 1, noNaN: true })),
  }),
)
// Several events per millisecond and jumps between them: the printer caches per time.
const eventsArb = fc
  .tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.array(fc.tuple(bodyArb, fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 12 }))
  .map(([first, bodies]) => {
    let time = 1_700_000_000_000
    return bodies.map(([b, step], i) => ({ ...b, seq: first + i, time: (time += step) }) as WalEvent)
  })

describe('EventPrinter (ndjson)', () => {
  it('prints exactly JSON.stringify of the event with tagged values, for any events', () => {
    fc.assert(
      fc.property(eventsArb, fc.boolean(), (events, flat) => {
        expect(printed(events, flat)).toBe(reference(events, flat))
      }),
      { numRuns: 1500 },
    )
  })

  it('prints from binary records exactly what it prints from the events read from them', () => {
    const prefixArb = fc.option(fc.oneof(fc.string({ maxLength: 2 }), fc.constantFrom('é', '\u{1F600}', '\uD800', '\uFFFD', '"')), { nil: undefined })
    fc.assert(
      fc.property(eventsArb, fc.boolean(), prefixArb, fc.boolean(), (events, flat, prefix, compress) => {
        expect(printedFromRecords(events, flat, prefix, compress)).toBe(printed(roundTrip(events), flat, prefix))
      }),
      { numRuns: 1000 },
    )
  })

  it('prints map keys met before exactly, however alike they are', () => {
    const keys = ['abcd', 'abce', 'abc', 'abcde', 'abc"', 'bcda', 'abcdefghijklmnopqrstuvwxyz01234', 'abcdefghijklmnopqrstuvwxyz01235', 'éab', '__proto__', '123']
    const events: WalEvent[] = []
    for (let i = 0; i < 200; i++) {
      const obj: Record<string, unknown> = {}
      for (let j = 0; j < 3; j++) obj[keys[(i * 7 + j * 3) % keys.length]!] = i
      events.push({ type: 'put', seq: i + 1, time: 5, key: 'k', value: encodeValue(obj) })
    }
    expect(printed(events, false)).toBe(reference(events, false))
    expect(printedFromRecords(events, false, undefined, false)).toBe(reference(events, false))
  })

  it('prints a key that is not UTF-8 as decoding makes it, and takes back a record the reader rejects', () => {
    const sink = new MemorySink()
    const records = new RecordPrinter(new EventPrinter(sink, 'ndjson', { prefix: undefined, flat: false }), sink, { fromTime: undefined, toTime: undefined }, undefined)
    const key = Buffer.from([0x61, 0xff, 0x22])
    const value = Buffer.from(encodeValue({ n: 1 }))
    records.begin(RECORD_PUT, 1, 5)
    records.put(key, 0, 3, value, 0, value.length)
    records.begin(RECORD_PUT, 2, 5)
    records.put(key, 0, 1, value, 0, value.length)
    records.finish(1) // seq 2 turned out damaged after its parts were reported
    const line = JSON.parse(sink.out.view().toString('utf8')) as { seq: number; key: string }
    expect([line.seq, line.key]).toEqual([1, 'a\uFFFD"'])
  })

  it('skips records before --from time and stops at the first after --to time', () => {
    const sink = new MemorySink()
    const seen: number[] = []
    const records = new RecordPrinter(new EventPrinter(sink, 'ndjson', { prefix: undefined, flat: false }), sink, { fromTime: 6, toTime: 7 }, { event: (seq) => seen.push(seq) })
    const value = Buffer.from(encodeValue(1))
    for (const [seq, time] of [[1, 5], [2, 6], [3, 7]]) {
      records.begin(RECORD_PUT, seq!, time!)
      records.put(Buffer.from('k'), 0, 1, value, 0, value.length)
    }
    expect(() => records.begin(RECORD_PUT, 4, 8)).toThrow(StopReading)
    records.finish(records.lastSeq)
    expect(sink.out.view().toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([2, 3])
    expect([seen, records.lastSeq]).toEqual([[1, 2, 3], 3])
  })

  it('keeps with --prefix the events whose key starts with it, and the matching ops of batches', () => {
    const v = encodeValue({ n: 1 })
    const events: WalEvent[] = [
      { type: 'put', seq: 1, time: 5, key: 'user:1', value: v },
      { type: 'del', seq: 2, time: 5, key: 'team:1' },
      { type: 'entangle', seq: 3, time: 6, key: 'user:1', partners: ['team:1'], strength: 0.5 },
      { type: 'entangle', seq: 4, time: 6, key: 'team:1', partners: ['user:1'], strength: 0 },
      { type: 'batch', seq: 5, time: 7, ops: [{ type: 'del', key: 'team:2' }, { type: 'put', key: 'user:2', value: v }] },
    ]
    const lines = printed(events, false, 'user:').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; ops?: unknown[] })
    expect(lines.map((l) => l.seq)).toEqual([1, 3, 5])
    expect(lines[2]!.ops).toEqual([{ type: 'put', key: 'user:2', value: { n: 1 } }])
  })
})
