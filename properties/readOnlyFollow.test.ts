// A read-only open following a writer, under any schedule of writes, batches, flushes,
// checkpoints (which prune the segments the reader has not read yet) and refreshes: after every
// refresh the reader holds exactly the state of the log's durable prefix — the writer's durableSeq,
// no more (nothing only in the writer's memory), no less, never half a batch — and its change
// stream delivers consecutive seqs, or stops with ISLAB_HISTORY_GONE where pruning made that
// impossible. Nothing here is timed: the reader follows only when told (followMs: false).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { Change } from '../src/index.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'

type Step =
  | { t: 'put'; k: number; v: number }
  | { t: 'del'; k: number }
  | { t: 'batch'; v: number }
  | { t: 'flush' }
  | { t: 'checkpoint' }
  | { t: 'refresh' }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), k: fc.nat(7), v: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('batch' as const), v: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'flush' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'checkpoint' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'refresh' as const }) },
)

/** One event per seq (index seq - 1): what it does to the model. */
type ModelEvent = [string, number | undefined][]

function modelAt(events: ModelEvent[], seq: number): Map<string, number> {
  const m = new Map<string, number>()
  for (let i = 0; i < seq; i++) {
    for (const [k, v] of events[i]!) {
      if (v === undefined) m.delete(k)
      else m.set(k, v)
    }
  }
  return m
}

describe('read-only follower (property)', () => {
  it('after every refresh holds exactly the durable prefix of the log, and its stream has no gap', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 60 }), async (steps) => {
        const dir = tmpDir('islab-ro-prop-')
        const w = await open({ dir, syncIntervalMs: 60_000, segmentBytes: 200, checkpoint: { auto: false, keep: 1 } })
        await w.put('start', 0)
        await w.flush()
        const events: ModelEvent[] = [[['start', 0]]]
        const ro = await open({ dir, readOnly: true, followMs: false })
        const seen: number[] = []
        let streamEnd: string | undefined
        const sub = ro.changes().subscribe({
          next: (c: Change) => {
            if (seen.at(-1) !== c.seq) seen.push(c.seq)
          },
          error: (e: { code?: string }) => (streamEnd = e.code),
        })
        try {
          for (const s of steps) {
            if (s.t === 'put') {
              await w.put(`k${s.k}`, s.v)
              events.push([[`k${s.k}`, s.v]])
            } else if (s.t === 'del') {
              await w.delete(`k${s.k}`)
              events.push([[`k${s.k}`, undefined]])
            } else if (s.t === 'batch') {
              await w.batch([
                { type: 'put', key: 'pair:a', value: s.v },
                { type: 'del', key: 'k0' },
                { type: 'put', key: 'pair:b', value: s.v },
              ])
              events.push([
                ['pair:a', s.v],
                ['k0', undefined],
                ['pair:b', s.v],
              ])
            } else if (s.t === 'flush') {
              await w.flush()
            } else if (s.t === 'checkpoint') {
              await w.checkpoint()
            } else {
              const seq = await ro.refresh()
              expect(seq).toBe(w.stats().durableSeq)
              expect(new Map(ro.range().entries())).toEqual(modelAt(events, seq))
            }
          }
          await w.flush()
          const seq = await ro.refresh()
          expect(seq).toBe(w.seq)
          expect(new Map(ro.range().entries())).toEqual(modelAt(events, seq))
          // The stream delivers asynchronously: wait for its last change (or its end).
          for (let i = 0; i < 1000 && streamEnd === undefined && (seen.at(-1) ?? 1) < seq; i++) await new Promise((r) => setTimeout(r, 2))
          expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => 2 + i))
          if (streamEnd === undefined) expect(seen.at(-1) ?? 1).toBe(seq)
          else expect(streamEnd).toBe('ISLAB_HISTORY_GONE')
        } finally {
          sub.unsubscribe()
          await ro.close()
          await w.close()
        }
      }),
      { numRuns: FUZZ ? 300 : 25 },
    )
  })
})
