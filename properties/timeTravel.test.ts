// getAt and history against a model that remembers every state: for every key and every seq,
// the database's answer equals the model's, across restarts, batches, deletes and both formats.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { Database } from '../src/index.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const keyArb = fc.constantFrom('a', 'b', 'c')
type Op = { t: 'put'; k: string; v: number } | { t: 'del'; k: string } | { t: 'batch'; ops: [string, number | null][] } | { t: 'reopen'; json: boolean }
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('put' as const), k: keyArb, v: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: keyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('batch' as const), ops: fc.array(fc.tuple(keyArb, fc.option(fc.integer())), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), json: fc.boolean() }) },
)

describe('time travel vs model', () => {
  it('getAt(seq) and history agree with every past state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const dir = tmpDir()
        let db: Database = await open({ dir, durability: 'buffered', segmentBytes: 300 })
        const states: Map<string, number>[] = [new Map()]
        const cur = () => new Map(states[states.length - 1])
        try {
          for (const op of ops) {
            if (op.t === 'reopen') {
              await db.close()
              db = await open({ dir, durability: 'buffered', segmentBytes: 300, walFormat: op.json ? 'json' : 'binary' })
              continue
            }
            const next = cur()
            if (op.t === 'put') {
              await db.put(op.k, op.v)
              next.set(op.k, op.v)
            } else if (op.t === 'del') {
              await db.delete(op.k)
              next.delete(op.k)
            } else {
              await db.batch(op.ops.map(([k, v]) => (v === null ? { type: 'del', key: k } : { type: 'put', key: k, value: v })))
              for (const [k, v] of op.ops) v === null ? next.delete(k) : next.set(k, v)
            }
            states.push(next)
          }
          for (const k of ['a', 'b', 'c']) {
            for (let s = 0; s < states.length; s++) expect(await db.getAt(k, { seq: s })).toBe(states[s]!.get(k))
            const seen: number[] = []
            for await (const e of db.history(k)) {
              seen.push(e.seq)
              expect(e.type === 'del' ? undefined : e.value).toBe(states[e.seq]!.get(k))
            }
            const changedAt = states.map((_, s) => s).filter((s) => s > 0 && ops.length > 0 && touched(ops, s, k))
            expect(seen).toEqual([...new Set(changedAt)])
          }
        } finally {
          await db.close()
        }
      }),
      { numRuns: FUZZ ? 500 : 40 },
    )
  })
})

/** Whether the event with seq `s` (reopens take no seq) wrote key `k`. */
function touched(ops: Op[], s: number, k: string): boolean {
  const writes = ops.filter((o) => o.t !== 'reopen')
  const op = writes[s - 1]!
  if (op.t === 'batch') return op.ops.some(([key]) => key === k)
  return op.k === k
}
