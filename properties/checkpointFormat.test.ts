// Checkpoint format (version 2) properties: any state — keys in the state's Map and rows of its
// base table, values, seqs, times, extension blobs — written as a checkpoint reads back exactly,
// with each key's stored hash equal to the one the base table computes; and any single damaged
// byte of the file is reported as damage before a single entry is delivered.
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CheckpointDamage, lookupCheckpointEntry, readCheckpoint } from '../src/checkpoint/checkpointReader.js'
import { writeCheckpoint } from '../src/checkpoint/checkpointWriter.js'
import type { Snapshot } from '../src/checkpoint/checkpointWriter.js'
import { encodeValue } from '../src/events/valueCodec.js'
import { nodeFileLayer } from '../src/io/nodeFileLayer.js'
import { BaseTable } from '../src/state/baseTable.js'
import { PlainEntry } from '../src/state/entry.js'
import { tmpDir } from '../test/helpers/tmpdir.js'
import { storable } from '../test/helpers/storable.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const keyArb = fc.string({ minLength: 1, maxLength: 24, unit: 'binary' }).filter((k) => k.isWellFormed())
const valueArb = fc.oneof(fc.jsonValue({ maxDepth: 2 }).filter(storable), fc.string({ maxLength: 600 })).map((v) => encodeValue(v))
const recordArb = fc.record({ value: valueArb, seq: fc.integer({ min: 1, max: 2 ** 40 }), time: fc.double({ noNaN: true }) })
const stateArb = fc.record({
  records: fc.dictionary(keyArb, recordArb, { maxKeys: 60 }),
  /** How many of the keys sit in the base table (the rest in the Map). */
  inBase: fc.nat(),
  extensions: fc.uniqueArray(fc.record({ name: fc.string({ minLength: 1, maxLength: 12 }), data: fc.uint8Array({ maxLength: 40 }) }), { selector: (e) => e.name, maxLength: 3 }),
})
type State = typeof stateArb extends fc.Arbitrary<infer T> ? T : never

/** The snapshot a state of these records makes: the first `inBase` keys as base table rows, the rest as Map entries. */
function snapshotOf(s: State): { snap: Snapshot; keys: string[] } {
  const keys = Object.keys(s.records)
  const seq = Math.max(0, ...keys.map((k) => s.records[k]!.seq))
  const nBase = keys.length === 0 ? 0 : s.inBase % (keys.length + 1)
  const table = new BaseTable()
  for (const k of keys.slice(0, nBase)) {
    const r = s.records[k]!
    const kb = Buffer.from(k, 'utf8')
    table.loadPut(kb, 0, kb.length, Buffer.from(r.value), 0, r.value.length, r.seq, r.time)
  }
  const mapKeys = keys.slice(nBase)
  const snap: Snapshot = {
    seq,
    time: 1_700_000_000_000,
    keys: mapKeys,
    entries: mapKeys.map((k) => new PlainEntry(s.records[k]!.seq, s.records[k]!.time, s.records[k]!.value)),
    base: nBase === 0 ? undefined : { view: table.view(), live: table.live },
    extensions: s.extensions,
  }
  return { snap, keys }
}

let n = 0
async function written(s: State): Promise<string> {
  const dir = path.join(root, String(n++))
  fs.mkdirSync(dir)
  return (await writeCheckpoint(nodeFileLayer, dir, snapshotOf(s).snap)).file
}
const root = tmpDir('islab-ckpt-prop-')

describe('checkpoint format (version 2)', () => {
  it('reads back every key, value, seq, time and extension written, and the base table finds each key by its stored hash', async () => {
    await fc.assert(
      fc.asyncProperty(stateArb, async (s) => {
        const file = await written(s)
        const stored = new BaseTable()
        const rehashed = new BaseTable()
        const got = readCheckpoint(nodeFileLayer, file, (raw, count, pos, nums, hashes) => {
          expect(hashes).toBeDefined()
          stored.loadMany(raw, count, pos, nums, hashes)
          rehashed.loadMany(raw, count, pos, nums)
        })
        const keys = Object.keys(s.records)
        expect(got.entries).toBe(keys.length)
        expect(stored.live).toBe(keys.length)
        for (const k of keys) {
          const r = s.records[k]!
          const row = stored.find(k)
          expect(row).toBeGreaterThanOrEqual(0)
          expect(rehashed.find(k)).toBe(row)
          const e = stored.entry(row)
          expect(Buffer.from(e.bytes)).toEqual(Buffer.from(r.value))
          expect(e.seq).toBe(r.seq)
          expect(Object.is(e.time, r.time)).toBe(true)
        }
        expect(new Map([...got.extensions].map(([name, d]) => [name, Buffer.from(d)]))).toEqual(new Map(s.extensions.map((e) => [e.name, Buffer.from(e.data)])))
        if (keys.length > 0) {
          const k = keys[keys.length >> 1]!
          const one = await lookupCheckpointEntry(nodeFileLayer, file, k)
          expect(one && Buffer.from(one.value)).toEqual(Buffer.from(s.records[k]!.value))
        }
        const missing = '\u0000missing'
        if (!(missing in s.records)) expect(await lookupCheckpointEntry(nodeFileLayer, file, missing)).toBeUndefined()
      }),
      { numRuns: FUZZ ? 2000 : 100 },
    )
  })

  it('reports any one damaged byte as damage, before delivering any entry', async () => {
    await fc.assert(
      fc.asyncProperty(stateArb, fc.nat(), fc.integer({ min: 1, max: 255 }), async (s, at, xor) => {
        const file = await written(s)
        const b = fs.readFileSync(file)
        const i = at % b.length
        b[i]! ^= xor
        fs.writeFileSync(file, b)
        let delivered = 0
        let damage: unknown
        try {
          readCheckpoint(nodeFileLayer, file, (_raw, count) => (delivered += count))
        } catch (err) {
          damage = err
        }
        expect(damage).toBeInstanceOf(CheckpointDamage)
        expect(delivered).toBe(0)
      }),
      { numRuns: FUZZ ? 5000 : 300 },
    )
  })
})
