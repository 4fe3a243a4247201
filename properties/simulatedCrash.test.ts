// Simulated crashes: the real engine runs over SimFileLayer; fast-check picks the operations,
// the crash point (the Nth file operation) and how the crash tears unsynced data. After a
// reboot from the crash image the recovered database must hold:
//  (a) sync mode: every acknowledged write;
//  (b) buffered mode: every write up to the last completed sync;
//  (c) exactly the model's state after some prefix of the operations (no holes, no half batch);
//  (d) a sequence that continues from there without reuse.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { forgetLockForCrashTest } from '../src/io/dirLock.js'
import { open } from '../src/index.js'
import type { Database } from '../src/index.js'
import { SimFileLayer } from '../test/helpers/simFileLayer.js'
import { expectModelPrefix, issue } from './fixtures/simOps.js'
import type { Op } from './fixtures/simOps.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const DIR = '/sim/db'

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
const valueArb = fc.oneof(fc.integer(), fc.string({ maxLength: 30 }), fc.record({ n: fc.integer(), s: fc.string({ maxLength: 60 }) }, { noNullPrototype: true }))
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), key: keyArb }) },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }),
          fc.record({ type: fc.constant('del' as const), key: keyArb }),
        ),
        { minLength: 1, maxLength: 4 },
      )
      .map((ops) => ({ t: 'batch' as const, ops })),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'checkpoint' as const }) },
)

async function crashRun(
  durability: 'sync' | 'buffered',
  ops: Op[],
  concurrency: number,
  crashAtOp: number,
  tearSeed: number,
): Promise<void> {
  const sim = new SimFileLayer(crashAtOp, tearSeed)
  let durableAtCrash = 0
  let db: Database | undefined
  sim.onCrash = () => {
    durableAtCrash = db?.stats().durableSeq ?? 0
  }
  let maxAcked = 0
  const sequenced = ops.filter((o) => o.t !== 'checkpoint').length
  try {
    db = await open({ dir: DIR, durability, fileLayer: sim, segmentBytes: 300, checkpoint: { keep: 2 }, syncIntervalMs: 5 })
  } catch {
    // Crashed while opening an empty directory: nothing was acknowledged.
  }
  const crashed = new Promise<void>((resolve) => {
    const prev = sim.onCrash
    sim.onCrash = () => {
      prev?.()
      resolve()
    }
  })
  if (db !== undefined) {
    for (let i = 0; i < ops.length && !sim.isDown; i += concurrency) {
      const group = ops.slice(i, i + concurrency).map((op) =>
        issue(db!, op).then(
          (r) => {
            const seq = (r as { seq?: number } | undefined)?.seq
            if (seq !== undefined && !sim.isDown) maxAcked = Math.max(maxAcked, seq)
            else if (seq !== undefined) maxAcked = Math.max(maxAcked, seq) // acked by a sync that completed before the crash
          },
          () => undefined,
        ),
      )
      await Promise.race([Promise.all(group), crashed])
    }
  }
  const image = sim.crash()
  forgetLockForCrashTest(DIR)

  const recovered = await open({ dir: DIR, durability, fileLayer: image, checkpoint: false })
  try {
    const n = recovered.seq
    expect(n).toBeLessThanOrEqual(sequenced)
    if (durability === 'sync') expect(n).toBeGreaterThanOrEqual(maxAcked) // (a)
    else expect(n).toBeGreaterThanOrEqual(durableAtCrash) // (b)
    await expectModelPrefix(recovered, ops) // (c), (d)
  } finally {
    await recovered.close()
  }
}

describe.each(['sync', 'buffered'] as const)('simulated crash (%s)', (durability) => {
  it('recovers a prefix that holds every acknowledged (sync) or synced (buffered) write', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer(),
        async (ops, concurrency, crashAtOp, tearSeed) => crashRun(durability, ops, concurrency, crashAtOp, tearSeed),
      ),
      { numRuns: FUZZ ? 3000 : 150 },
    )
  })
})
