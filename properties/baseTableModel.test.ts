// BaseTable against a Map, over any mix of loading (puts, deletes, chunks), reserving from an
// estimate (replay reserves per WAL window: any count, zero, or what deletes made negative),
// trimming when loading ends (issue 16), then appends and inserts: every key reads back its
// newest value and seq, deleted keys are absent, and nothing hangs.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BaseTable } from '../src/state/baseTable.js'

const FUZZ = process.env.FUZZ === '1'

type Op =
  | { t: 'put'; k: number; v: number }
  | { t: 'del'; k: number }
  | { t: 'delBelow'; k: number }
  | { t: 'many'; ks: number[] }
  | { t: 'reserve'; n: number }
  | { t: 'trim' }
  | { t: 'settle' }
  | { t: 'compact' }

const keyArb = fc.integer({ min: 0, max: 120 })
const loadArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('put' as const), k: keyArb, v: fc.nat(1000) }), weight: 6 },
  { arbitrary: fc.record({ t: fc.constant('del' as const), k: keyArb }), weight: 4 },
  // A log of deletes: most keys go, their rows stay (and keep their slots).
  { arbitrary: fc.record({ t: fc.constant('delBelow' as const), k: keyArb }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('many' as const), ks: fc.uniqueArray(keyArb, { minLength: 1, maxLength: 40 }) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('reserve' as const), n: fc.integer({ min: -50, max: 5000 }) }), weight: 2 },
  { arbitrary: fc.constant({ t: 'trim' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'settle' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'compact' as const }), weight: 1 },
)
const appendArb = fc.array(fc.record({ insert: fc.boolean(), k: keyArb, v: fc.nat(1000) }), { maxLength: 60, size: 'max' })

const keyOf = (k: number): string => `key:${k}`

describe('BaseTable against a Map', () => {
  it('loads, reserves, trims and appends without losing or inventing a key', () => {
    fc.assert(
      fc.property(fc.array(loadArb, { maxLength: 200, size: 'max' }), appendArb, (ops, appends) => {
        let t = new BaseTable()
        const model = new Map<string, { v: number; seq: number }>()
        let seq = 0
        const put = (k: number, v: number): void => {
          const kb = Buffer.from(keyOf(k))
          const vb = Buffer.from([v & 0xff, v >> 8])
          seq++
          t.loadPut(kb, 0, kb.length, vb, 0, vb.length, seq, seq)
          model.set(keyOf(k), { v, seq })
        }
        for (const op of ops) {
          if (op.t === 'put') put(op.k, op.v)
          else if (op.t === 'del') {
            const kb = Buffer.from(keyOf(op.k))
            t.loadDel(kb, 0, kb.length)
            model.delete(keyOf(op.k))
          } else if (op.t === 'delBelow') {
            for (let k = 0; k < op.k; k++) {
              const kb = Buffer.from(keyOf(k))
              t.loadDel(kb, 0, kb.length)
              model.delete(keyOf(k))
            }
          } else if (op.t === 'many') {
            // A checkpoint chunk: keys not live here (loadMany appends rows without looking).
            const ks = op.ks.filter((k) => !model.has(keyOf(k)))
            if (ks.length === 0) continue
            const parts: Buffer[] = []
            const pos = new Int32Array(4 * ks.length)
            const nums = new Float64Array(2 * ks.length)
            let at = 0
            ks.forEach((k, i) => {
              const kb = Buffer.from(keyOf(k))
              const vb = Buffer.from([k & 0xff, 7])
              seq++
              pos.set([at, kb.length, at + kb.length, vb.length], 4 * i)
              nums.set([seq, seq], 2 * i)
              parts.push(kb, vb)
              at += kb.length + vb.length
              model.set(keyOf(k), { v: (k & 0xff) | (7 << 8), seq })
            })
            t.loadMany(Buffer.concat(parts), ks.length, pos, nums)
          } else if (op.t === 'reserve') t.reserve(op.n)
          else if (op.t === 'trim') t.trim()
          else if (op.t === 'settle') t.settle()
          else t = t.compacted()
        }
        t.trim()
        for (const a of appends) {
          const key = keyOf(a.k)
          seq++
          const bytes = Buffer.from([a.v & 0xff, a.v >> 8])
          if (a.insert) {
            if (t.insert(key, seq, seq, bytes) >= 0) continue // live here: unchanged
          } else t.append(key, seq, seq, bytes, false)
          model.set(key, { v: a.v, seq })
        }
        expect(t.live).toBe(model.size)
        for (let k = 0; k <= 120; k++) {
          const row = t.find(keyOf(k))
          const want = model.get(keyOf(k))
          if (want === undefined) {
            expect(row).toBe(-1)
            continue
          }
          expect(row).toBeGreaterThanOrEqual(0)
          expect(t.seqAt(row)).toBe(want.seq)
          const b = t.entry(row).bytes as Uint8Array
          expect(b[0]! | (b[1]! << 8)).toBe(want.v)
        }
      }),
      { numRuns: FUZZ ? 3000 : 300 },
    )
  })
})
