// The state keeps recovered keys in a base table until they are touched, and the rest in a Map.
// Whatever mix of the two a key sequence produces, the state must behave like one plain Map.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readCheckpoint } from '../../src/checkpoint/checkpointReader.js'
import { takeSnapshot, writeCheckpoint } from '../../src/checkpoint/checkpointWriter.js'
import { encodeValue } from '../../src/events/valueCodec.js'
import type { WalEvent } from '../../src/events/types.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { BaseTable } from '../../src/state/baseTable.js'
import { MemoryState } from '../../src/state/memoryState.js'
import type { RowKeeper, StateReader, Undo } from '../../src/state/memoryState.js'
import type { Entry } from '../../src/state/entry.js'
import { tmpDir } from '../helpers/tmpdir.js'

// Short ASCII keys, keys that collide in length, and keys that are not ASCII.
const keyArb = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'ab', 'ba', 'user:1', 'user:2', 'ключ', '🔑', 'é'),
  fc.string({ minLength: 1, maxLength: 3, unit: 'grapheme' }),
)

/** Writes key and value bytes into one buffer, as a WAL segment or checkpoint chunk holds them. */
function packed(key: string, value: unknown): { b: Buffer; kLen: number; vLen: number } {
  const k = Buffer.from(key, 'utf8')
  const v = encodeValue(value)
  const b = Buffer.alloc(3 + k.length + v.length)
  k.copy(b, 1)
  b.set(v, 2 + k.length)
  return { b, kLen: k.length, vLen: v.length }
}

/**
 * Loads `ops` as recovery would: puts one by one (WAL records) or, with `chunk` > 1, runs of up
 * to `chunk` puts at once (checkpoint chunks, which may repeat a key across or within runs).
 */
function load(state: MemoryState, ops: { key: string; value: number | null }[], chunk = 1): Map<string, { value: number; seq: number }> {
  const model = new Map<string, { value: number; seq: number }>()
  let run: { key: string; value: number; seq: number }[] = []
  const flush = () => {
    if (run.length === 0) return
    const parts = run.map((r) => packed(r.key, r.value))
    const b = Buffer.concat(parts.map((x) => x.b))
    const pos = new Int32Array(4 * run.length)
    const nums = new Float64Array(2 * run.length)
    let at = 0
    parts.forEach((x, k) => {
      pos.set([at + 1, x.kLen, at + 2 + x.kLen, x.vLen], 4 * k)
      nums.set([run[k]!.seq, 1000 + run[k]!.seq], 2 * k)
      at += x.b.length
    })
    state.loadMany(b, run.length, pos, nums)
    run = []
  }
  ops.forEach((op, i) => {
    const seq = i + 1
    const { b, kLen, vLen } = packed(op.key, op.value)
    if (op.value === null) {
      flush()
      state.loadDel(b, 1, kLen)
      model.delete(op.key)
      return
    }
    if (chunk > 1) {
      run.push({ key: op.key, value: op.value, seq })
      if (run.length === chunk) flush()
    } else {
      state.loadPut(b, 1, kLen, b, 2 + kLen, vLen, seq, 1000 + seq)
    }
    model.set(op.key, { value: op.value, seq })
  })
  flush()
  state.finishLoading()
  return model
}

function contents(state: MemoryState): Map<string, { value: unknown; seq: number }> {
  const out = new Map<string, { value: unknown; seq: number }>()
  state.forEachEntry((k, e) => {
    expect(out.has(k)).toBe(false)
    out.set(k, { value: e.value(), seq: e.seq })
  })
  return out
}

