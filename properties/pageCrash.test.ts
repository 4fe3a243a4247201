// Crashes as a page cache tears a write: the real engine runs in sync mode over SimFileLayer with
// a PageTear, so that at the crash any subset of the unsynced 4 KiB pages of the write in flight
// persists (the others read as zeros, or the file ends at a page boundary). fast-check picks the
// writes (values up to a few KiB, so commits span pages), rotations (small segmentBytes),
// checkpoints, the crash point and the pages kept. After a reboot, strict recovery must:
//  (a) open: an ordinary crash is never ISLAB_CORRUPTION;
//  (b) hold every acknowledged write;
//  (c) be exactly the model's state after some prefix of the writes;
//  (d) continue the sequence from there.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { forgetLockForCrashTest } from '../src/io/dirLock.js'
import { open } from '../src/index.js'
import type { Database } from '../src/index.js'
import { SimFileLayer } from '../test/helpers/simFileLayer.js'
import { expectModelPrefix, issue } from './fixtures/simOps.js'
import type { Op } from './fixtures/simOps.js'
import type { PageTear } from '../test/helpers/simFileLayer.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const DIR = '/sim/pages'

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e')
// Values of a few hundred bytes to a few KiB: a commit of several writes spans pages, and a page
// can hold whole records of it (what makes out-of-order persistence visible to the reader).
const valueArb = fc.oneof(
  { weight: 1, arbitrary: fc.integer() },
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 200, max: 1500 }), fc.constantFrom('x', 'y', 'é', '🔑')).map(([n, c]) => c.repeat(n)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 3000, max: 6000 }), fc.constantFrom('x', 'z')).map(([n, c]) => c.repeat(n)) },
)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('del' as const), key: keyArb }) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }), { minLength: 1, maxLength: 3 })
      .map((ops) => ({ t: 'batch' as const, ops })),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'checkpoint' as const }) },
)
const tearArb: fc.Arbitrary<PageTear> = fc.record({
  pageBytes: fc.constant(4096),
  persisted: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  // Mostly the file's whole new length, with holes of zeros where pages did not persist.
  cut: fc.oneof({ weight: 2, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat() }),
})

/** Runs `ops` until the crash; returns the highest seq acknowledged before it. */
async function runUntilCrash(sim: SimFileLayer, ops: Op[], concurrency: number, walFormat: 'binary' | 'json'): Promise<number> {
  let maxAcked = 0
  let db: Database | undefined
  try {
    // No compression: values keep their size, so commits span pages.
    db = await open({ dir: DIR, durability: 'sync', fileLayer: sim, segmentBytes: 16384, walFormat, compressThreshold: 1 << 30, checkpoint: { keep: 2 } })
  } catch {
    return 0 // crashed while creating the directory: nothing was acknowledged
  }
  const crashed = new Promise<void>((resolve) => (sim.onCrash = resolve))
  for (let i = 0; i < ops.length && !sim.isDown; i += concurrency) {
    const group = ops.slice(i, i + concurrency).map((op) =>
      issue(db, op).then(
        (r) => {
          const seq = (r as { seq?: number } | undefined)?.seq
          if (seq !== undefined) maxAcked = Math.max(maxAcked, seq)
        },
        () => undefined,
      ),
    )
    await Promise.race([Promise.all(group), crashed])
  }
  return maxAcked
}

/** Where the machine goes down: before its Nth file operation, or right after its Nth append write. */
type CrashPoint = { atOp: number } | { afterWrite: number }

export async function pageCrashRun(ops: Op[], concurrency: number, crash: CrashPoint, tear: PageTear, walFormat: 'binary' | 'json'): Promise<void> {
  const sim = 'atOp' in crash ? new SimFileLayer(crash.atOp, 1, tear) : new SimFileLayer(Infinity, 1, tear, crash.afterWrite)
  const maxAcked = await runUntilCrash(sim, ops, concurrency, walFormat)
  const image = sim.crash()
  forgetLockForCrashTest(DIR)
  const recovered = await open({ dir: DIR, durability: 'sync', fileLayer: image, checkpoint: false, recovery: 'strict' }) // (a)
  try {
    const n = recovered.seq
    expect(n).toBeLessThanOrEqual(ops.filter((o) => o.t !== 'checkpoint').length)
    expect(n).toBeGreaterThanOrEqual(maxAcked) // (b)
    await expectModelPrefix(recovered, ops) // (c), (d)
  } finally {
    await recovered.close()
  }
}

describe('crash with out-of-order page persistence (sync mode)', () => {
  it('always opens in strict mode, to a prefix holding every acknowledged write', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        // Half the crashes come right after a write, when its pages are all unsynced.
        fc.oneof(fc.record({ atOp: fc.integer({ min: 1, max: 120 }) }), fc.record({ afterWrite: fc.integer({ min: 1, max: 16 }) })),
        tearArb,
        fc.constantFrom('binary' as const, 'json' as const),
        async (ops, concurrency, crash, tear, walFormat) => pageCrashRun(ops, concurrency, crash, tear, walFormat),
      ),
      { numRuns: FUZZ ? 4000 : 300 },
    )
  }, FUZZ ? 3_600_000 : 60_000)
})
