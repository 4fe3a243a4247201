// Entangle events in the WAL: mixed with puts, deletes and batches they round-trip through both
// entry formats, any cut reads back a prefix, and replaying them rebuilds the same entanglements
// (also through a checkpoint's extension frame).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Op, WalEvent } from '../src/events/types.js'
import { decodeValue, encodeValue } from '../src/events/valueCodec.js'
import { Entanglements } from '../src/state/entanglements.js'
import { MemoryState } from '../src/state/memoryState.js'
import { scanSegment } from '../src/wal/segmentReader.js'
import { encodeSegment } from '../test/helpers/segmentBytes.js'
import { storable } from '../test/helpers/storable.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const keyArb = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }).filter((k) => k.isWellFormed())
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ type: fc.constant('put' as const), key: keyArb, value: fc.jsonValue({ maxDepth: 1 }).filter((v) => !Object.is(v, -0) && storable(v)).map((v) => encodeValue(v)) }),
  fc.record({ type: fc.constant('del' as const), key: keyArb }),
)
const entangleArb = fc.record({
  type: fc.constant('entangle' as const),
  key: keyArb,
  partners: fc.uniqueArray(keyArb, { minLength: 0, maxLength: 12 }),
  strength: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 1, noNaN: true })),
})
const bodyArb = fc.oneof(opArb, entangleArb, entangleArb, fc.array(opArb, { minLength: 1, maxLength: 4 }).map((ops) => ({ type: 'batch' as const, ops })))
const eventsArb = fc
  .tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.array(bodyArb, { minLength: 1, maxLength: 20 }))
  .map(([first, bodies]) => bodies.map((b, i) => ({ ...b, seq: first + i, time: 1_700_000_000_000 + i }) as WalEvent))

function comparable(ev: WalEvent): unknown {
  const op = (o: Op) => (o.type === 'put' ? { ...o, value: decodeValue(o.value) } : o)
  if (ev.type === 'batch') return { ...ev, ops: ev.ops.map(op) }
  if (ev.type === 'entangle') return { ...ev, partners: [...ev.partners] }
  return op(ev)
}

function entanglementsOf(state: MemoryState | Entanglements): [string, [string, number][]][] {
  const e = state instanceof MemoryState ? state.entanglements : state
  return Array.from(e.entries(), ([k, m]) => [k, Array.from(m).sort()] as [string, [string, number][]]).sort((a, b) => (a[0] < b[0] ? -1 : 1))
}

describe.each(['binary', 'json'] as const)('entangle records (%s)', (format) => {
  it('read back exactly what was written, and a cut reads back a prefix', () => {
    fc.assert(
      fc.property(eventsArb, fc.double({ min: 0, max: 1, noNaN: true }), (events, where) => {
        const { bytes, ends } = encodeSegment(format, events)
        const seen: WalEvent[] = []
        const scan = scanSegment(bytes, (ev) => seen.push(ev))
        expect('headerError' in scan).toBe(false)
        expect(seen.map(comparable)).toEqual(events.map(comparable))
        const cut = ends[0]! + Math.floor(where * (bytes.length - ends[0]!))
        const prefix: number[] = []
        scanSegment(bytes.subarray(0, cut), (ev) => prefix.push(ev.seq))
        expect(prefix).toEqual(events.slice(0, ends.filter((e) => e <= cut).length - 1).map((e) => e.seq))
      }),
      { numRuns: FUZZ ? 2000 : 150 },
    )
  })

  it('replaying the log rebuilds the entanglements that applying the events built, also via a checkpoint blob', () => {
    fc.assert(
      fc.property(eventsArb, fc.nat(20), (events, cut) => {
        const live = new MemoryState()
        for (const ev of events) live.apply(ev)
        const replayed = new MemoryState()
        scanSegment(encodeSegment(format, events).bytes, (ev) => replayed.replay(ev))
        expect(entanglementsOf(replayed)).toEqual(entanglementsOf(live))
        // A checkpoint after `cut` events, then the rest of the log.
        const before = new MemoryState()
        for (const ev of events.slice(0, cut)) before.apply(ev)
        const restored = new MemoryState()
        restored.loadCheckpointExtensions(new Map([['islab.entanglement', before.entanglements.encode()]]))
        for (const ev of events.slice(cut)) restored.replay(ev)
        expect(entanglementsOf(restored)).toEqual(entanglementsOf(live))
        for (const [, partners] of entanglementsOf(live)) expect(partners.length).toBeLessThanOrEqual(10)
      }),
      { numRuns: FUZZ ? 2000 : 150 },
    )
  })
})

it('undoing entangle events newest first restores the entanglements as they were', () => {
  fc.assert(
    fc.property(fc.array(entangleArb, { minLength: 1, maxLength: 15 }), (bodies) => {
      const state = new MemoryState()
      const snapshots: ReturnType<typeof entanglementsOf>[] = []
      const undos: unknown[] = []
      const events = bodies.map((b, i) => ({ ...b, seq: i + 1, time: i }) as WalEvent)
      for (const ev of events) {
        snapshots.push(entanglementsOf(state))
        undos.push(state.apply(ev))
      }
      for (let i = events.length - 1; i >= 0; i--) {
        state.revert(events[i]!, undos[i] as never)
        expect(entanglementsOf(state)).toEqual(snapshots[i])
      }
    }),
    { numRuns: FUZZ ? 2000 : 150 },
  )
})