const loadOps = fc.array(fc.record({ key: keyArb, value: fc.option(fc.integer(), { nil: null }) }), { maxLength: 60 })
const liveOp = fc.oneof(
  fc.record({ kind: fc.constant('get' as const), key: keyArb }),
  fc.record({ kind: fc.constant('has' as const), key: keyArb }),
  fc.record({ kind: fc.constant('put' as const), key: keyArb, value: fc.integer(), undo: fc.boolean(), evaporateFirst: fc.boolean() }),
  fc.record({ kind: fc.constant('del' as const), key: keyArb, undo: fc.boolean() }),
  fc.record({ kind: fc.constant('replay' as const), key: keyArb, value: fc.option(fc.integer(), { nil: null }) }),
  fc.record({ kind: fc.constant('batch' as const), keys: fc.array(keyArb, { minLength: 1, maxLength: 4 }), undo: fc.boolean() }),
  fc.record({ kind: fc.constant('evaporate' as const), key: keyArb, packed: fc.boolean() }),
  fc.record({ kind: fc.constant('compact' as const) }),
)

/** A stand-in for the physics layer's packing: u32 length, then the bytes XOR 0x55. */
function pack(bytes: Uint8Array): Uint8Array {
  const out = Buffer.alloc(4 + bytes.length)
  out.writeUInt32LE(bytes.length, 0)
  bytes.forEach((b, i) => (out[4 + i] = b ^ 0x55))
  return out
}
const unpack = (p: Uint8Array): Uint8Array => Buffer.from(p.subarray(4)).map((b) => b ^ 0x55)

/** Moves `key` out of the Map the way the physics layer does, if it is in the Map. */
function evaporate(state: MemoryState, key: string, packed: boolean): void {
  const e = state.entries.get(key)
  if (e !== undefined) state.evaporate(key, e, packed ? pack(e.bytes) : undefined)
}

