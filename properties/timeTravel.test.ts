// getAt and history against a model that remembers every state and knows what was pruned: across
// restarts, batches, deletes, both formats and checkpoints that delete segments, every answer is
// exact, and ISLAB_HISTORY_GONE comes only where what is retained (the log from its oldest
// segment, the checkpoints on disk, the state now) truly cannot tell the value.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { listCheckpoints } from '../src/checkpoint/checkpointStore.js'
import { open } from '../src/index.js'
import type { Database } from '../src/index.js'
import { nodeFileLayer } from '../src/io/nodeFileLayer.js'
import { listSegments } from '../src/wal/logReader.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const KEYS = ['a', 'b', 'c']
const keyArb = fc.constantFrom(...KEYS)
type Op =
  | { t: 'put'; k: string; v: number }
  | { t: 'del'; k: string }
  | { t: 'batch'; ops: [string, number | null][] }
  | { t: 'reopen'; json: boolean }
  | { t: 'checkpoint' }
  | { t: 'filler'; n: number }
  | { t: 'read'; k: string; back: number }
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('put' as const), k: keyArb, v: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: keyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('batch' as const), ops: fc.array(fc.tuple(keyArb, fc.option(fc.integer())), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), json: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('checkpoint' as const) }) },
  // Writes of another key, to push the log past segment boundaries.
  { weight: 3, arbitrary: fc.record({ t: fc.constant('filler' as const), n: fc.integer({ min: 1, max: 12 }) }) },
  // A read in the middle of the run (builds the index early, so later writes go in live).
  { weight: 1, arbitrary: fc.record({ t: fc.constant('read' as const), k: keyArb, back: fc.nat(20) }) },
)

/** The true history: the state after every seq, and which keys each seq wrote. */
class Model {
  readonly states: Map<string, number>[] = [new Map()]
  readonly wrote: Set<string>[] = [new Set()]

  get seq(): number {
    return this.states.length - 1
  }

  apply(ops: [string, number | null][]): void {
    const next = new Map(this.states[this.seq])
    for (const [k, v] of ops) v === null ? next.delete(k) : next.set(k, v)
    this.states.push(next)
    this.wrote.push(new Set(ops.map(([k]) => k)))
  }

  /** Seq of the last write of k at or before x (0: none). */
  lastWrite(k: string, x: number): number {
    for (let s = x; s > 0; s--) if (this.wrote[s]!.has(k)) return s
    return 0
  }

  changedIn(k: string, after: number, upTo: number): boolean {
    for (let s = after + 1; s <= upTo; s++) if (this.wrote[s]!.has(k)) return true
    return false
  }

  /**
   * Whether k's value at s follows from what is retained: every write with seq ≥ F (the log), and
   * k's entry — present or not, and the seq of its last write — as of each snapshot P (seq 0, the
   * checkpoints on disk, the state now).
   */
  knowable(k: string, s: number, F: number, checkpoints: number[]): boolean {
    if (s >= this.seq) return true
    // A write of k in the log at or before s.
    if (s >= F && this.lastWrite(k, s) >= F) return true
    for (const P of [0, ...checkpoints, this.seq]) {
      const present = this.states[P]!.has(k)
      if (P >= s) {
        // P's entry was last written at or before s: nothing changed in (s, P].
        if (present && this.lastWrite(k, P) <= s) return true
        // Absent at P, and the log shows no write of k in (s, P] (or P = s).
        if (!present && (P === s || (s >= F - 1 && !this.changedIn(k, s, P)))) return true
      } else if (P >= F - 1 && !this.changedIn(k, P, s)) {
        // The log covers (P, s] and shows no write of k there.
        return true
      }
    }
    return false
  }
}

