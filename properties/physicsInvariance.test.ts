// Physics never changes what a read returns: the same operations on a flat database
// (physics: false) and on one whose physics is squeezed into tiny budgets — so values move
// between hot, warm and cold all the time, wormholes form on little evidence and the demon acts
// at every tick — give the same get, getEntry, quantumGet and range results, and so does the
// database recovered from a checkpoint and the log.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { Database, OpenOptions, Tier } from '../src/index.js'
import { tmpDir } from '../test/helpers/tmpdir.js'
import { storable } from '../test/helpers/storable.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'

const keyArb = fc.constantFrom('user:1', 'user:2', 'user:3', 'profile:1', 'profile:2', 'profile:3', 'settings:1', 'x', 'y', 'z')
const valueArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).filter((v) => !Object.is(v, -0) && storable(v)),
  fc.string({ minLength: 50, maxLength: 400 }),
  fc.record({ id: fc.nat(), name: fc.string(), tags: fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }) }),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }).map((d) => ({ when: d })),
  fc.array(fc.tuple(fc.string({ maxLength: 4 }), fc.nat()), { maxLength: 3 }).map((pairs) => new Map(pairs)),
)

type Op =
  | { t: 'put'; key: string; value: unknown; tier: Tier | undefined }
  | { t: 'del'; key: string }
  | { t: 'batch'; ops: { key: string; value: unknown | undefined }[] }
  | { t: 'entangle'; key: string; partners: string[]; strength: number }
  | { t: 'disentangle'; key: string }
  | { t: 'get'; key: string }
  | { t: 'getEntry'; key: string }
  | { t: 'quantumGet'; key: string }
  | { t: 'range'; prefix: string }
  | { t: 'tick'; ms: number }
  | { t: 'settle' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('put' as const), key: keyArb, value: valueArb, tier: fc.constantFrom(undefined, undefined, 'hot' as const, 'warm' as const, 'cold' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('del' as const), key: keyArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('batch' as const),
      ops: fc.array(fc.record({ key: keyArb, value: fc.option(valueArb, { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ key: keyArb, partners: fc.uniqueArray(keyArb, { minLength: 1, maxLength: 4 }), strength: fc.double({ min: 0.1, max: 1, noNaN: true }) })
      .map((r) => ({ t: 'entangle' as const, ...r, partners: r.partners.filter((p) => p !== r.key) }))
      .filter((r) => r.partners.length > 0),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('disentangle' as const), key: keyArb }) },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('get' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('getEntry' as const), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('quantumGet' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('range' as const), prefix: fc.constantFrom('', 'user:', 'profile:', 'q') }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 5000 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'settle' as const }) },
)

const rules: OpenOptions['entanglement'] = [{ from: 'user:*', to: ['profile:*', 'settings:*'], strength: 0.6 }]

/** Physics on, with budgets so small that every tier and every mechanism is exercised. */
function squeezed(clock: () => number): OpenOptions {
  return {
    entanglement: rules,
    maxEntangled: 3,
    memory: { hotBytes: 400, warmBytes: 300 },
    physics: {
      clock,
      tickMs: 100_000_000,
      halfLifeMs: 2000,
      entropyEvery: 1,
      entropyWindow: 64,
      wormholes: { minCoReads: 1, formAt: 0.2, collapseAt: 0.1, halfLifeMs: 3000, significance: 1 },
      demon: { low: 0.7, high: 0.8, promote: 4 },
    },
  }
}

/** Runs one op; returns what a read returned (comparable with toEqual), or undefined. */
async function run(db: Database, op: Op, advance: (ms: number) => void): Promise<unknown> {
  switch (op.t) {
    case 'put':
      return (await db.put(op.key, op.value, op.tier === undefined ? undefined : { tier: op.tier })).seq
    case 'del':
      return (await db.delete(op.key)).seq
    case 'batch':
      return (
        await db.batch(op.ops.map((o) => (o.value === undefined ? { type: 'del' as const, key: o.key } : { type: 'put' as const, key: o.key, value: o.value })))
      ).seq
    case 'entangle':
      return (await db.entangle(op.key, op.partners, { strength: op.strength })).seq
    case 'disentangle':
      return (await db.disentangle(op.key)).seq
    case 'get':
      return db.get(op.key)
    case 'getEntry': {
      const e = db.getEntry(op.key)
      return e === undefined ? undefined : { value: e.value, seq: e.seq }
    }
    case 'quantumGet': {
      const q = db.quantumGet(op.key)
      return { value: q.value, entangled: Array.from(q.entangled) }
    }
    case 'range':
      return Array.from(db.range({ prefix: op.prefix }).entries())
    case 'tick':
      advance(op.ms)
      db.physics.tick()
      return undefined
    case 'settle':
      db.physics.settle()
      return undefined
  }
}

describe('physics never changes results', () => {
  it('same operations with physics off and squeezed physics on: same reads', async () => {
    let evaporated = 0
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 30, maxLength: 200, size: 'large' }), async (ops) => {
        let now = 1_000_000
        const flat = await open({ durability: 'memory', physics: false, entanglement: rules, maxEntangled: 3 })
        const phys = await open({ durability: 'memory', ...squeezed(() => now) })
        try {
          for (const op of ops) {
            const a = await run(flat, op, () => undefined)
            const b = await run(phys, op, (ms) => (now += ms))
            expect(b).toEqual(a)
          }
          evaporated += phys.metrics().counters!.evaporated
        } finally {
          await flat.close()
          await phys.close()
        }
      }),
      { numRuns: FUZZ ? 1000 : 100 },
    )
    // The squeeze must reach every mechanism, evaporation (keys leaving the Map) included.
    expect(evaporated).toBeGreaterThan(0)
  })

  it('a database with physics reopens (checkpoint + log) to the same reads as the flat one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 80, size: 'large' }), fc.nat(80), async (ops, cut) => {
        let now = 1_000_000
        const dir = tmpDir('islab-phys-prop-')
        const flat = await open({ durability: 'memory', physics: false, entanglement: rules, maxEntangled: 3 })
        let phys = await open({ dir, checkpoint: false, ...squeezed(() => now) })
        try {
          for (let i = 0; i < ops.length; i++) {
            if (i === cut) await phys.checkpoint()
            await run(flat, ops[i]!, () => undefined)
            await run(phys, ops[i]!, (ms) => (now += ms))
          }
          await phys.close()
          phys = await open({ dir, checkpoint: false, ...squeezed(() => now) })
          for (const key of ['user:1', 'user:2', 'user:3', 'profile:1', 'profile:2', 'profile:3', 'settings:1', 'x', 'y', 'z']) {
            expect(await run(phys, { t: 'getEntry', key }, () => undefined)).toEqual(await run(flat, { t: 'getEntry', key }, () => undefined))
            expect(await run(phys, { t: 'quantumGet', key }, () => undefined)).toEqual(await run(flat, { t: 'quantumGet', key }, () => undefined))
          }
        } finally {
          await flat.close()
          await phys.close()
        }
      }),
      { numRuns: FUZZ ? 300 : 25 },
    )
  })
})