describe('MemoryState over a base table', () => {
  it('behaves like one Map whatever was loaded, touched, written, deleted or undone', () => {
    fc.assert(
      fc.property(loadOps, fc.array(liveOp, { maxLength: 40 }), fc.boolean(), fc.integer({ min: 1, max: 5 }), (loaded, live, ordered, chunk) => {
        const state = new MemoryState()
        state.setInflater(unpack)
        const model = load(state, loaded, chunk)
        expect(contents(state)).toEqual(model)
        expect(state.size).toBe(model.size)
        expect(state.valueBytes()).toBe([...model.values()].reduce((n, e) => n + encodeValue(e.value).length, 0))
        if (ordered) state.orderedIndex()
        let seq = loaded.length
        for (const op of live) {
          if (op.kind === 'get') {
            const e = state.get(op.key)
            expect(e === undefined ? undefined : { value: e.value(), seq: e.seq }).toEqual(model.get(op.key))
          } else if (op.kind === 'has') {
            expect(state.has(op.key)).toBe(model.has(op.key))
            expect(state.seqOf(op.key)).toBe(model.get(op.key)?.seq ?? 0)
          } else if (op.kind === 'evaporate') {
            evaporate(state, op.key, op.packed)
          } else if (op.kind === 'compact') {
            state.compactBase()
          } else if (op.kind === 'replay') {
            seq++
            const ev: WalEvent =
              op.value === null
                ? { type: 'del', seq, time: seq, key: op.key }
                : { type: 'put', seq, time: seq, key: op.key, value: encodeValue(op.value) }
            state.replay(ev)
            if (op.value === null) model.delete(op.key)
            else model.set(op.key, { value: op.value, seq })
          } else {
            seq++
            const ev: WalEvent =
              op.kind === 'put'
                ? { type: 'put', seq, time: seq, key: op.key, value: encodeValue(op.value) }
                : op.kind === 'del'
                  ? { type: 'del', seq, time: seq, key: op.key }
                  : { type: 'batch', seq, time: seq, ops: op.keys.map((k, i) => (i % 2 ? { type: 'del', key: k } : { type: 'put', key: k, value: encodeValue(i) })) }
            const undo: Undo = state.apply(ev)
            // A failed commit is undone later; meanwhile the new entry may have left the Map.
            if (op.kind === 'put' && op.evaporateFirst) evaporate(state, op.key, true)
            if (op.undo) {
              state.revert(ev, undo)
              seq--
            } else if (ev.type === 'batch') {
              ev.ops.forEach((o, i) => (o.type === 'put' ? model.set(o.key, { value: i, seq }) : model.delete(o.key)))
            } else if (ev.type === 'put') {
              model.set(ev.key, { value: (op as { value: number }).value, seq })
            } else {
              model.delete(ev.key)
            }
          }
          expect(state.size).toBe(model.size)
        }
        expect(contents(state)).toEqual(model)
        expect(state.valueBytes()).toBe([...model.values()].reduce((n, e) => n + encodeValue(e.value).length, 0))
        if (ordered) {
          const snap = state.orderedIndex().snapshot()
          expect([...snap.keys()]).toEqual([...model.keys()].sort())
          expect([...snap.entries()].map(([k, e]) => [k, { value: e.value(), seq: e.seq }])).toEqual([...model.keys()].sort().map((k) => [k, model.get(k)]))
        }
      }),
      { numRuns: 300 },
    )
  })

  it('writes a checkpoint holding base keys and Map keys that loads back to the same state', async () => {
    await fc.assert(
      fc.asyncProperty(loadOps, fc.array(keyArb, { maxLength: 10 }), fc.array(keyArb, { maxLength: 10 }), async (loaded, touched, deleted) => {
        const state = new MemoryState()
        state.setInflater(unpack)
        const model = load(state, loaded)
        for (const k of touched) state.get(k)
        touched.forEach((k, i) => evaporate(state, k, i % 2 === 0))
        let seq = loaded.length
        for (const k of deleted) {
          state.apply({ type: 'del', seq: ++seq, time: seq, key: k })
          model.delete(k)
        }
        const dir = tmpDir()
        const snap = takeSnapshot(state, seq, [])
        // Touching keys after the snapshot must not change what it writes: writes, and keys that
        // leave the Map again (new base rows) after a read brought them into it.
        for (const k of [...model.keys()].slice(0, 3)) state.apply({ type: 'put', seq: ++seq, time: seq, key: k, value: encodeValue('later') })
        for (const k of [...model.keys()].slice(0, 6)) {
          evaporate(state, k, true)
          state.get(k)
          evaporate(state, k, false)
        }
        const written = await writeCheckpoint(nodeFileLayer, dir, snap)
        expect(written.entries).toBe(model.size)
        const back = new MemoryState()
        readCheckpoint(nodeFileLayer, written.file, (raw, n, pos, nums) => back.loadMany(raw, n, pos, nums))
        expect(contents(back)).toEqual(model)
      }),
      { numRuns: 60 },
    )
  })
})

/** A reader as the physics layer is one, without the physics: entries' values, base reads served in place. */
const plainReader: StateReader = {
  read: (e: Entry) => e.value(),
  servesDormant: true,
  dormantRead: () => undefined,
  readDecoded: (_e: Entry, _k: string, v: unknown) => v,
  readMass: 1,
}

/** Keeps row values within `budget` bytes, pushing out lighter ones (as the physics layer does), and counts what it holds. */
class CountingKeeper implements RowKeeper {
  keys = 0
  bytes = 0
  hits = 0
  constructor(
    private readonly state: MemoryState,
    private readonly budget: number,
  ) {}
  rowHit(): void {
    this.hits++
  }
  keepRow(size: number, mass: number): boolean {
    if (this.bytes + size > this.budget) this.state.evictRows(this.bytes + size - this.budget, mass)
    if (this.bytes + size > this.budget) return false
    this.keys++
    this.bytes += size
    return true
  }
  droppedRows(keys: number, size: number): void {
    this.keys -= keys
    this.bytes -= size
  }
}

