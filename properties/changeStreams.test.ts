// Any interleaving of writes, subscriptions, flushes and event-loop turns: every subscription
// receives exactly the seqs after its `since`, in order, no gap, no duplicate, across the
// catch-up/live hand-over.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { Database } from '../src/index.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'

type Step = { t: 'write'; n: number } | { t: 'batch' } | { t: 'subscribe'; back: number; durableOnly: boolean } | { t: 'turn' } | { t: 'flush' }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('write' as const), n: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'batch' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('subscribe' as const), back: fc.nat(400), durableOnly: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ t: 'turn' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
)

async function collect(db: Database, since: number, durableOnly: boolean, until: () => number, done: Promise<void>): Promise<number[]> {
  const seqs: number[] = []
  const it = db.changes({ since, durableOnly })[Symbol.asyncIterator]()
  const TICK = Symbol('tick')
  let pending = it.next()
  for (;;) {
    let r = await Promise.race([pending, done.then(() => TICK)])
    if (r === TICK) {
      // Writing is over: stop once everything up to the final seq has arrived.
      if ((seqs.at(-1) ?? since) >= until()) break
      r = await pending
    }
    const res = r as IteratorResult<{ seq: number }>
    if (res.done) break
    // Batch members share a seq: record each seq once.
    if (seqs.at(-1) !== res.value.seq) seqs.push(res.value.seq)
    pending = it.next()
  }
  void it.return?.(undefined)
  return seqs
}

describe.each(['sync', 'buffered'] as const)('change stream hand-over (%s)', (durability) => {
  it('delivers exactly since+1..end to every subscriber', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), async (steps) => {
        const db = await open({ dir: tmpDir(), durability, segmentBytes: 2048, syncIntervalMs: 2 })
        let resolveDone!: () => void
        const done = new Promise<void>((r) => (resolveDone = r))
        const subs: { since: number; result: Promise<number[]> }[] = []
        let key = 0
        try {
          for (const s of steps) {
            if (s.t === 'write') for (let i = 0; i < s.n; i++) void db.put(`k${key++ % 7}`, i)
            else if (s.t === 'batch') void db.batch([{ type: 'put', key: 'b1', value: 1 }, { type: 'del', key: 'k1' }])
            else if (s.t === 'subscribe') {
              const since = Math.max(0, db.seq - s.back)
              subs.push({ since, result: collect(db, since, s.durableOnly, () => db.seq, done) })
            } else if (s.t === 'turn') await new Promise((r) => setImmediate(r))
            else await db.flush()
          }
          await db.flush()
          resolveDone()
          const end = db.seq
          for (const sub of subs) {
            const got = await sub.result
            expect(got).toEqual(Array.from({ length: end - sub.since }, (_, i) => sub.since + 1 + i))
          }
        } finally {
          resolveDone()
          await db.close()
        }
      }),
      { numRuns: FUZZ ? 500 : 40 },
    )
  })
})
