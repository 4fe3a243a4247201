// Any interleaving of writes, subscriptions (started at once or later, with or without `since`),
// stops, flushes and event-loop turns: every subscription receives exactly the seqs after its
// `since` (without one: db.seq when changes() was called), in order, no gap, no duplicate, across
// the catch-up/live hand-over; a stopped one receives a gap-free prefix of them; and once all
// have ended, none is left registered on the feed.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { ChangeStream, Database } from '../src/index.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'

type Step =
  | { t: 'write'; n: number }
  | { t: 'batch' }
  | { t: 'subscribe'; back: number | undefined; durableOnly: boolean; deferred: boolean }
  | { t: 'start' }
  | { t: 'stop'; which: number }
  | { t: 'turn' }
  | { t: 'flush' }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('write' as const), n: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'batch' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('subscribe' as const),
      back: fc.option(fc.nat(400), { nil: undefined }),
      durableOnly: fc.boolean(),
      deferred: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'start' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stop' as const), which: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ t: 'turn' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
)

interface Sub {
  since: number
  stream: ChangeStream
  result?: Promise<number[]>
  stop?: () => void
  stopped: boolean
}

/** Iterates `stream` until told to stop, or until writing is over and the final seq has arrived. */
function collect(db: Database, sub: Sub, done: Promise<void>): Promise<number[]> {
  let stop!: () => void
  const stopped = new Promise<'stop'>((r) => (stop = () => r('stop')))
  sub.stop = stop
  return (async () => {
    const seqs: number[] = []
    const it = sub.stream[Symbol.asyncIterator]()
    const TICK = Symbol('tick')
    let pending = it.next()
    for (;;) {
      let r = await Promise.race([pending, done.then(() => TICK), stopped])
      if (r === 'stop') {
        // return() must settle even while next() is pending; the pending next() then settles too
        // (with a change it already had, or done).
        expect(await it.return!()).toEqual({ done: true, value: undefined })
        const last = await pending
        if (!last.done && seqs.at(-1) !== last.value.seq) seqs.push(last.value.seq)
        expect(await it.next()).toEqual({ done: true, value: undefined })
        break
      }
      if (r === TICK) {
        // Writing is over: stop once everything up to the final seq has arrived.
        if ((seqs.at(-1) ?? sub.since) >= db.seq) break
        r = await Promise.race([pending, stopped])
        if (r === 'stop') continue
      }
      const res = r as IteratorResult<{ seq: number }>
      if (res.done) break
      // Batch members share a seq: record each seq once.
      if (seqs.at(-1) !== res.value.seq) seqs.push(res.value.seq)
      pending = it.next()
    }
    await it.return?.(undefined)
    return seqs
  })()
}

function streams(db: Database): number {
  return (db as unknown as { feed: { streams: number } }).feed.streams
}

describe.each(['sync', 'buffered'] as const)('change stream hand-over (%s)', (durability) => {
  it('delivers exactly since+1..end to every subscriber, a gap-free prefix to a stopped one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), async (steps) => {
        const db = await open({ dir: tmpDir(), durability, segmentBytes: 2048, syncIntervalMs: 2 })
        let resolveDone!: () => void
        const done = new Promise<void>((r) => (resolveDone = r))
        const subs: Sub[] = []
        const start = (sub: Sub): void => {
          sub.result ??= collect(db, sub, done)
        }
        let key = 0
        try {
          for (const s of steps) {
            if (s.t === 'write') for (let i = 0; i < s.n; i++) void db.put(`k${key++ % 7}`, i)
            else if (s.t === 'batch') void db.batch([{ type: 'put', key: 'b1', value: 1 }, { type: 'del', key: 'k1' }])
            else if (s.t === 'subscribe') {
              const since = s.back === undefined ? db.seq : Math.max(0, db.seq - s.back)
              const stream = db.changes({ since: s.back === undefined ? undefined : since, durableOnly: s.durableOnly })
              const sub: Sub = { since, stream, stopped: false }
              subs.push(sub)
              if (!s.deferred) start(sub)
            } else if (s.t === 'start') {
              const waiting = subs.find((x) => x.result === undefined)
              if (waiting !== undefined) start(waiting)
            } else if (s.t === 'stop') {
              const running = subs.filter((x) => x.result !== undefined && !x.stopped)
              const victim = running[s.which % Math.max(1, running.length)]
              if (victim !== undefined) {
                victim.stopped = true
                victim.stop!()
              }
            } else if (s.t === 'turn') await new Promise((r) => setImmediate(r))
            else await db.flush()
          }
          for (const sub of subs) start(sub)
          await db.flush()
          resolveDone()
          const end = db.seq
          for (const sub of subs) {
            const got = await sub.result!
            const all = Array.from({ length: end - sub.since }, (_, i) => sub.since + 1 + i)
            expect(got).toEqual(sub.stopped ? all.slice(0, got.length) : all)
          }
          expect(streams(db)).toBe(0)
        } finally {
          resolveDone()
          await db.close()
        }
      }),
      { numRuns: FUZZ ? 500 : 40 },
    )
  })
})