describe('MemoryState keeping row values (RowKeeper)', () => {
  const rowOp = fc.oneof(
    fc.record({ kind: fc.constant('read' as const), key: keyArb }),
    fc.record({ kind: fc.constant('put' as const), key: keyArb, value: fc.integer(), undo: fc.boolean() }),
    fc.record({ kind: fc.constant('del' as const), key: keyArb }),
    fc.record({ kind: fc.constant('get' as const), key: keyArb }),
    fc.record({ kind: fc.constant('evict' as const), bytes: fc.integer({ min: 1, max: 20 }) }),
  )

  it('reads the same values as a Map, and its keeper always holds exactly the kept values', () => {
    fc.assert(
      fc.property(loadOps, fc.array(rowOp, { maxLength: 60 }), fc.integer({ min: 0, max: 40 }), (loaded, ops, budget) => {
        const state = new MemoryState()
        state.setInflater(unpack)
        const model = load(state, loaded)
        const keeper = new CountingKeeper(state, budget)
        state.setRowKeeper(keeper)
        let seq = loaded.length
        for (const op of ops) {
          if (op.kind === 'read') {
            const v = state.read(op.key, plainReader)
            expect(v).toEqual(model.get(op.key)?.value)
            expect(state.readEntry(op.key, plainReader)).toEqual(model.has(op.key) ? { ...model.get(op.key), time: expect.any(Number) } : undefined)
          } else if (op.kind === 'get') {
            // Moves the key into the Map: its kept value goes.
            const e = state.get(op.key)
            expect(e?.value()).toEqual(model.get(op.key)?.value)
          } else if (op.kind === 'evict') {
            state.evictRows(op.bytes, Infinity)
          } else {
            seq++
            const ev: WalEvent = op.kind === 'put' ? { type: 'put', seq, time: seq, key: op.key, value: encodeValue(op.value) } : { type: 'del', seq, time: seq, key: op.key }
            const undo = state.apply(ev)
            if (op.kind === 'put' && op.undo) {
              state.revert(ev, undo)
              seq--
            } else if (op.kind === 'put') model.set(op.key, { value: op.value, seq })
            else model.delete(op.key)
          }
          expect(keeper.keys).toBe(state.keptRowValues().keys)
          expect(keeper.bytes).toBeLessThanOrEqual(budget)
          expect(keeper.bytes).toBeGreaterThanOrEqual(0)
          expect(keeper.keys === 0).toBe(keeper.bytes === 0)
        }
        // Every key touched by a write or a get left the base: nothing kept may be left for it.
        for (const k of model.keys()) state.get(k)
        expect(keeper.keys).toBe(0)
        expect(keeper.bytes).toBe(0)
        expect(contents(state)).toEqual(model)
      }),
      { numRuns: 300 },
    )
  })

  it('drops every kept value when the base is rebuilt without its dead rows (rows are renumbered)', () => {
    const state = new MemoryState()
    const n = 80_000
    const ops = Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: i }))
    load(state, ops, 4096)
    const keeper = new CountingKeeper(state, Infinity)
    state.setRowKeeper(keeper)
    for (let i = 0; i < n; i += 7) expect(state.read(`k${i}`, plainReader)).toBe(i)
    const kept = keeper.keys
    expect(kept).toBe(Math.ceil(n / 7))
    // Rewrites move 70k keys into the Map: their rows die (and their kept values with them).
    for (let i = 0; i < 70_000; i++) state.apply({ type: 'put', seq: n + i + 1, time: 0, key: `k${i}`, value: encodeValue(-i) })
    expect(keeper.keys).toBe(Math.ceil((n - 70_000) / 7))
    expect(state.compactBase()).toBe(true)
    expect(keeper.keys).toBe(0)
    expect(keeper.bytes).toBe(0)
    // Reads after the rebuild are right and keep values again, by the new rows.
    expect(state.read('k70000', plainReader)).toBe(70_000)
    expect(state.read('k70000', plainReader)).toBe(70_000)
    expect(keeper.keys).toBe(1)
    expect(keeper.hits).toBe(1)
    expect(state.read('k5', plainReader)).toBe(-5)
  })
})