describe('time travel vs model', () => {
  it('getAt(seq) and history are exact, and HISTORY_GONE only where nothing retained can tell', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40, size: 'medium' }), fc.constantFrom(1, 2), async (ops, keep) => {
        const dir = tmpDir()
        const options = { dir, durability: 'buffered' as const, segmentBytes: 160, checkpoint: { keep } }
        let db: Database = await open(options)
        const m = new Model()
        const retained = async () => {
          await db.flush() // buffered: the newest segment exists once written
          return {
            F: listSegments(nodeFileLayer, dir)[0]?.firstSeq ?? m.seq + 1,
            checkpoints: listCheckpoints(nodeFileLayer, dir).map((c) => c.seq),
          }
        }
        /** Asks for k at s and checks the answer against the model. */
        const check = async (k: string, s: number): Promise<boolean> => {
          const { F, checkpoints } = await retained()
          try {
            const got = await db.getAt(k, { seq: s })
            expect(got, `getAt(${k}, ${s}) with F=${F}`).toBe(m.states[Math.min(s, m.seq)]!.get(k))
            return true
          } catch (err) {
            expect(err, `getAt(${k}, ${s})`).toMatchObject({ code: 'ISLAB_HISTORY_GONE', key: k })
            expect(m.knowable(k, s, F, checkpoints), `getAt(${k}, ${s}) is gone but retained data tells it (F=${F}, checkpoints ${checkpoints})`).toBe(false)
            return false
          }
        }
        try {
          for (const op of ops) {
            if (op.t === 'reopen') {
              await db.close()
              db = await open({ ...options, walFormat: op.json ? 'json' : 'binary' })
            } else if (op.t === 'checkpoint') {
              await db.checkpoint()
            } else if (op.t === 'read') {
              await check(op.k, Math.max(0, m.seq - op.back))
            } else if (op.t === 'put') {
              await db.put(op.k, op.v)
              m.apply([[op.k, op.v]])
            } else if (op.t === 'del') {
              await db.delete(op.k)
              m.apply([[op.k, null]])
            } else if (op.t === 'filler') {
              for (let i = 0; i < op.n; i++) {
                await db.put('filler', i)
                m.apply([['filler', i]])
              }
            } else {
              await db.batch(op.ops.map(([k, v]) => (v === null ? { type: 'del', key: k } : { type: 'put', key: k, value: v })))
              m.apply(op.ops)
            }
          }
          const { F } = await retained()
          for (const k of KEYS) {
            // Every seq: exact or truly gone; and the error's oldestSeq is where answers start.
            let answerableFrom = m.seq + 1
            let gone: { oldestSeq: number } | undefined
            for (let s = m.seq; s >= 0; s--) {
              if (!(await check(k, s))) {
                gone ??= (await db.getAt(k, { seq: s }).catch((e: unknown) => e)) as { oldestSeq: number }
                break
              }
              answerableFrom = s
            }
            if (gone !== undefined) expect(gone.oldestSeq).toBe(answerableFrom)
            for (let s = answerableFrom - 1; s >= 0; s--) await check(k, s)
            // history: every write of k from where it says it starts, values exact.
            const h = db.history(k)
            const start = await h.start()
            expect(start.complete).toBe(F <= 1)
            expect(start.from).toBeLessThanOrEqual(Math.max(F, 0))
            const seen: number[] = []
            for await (const e of h) {
              seen.push(e.seq)
              expect(e.type === 'del' ? undefined : e.value).toBe(m.states[e.seq]!.get(k))
            }
            const writes = m.wrote.map((w, s) => (w.has(k) && s >= start.from ? s : -1)).filter((s) => s >= 0)
            expect(seen).toEqual(writes)
            if (start.from > 0 && start.from < F) {
              // Led by the last write before the log: it must be exactly that write.
              expect(m.lastWrite(k, F - 1)).toBe(start.from)
            }
          }
        } finally {
          await db.close()
        }
      }),
      { numRuns: FUZZ ? 500 : 40 },
    )
  }, FUZZ ? 1_800_000 : 60_000)
})
