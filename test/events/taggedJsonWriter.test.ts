import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toTaggedJson } from '../../src/events/taggedJson.js'
import { putNumber, writeJsonString, writeTaggedJson } from '../../src/events/taggedJsonWriter.js'
import { decodeValue, encodeValue } from '../../src/events/valueCodec.js'
import { GrowBuffer } from '../../src/wal/recordCodec.js'

const exact = (bytes: Uint8Array) => JSON.stringify(toTaggedJson(decodeValue(bytes)))

function fast(bytes: Uint8Array): string {
  const out = new GrowBuffer(16)
  out.append(Buffer.from('>'))
  writeTaggedJson(out, bytes)
  return out.view().toString('utf8', 1)
}

const leaf = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }).filter((s) => s.isWellFormed()),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', 'é', '😀', '$', 'a') }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, NaN, Infinity, -Infinity),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  fc.date({ min: new Date(-1e14), max: new Date(1e14) }),
  fc.uint8Array().map((a) => Buffer.from(a)),
  fc.uint8Array(),
  fc.float32Array(),
)

const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, tie('arr'), tie('obj'), tie('map'), tie('set'), tie('dollar')),
  arr: fc.array(tie('v'), { maxLength: 5 }),
  obj: fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('$x', '__proto__', '12', '0', 'a"b')), tie('v'), { maxKeys: 5 }),
  map: fc.array(fc.tuple(tie('v'), tie('v')), { maxLength: 3 }).map((e) => new Map(e)),
  set: fc.array(tie('v'), { maxLength: 3 }).map((e) => new Set(e)),
  dollar: fc.tuple(fc.constantFrom('$date', '$bytes', '$object', '$', '$x'), tie('v')).map(([k, v]) => ({ [k]: v })),
}))

describe('writeTaggedJson', () => {
  it('writes exactly what JSON.stringify(toTaggedJson(decodeValue(bytes))) writes', () => {
    fc.assert(
      fc.property(value.v, (v) => {
        let bytes: Uint8Array
        try {
          bytes = encodeValue(v)
        } catch {
          return fc.pre(false) // e.g. an object whose __proto__ key made it look like a Date
        }
        expect(fast(bytes)).toBe(exact(bytes))
      }),
      { numRuns: 2000 },
    )
  })

  it('handles the common record shapes on the fast path', () => {
    const v = { id: 1, name: 'Ada "the first"\n', at: new Date(0), big: 2n ** 60n, bytes: Buffer.from('hi'), n: -1.5, ok: true, none: null, l: [1, 'x'] }
    expect(fast(encodeValue(v))).toBe(exact(encodeValue(v)))
    for (const w of [{ '': 36 }, { $: 36 }, { '': { $x: 1 } }, [{ $date: 1 }, 'a\u0000b']]) {
      expect(fast(encodeValue(w))).toBe(exact(encodeValue(w)))
    }
  })

  it('falls back on bytes that are not msgpack', () => {
    const bad = Buffer.from([0x92, 0x01])
    expect(() => exact(bad)).toThrow()
    expect(() => fast(bad)).toThrow()
  })
})

describe('writeJsonString', () => {
  it('writes what JSON.stringify writes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }).filter((s) => s.isWellFormed()), (s) => {
        const out = new GrowBuffer(4)
        writeJsonString(out, s)
        expect(out.view().toString('utf8')).toBe(JSON.stringify(s))
      }),
    )
  })
})

describe('putNumber', () => {
  it('writes what JSON.stringify writes for any finite number', () => {
    const check = (v: number) => {
      const b = Buffer.alloc(40)
      expect(b.toString('latin1', 0, putNumber(b, 0, v))).toBe(JSON.stringify(v))
    }
    for (const v of [0, 1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 1e8, 1e8 - 1, 1e8 + 1, 123456789012, 2 ** 53 - 1, -(2 ** 53 - 1), -7, 1.5, 1e21, 5e-324]) check(v)
    for (let i = -2000; i <= 2000; i++) for (const d of [8, 10, 100, 3, 7, 1000, 1e6]) check(i / d)
    for (const v of [0.1 + 0.2, 1e-6, 1.5e-6, 1e-7, 2097151.5, 2097152.5, 0.000001, 123.456789, 1 / 3, 2 ** 31 + 0.5]) check(v)
    const decimals = fc.tuple(fc.integer({ min: -3e9, max: 3e9 }), fc.integer({ min: 0, max: 8 })).map(([n, f]) => n / 10 ** f)
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.maxSafeNat(), fc.double({ noNaN: true, noDefaultInfinity: true }), decimals), (v) => check(v)),
      { numRuns: 20_000 },
    )
  })
})
