// The put path's encoder (src/events/plainEncoder.ts) must write exactly the bytes msgpackr
// writes with valueCodec's options, for every value it accepts, and give up on every value it
// cannot write that way (valueCodec then takes msgpackr's path, errors included).
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { encodePlain } from '../src/events/plainEncoder.js'
import { decodeValue, encodeValue } from '../src/events/valueCodec.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint', copyBuffers: true })

const numberArb = fc.oneof(
  fc.integer(),
  fc.integer({ min: -0x80000000, max: 0xffffffff }),
  fc.constantFrom(0, -0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 32, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53, NaN, Infinity, -Infinity),
  fc.double(),
)
const stringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 300 }),
  fc.constantFrom('\ud800', 'a\udc00b', 'x'.repeat(31), 'é'.repeat(16), 'é'.repeat(128), '€'.repeat(90), 'x'.repeat(70000)),
)
const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    numberArb,
    stringArb,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.bigInt(),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(stringArb, tie('value'), { maxKeys: 20 }),
    fc.array(tie('value'), { maxLength: 3 }).map((a) => new Set(a)),
  ),
}))

describe('plainEncoder', () => {
  it('writes msgpackr\'s bytes for every value it accepts, and valueCodec round-trips them', () => {
    fc.assert(
      fc.property(valueArb, (v) => {
        const fast = encodePlain(v)
        let packed: Buffer | undefined
        try {
          packed = packr.pack(v)
        } catch {
          packed = undefined
        }
        if (fast !== undefined) {
          expect(packed).toBeDefined()
          expect(Buffer.from(fast).equals(packed!)).toBe(true)
        }
        if (v === undefined) return
        let viaCodec: Uint8Array | undefined
        try {
          viaCodec = encodeValue(v)
        } catch {
          // A value msgpackr writes but valueCodec refuses (a lone surrogate): the fast path must have given up.
          expect(fast).toBeUndefined()
          return
        }
        expect(decodeValue(viaCodec)).toEqual(decodeValue(packr.pack(v)))
      }),
      { numRuns: FUZZ ? 20000 : 1500 },
    )
  })

  it('takes JSON-like values itself', () => {
    for (const v of [{ id: 1, name: 'ada #1', tags: ['a', 'b'], score: 1.5, ok: true, none: null, u: undefined }, [1, -1, 'é'], 'x', 0, -2.5, false]) {
      expect(encodePlain(v)).toBeDefined()
    }
  })

  it('gives up on what msgpackr does not write as a plain value, and on lone surrogates and cycles', () => {
    class Point {
      x = 1
    }
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const withConstructor = { constructor: 5 }
    const inherited = Object.create({ a: 1 }) as object
    const noProto = Object.assign(Object.create(null) as object, { a: 1 })
    for (const v of [new Point(), cyclic, withConstructor, inherited, noProto, new Map(), new Date(0), 1n, Buffer.from('x'), '\ud800', { k: 'a\udfff' }, [() => 1], Symbol('s')]) {
      expect(encodePlain(v)).toBeUndefined()
    }
  })

  it('keeps earlier values intact when a value does not fit in the rest of the slab', () => {
    const values = Array.from({ length: 400 }, (_, i) => ({ i, s: 'y'.repeat(i * 37) }))
    const encoded = values.map((v) => encodePlain(v)!)
    for (let i = 0; i < values.length; i++) expect(Buffer.from(encoded[i]!).equals(packr.pack(values[i]))).toBe(true)
  })
})