describe('BaseTable', () => {
  it('tells apart keys that share the 16 bytes a row holds inline, whichever way they came in', () => {
    const prefix = 'p'.repeat(16)
    const keys = ['p'.repeat(15), prefix, prefix + 'a', prefix + 'b', prefix + 'ab', 'q'.repeat(16), 'é'.repeat(8), 'é'.repeat(9), prefix + 'é']
    const t = new BaseTable()
    // Loaded one by one, loaded in a chunk, inserted, appended: all four writers of a row.
    const { b: b0, kLen: k0, vLen: v0 } = packed(keys[0]!, 0)
    t.loadPut(b0, 1, k0, b0, 2 + k0, v0, 1, 0)
    const parts = keys.slice(1, 4).map((k, i) => packed(k, i + 1))
    const chunk = Buffer.concat(parts.map((x) => x.b))
    const pos = new Int32Array(12)
    let at = 0
    parts.forEach((x, i) => {
      pos.set([at + 1, x.kLen, at + 2 + x.kLen, x.vLen], 4 * i)
      at += x.b.length
    })
    t.loadMany(chunk, 3, pos, new Float64Array([2, 0, 3, 0, 4, 0]))
    for (let i = 4; i < 7; i++) expect(t.insert(keys[i]!, i + 1, 0, encodeValue(i))).toBe(-1)
    for (let i = 7; i < keys.length; i++) t.append(keys[i]!, i + 1, 0, encodeValue(i), false)
    // Many more rows, so the rows grow and the table rehashes under the first ones.
    for (let i = 0; i < 3000; i++) t.insert(`${prefix}${i}`, 100 + i, 0, encodeValue(-i - 1))
    for (const table of [t, t.compacted()]) {
      keys.forEach((k, i) => {
        const row = table.find(k)
        expect(row).toBeGreaterThanOrEqual(0)
        expect(table.keyAt(row)).toBe(k)
        expect(table.entry(row).value()).toBe(i)
        // Already there: insert hands back the row and changes nothing.
        expect(table.insert(k, 999, 0, encodeValue('x'))).toBe(row)
      })
      for (let i = 0; i < 3000; i += 97) expect(table.entry(table.find(`${prefix}${i}`)).value()).toBe(-i - 1)
      expect(table.find('p'.repeat(14))).toBe(-1)
      expect(table.find(prefix + 'c')).toBe(-1)
      expect(table.find('q'.repeat(15) + 'p')).toBe(-1)
    }
  })

  it('finds every key among many (rehashing), by string and after compaction', () => {
    const t = new BaseTable()
    const n = 5000
    const bufs: Buffer[] = []
    for (let i = 0; i < n; i++) {
      const { b, kLen, vLen } = packed(`k${i}-${'é'.repeat(i % 3)}`, i)
      bufs.push(b)
      t.loadPut(b, 1, kLen, b, 2 + kLen, vLen, i + 1, i)
    }
    for (let i = 0; i < n; i += 2) {
      const k = Buffer.from(`k${i}-${'é'.repeat(i % 3)}`)
      t.loadDel(k, 0, k.length)
    }
    expect(t.live).toBe(n / 2)
    for (const table of [t, t.compacted()]) {
      for (let i = 0; i < n; i++) {
        const row = table.find(`k${i}-${'é'.repeat(i % 3)}`)
        if (i % 2 === 0) expect(row).toBe(-1)
        else {
          expect(row).toBeGreaterThanOrEqual(0)
          expect(table.entry(row).value()).toBe(i)
          expect(table.entry(row).seq).toBe(i + 1)
          expect(table.keyAt(row)).toBe(`k${i}-${'é'.repeat(i % 3)}`)
        }
      }
      expect(table.find('k1')).toBe(-1)
      expect(table.find('absent')).toBe(-1)
    }
  })

  it('loads big checkpoint chunks in slot order: repeated keys keep their last version', () => {
    const t = new BaseTable()
    const n = 10_000
    const parts = Array.from({ length: n }, (_, i) => packed(`key:${i % 7000}`, i))
    const b = Buffer.concat(parts.map((x) => x.b))
    const pos = new Int32Array(4 * n)
    const nums = new Float64Array(2 * n)
    let at = 0
    parts.forEach((x, k) => {
      pos.set([at + 1, x.kLen, at + 2 + x.kLen, x.vLen], 4 * k)
      nums.set([k + 1, k], 2 * k)
      at += x.b.length
    })
    t.loadMany(b, n, pos, nums)
    expect(t.live).toBe(7000)
    for (let k = 0; k < 7000; k++) {
      const row = t.find(`key:${k}`)
      const last = k + 7000 < n ? k + 7000 : k
      expect(t.entry(row).value()).toBe(last)
      expect(t.seqAt(row)).toBe(last + 1)
    }
    let live = 0
    t.forEachLive(() => live++)
    expect(live).toBe(7000)
  })

  it('holds each buffer once when keys and values alternate between two (LZ4 values come in their own)', () => {
    const t = new BaseTable()
    const seg = Buffer.from('k1k2k3k4')
    for (let i = 0; i < 4; i++) {
      const v = Buffer.from(encodeValue(i))
      t.loadPut(seg, 2 * i, 2, v, 0, v.length, i + 1, i)
    }
    expect((t as unknown as { bufs: Buffer[] }).bufs.length).toBe(5)
    for (let i = 0; i < 4; i++) expect(t.entry(t.find(`k${i + 1}`)).value()).toBe(i)
  })

  it('gives back room a replay reserved and did not use (trim), keeping every key findable and loadable', () => {
    const t = new BaseTable()
    const inner = t as unknown as { table: Int32Array; ints: Int32Array }
    // Replay reserves from an estimate: here for 100,000 keys, of which the log holds 1,000.
    t.reserve(100_000)
    const reservedSlots = inner.table.length
    const reservedRows = inner.ints.length
    const n = 1000
    for (let i = 0; i < n; i++) {
      const { b, kLen, vLen } = packed(`k${i}`, i)
      t.loadPut(b, 1, kLen, b, 2 + kLen, vLen, i + 1, i)
    }
    t.trim()
    expect(inner.table.length).toBeLessThan(reservedSlots / 16)
    expect(inner.ints.length).toBeLessThan(reservedRows / 16)
    for (let i = 0; i < n; i++) expect(t.entry(t.find(`k${i}`)).value()).toBe(i)
    // Loading goes on after a trim (the table and rows grow again).
    for (let i = n; i < 3 * n; i++) {
      const { b, kLen, vLen } = packed(`k${i}`, i)
      t.loadPut(b, 1, kLen, b, 2 + kLen, vLen, i + 1, i)
    }
    expect(t.live).toBe(3 * n)
    for (let i = 0; i < 3 * n; i++) expect(t.entry(t.find(`k${i}`)).value()).toBe(i)
    // A table that used what it reserved keeps it.
    const slots = inner.table.length
    t.trim()
    expect(inner.table.length).toBe(slots)
  })

  it('trim sizes the table for every row, deleted keys included (sized by live keys, its rehash never ended)', () => {
    const t = new BaseTable()
    const inner = t as unknown as { table: Int32Array }
    t.reserve(100_000)
    const n = 2000
    for (let i = 0; i < n; i++) {
      const { b, kLen, vLen } = packed(`k${i}`, i)
      t.loadPut(b, 1, kLen, b, 2 + kLen, vLen, i + 1, i)
    }
    for (let i = 0; i < n - 10; i++) t.loadDel(Buffer.from(`k${i}`), 0, `k${i}`.length)
    t.trim()
    expect(inner.table.length).toBeLessThan(100_000)
    expect(t.live).toBe(10)
    for (let i = n - 10; i < n; i++) expect(t.entry(t.find(`k${i}`)).value()).toBe(i)
    expect(t.find('k0')).toBe(-1)
  })
})
