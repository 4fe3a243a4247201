// Format round-trips: any sequence of events written as a segment (binary or JSON) reads back
// identically; any cut of the segment reads back a prefix and reports the rest as a torn tail.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Op, WalEvent } from '../src/events/types.js'
import { decodeValue, encodeValue } from '../src/events/valueCodec.js'
import { scanSegment } from '../src/wal/segmentReader.js'
import { encodeSegment } from '../test/helpers/segmentBytes.js'
import { storable } from '../test/helpers/storable.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const keyArb = fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }).filter((k) => k.isWellFormed())
const valueArb = fc
  .oneof(
    fc.jsonValue({ maxDepth: 2 }).filter((v) => !Object.is(v, -0) && storable(v)),
    fc.bigInt(),
    fc.string({ minLength: 1100, maxLength: 3000 }), // over the LZ4 threshold
  )
  .map((v) => encodeValue(v))
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }),
  fc.record({ type: fc.constant('del' as const), key: keyArb }),
)
const bodyArb = fc.oneof(opArb, fc.array(opArb, { minLength: 1, maxLength: 5 }).map((ops) => ({ type: 'batch' as const, ops })))
const eventsArb = fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.array(bodyArb, { minLength: 1, maxLength: 12 })).map(([first, bodies]) =>
  bodies.map((b, i) => ({ ...b, seq: first + i, time: 1_700_000_000_000 + i }) as WalEvent),
)

/** Compares decoded values, not encodings: JSON segments re-encode the value they parse. */
function comparable(ev: WalEvent): unknown {
  const op = (o: Op | WalEvent) => (o.type === 'put' ? { ...o, value: decodeValue(o.value) } : o)
  return ev.type === 'batch' ? { ...ev, ops: ev.ops.map(op) } : op(ev)
}

describe.each(['binary', 'json'] as const)('WAL records (%s)', (format) => {
  it('read back exactly what was written', () => {
    fc.assert(
      fc.property(eventsArb, (events) => {
        const seen: WalEvent[] = []
        const scan = scanSegment(encodeSegment(format, events).bytes, (ev) => seen.push(ev))
        expect('headerError' in scan).toBe(false)
        expect(seen.map(comparable)).toEqual(events.map(comparable))
      }),
      { numRuns: FUZZ ? 2000 : 150 },
    )
  })

  it('read a prefix from any cut of the segment and report the rest as a torn tail', () => {
    fc.assert(
      fc.property(eventsArb, fc.double({ min: 0, max: 1, noNaN: true }), (events, where) => {
        const { bytes, ends } = encodeSegment(format, events)
        const cut = ends[0]! + Math.floor(where * (bytes.length - ends[0]!))
        const seen: number[] = []
        const scan = scanSegment(bytes.subarray(0, cut), (ev) => seen.push(ev.seq))
        if ('headerError' in scan) throw new Error(scan.headerError)
        const complete = ends.filter((e) => e <= cut).length - 1
        expect(seen).toEqual(events.slice(0, complete).map((e) => e.seq))
        expect(scan.validEnd).toBe(ends[complete])
        if (cut > ends[complete]!) expect(scan.damage?.validRecordsFollow).toBe(false)
        else expect(scan.damage).toBeUndefined()
      }),
      { numRuns: FUZZ ? 2000 : 150 },
    )
  })
})
