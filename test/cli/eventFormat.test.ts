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
import { GrowBuffer } from '../../src/wal/recordCodec.js'

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
