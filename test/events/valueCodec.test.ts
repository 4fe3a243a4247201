import { describe, expect, it } from 'vitest'
import { decodeValue, encodeValue, freezeDecoded } from '../../src/events/valueCodec.js'

const roundTrip = (v: unknown) => decodeValue(encodeValue(v))

describe('valueCodec', () => {
  it('keeps bigints, Dates, Buffers, Uint8Arrays, Maps and Sets as their own types', () => {
    const v = {
      big: 2n ** 70n,
      small: -5n,
      date: new Date('2024-02-03T04:05:06.789Z'),
      buf: Buffer.from('bytes'),
      u8: new Uint8Array([1, 2, 3]),
      map: new Map<unknown, unknown>([[1, 'one'], ['k', new Map([['inner', [1, 2]]])]]),
      set: new Set([1, 'two']),
      nested: { arr: [1, null, true, 'x', 1.5] },
    }
    const out = roundTrip(v) as typeof v
    expect(out).toEqual(v)
    expect(typeof out.big).toBe('bigint')
    expect(out.date).toBeInstanceOf(Date)
    expect(Buffer.isBuffer(out.buf)).toBe(true)
    expect(out.u8).toBeInstanceOf(Uint8Array)
    expect(out.map).toBeInstanceOf(Map)
    expect(out.map.get('k')).toBeInstanceOf(Map)
    expect(out.set).toBeInstanceOf(Set)
  })

  it('refuses functions, symbols, circular objects and top-level undefined with ISLAB_UNSERIALIZABLE', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    for (const bad of [() => 1, { f() {} }, Symbol('s'), { s: Symbol('s') }, circular, undefined, [new WeakMap()], /re/]) {
      expect(() => encodeValue(bad)).toThrow(expect.objectContaining({ code: 'ISLAB_UNSERIALIZABLE' }))
    }
  })

  it('names what it refuses with the right article: an Error, an ArrayBuffer, a RegExp', () => {
    expect(() => encodeValue({ e: new Error('x') })).toThrow(/contains an Error\b/)
    expect(() => encodeValue([new ArrayBuffer(2)])).toThrow(/contains an ArrayBuffer\b/)
    expect(() => encodeValue({ r: /x/ })).toThrow(/contains a RegExp\b/)
  })

  it('does not keep a reference to the object it encoded', () => {
    const v = { list: [1, 2] }
    const bytes = encodeValue(v)
    v.list.push(3)
    expect(decodeValue(bytes)).toEqual({ list: [1, 2] })
  })

  it('freezes plain data and reports values that cannot be frozen', () => {
    const plain = decodeValue(encodeValue({ a: [1, { b: 2 }] })) as { a: [number, { b: number }] }
    expect(freezeDecoded(plain)).toBe(true)
    expect(Object.isFrozen(plain.a[1])).toBe(true)
    expect(freezeDecoded(decodeValue(encodeValue({ d: new Date(0) })))).toBe(false)
    expect(freezeDecoded(decodeValue(encodeValue([new Set([1])])))).toBe(false)
    expect(freezeDecoded('str')).toBe(true)
  })
})

describe("an own key named '__proto__'", () => {
  // msgpackr decodes such a key as '__proto_': stored, the value would come back changed.
  it('is refused with ISLAB_UNSERIALIZABLE on every encoding path, nested or not', () => {
    const cases: unknown[] = [
      JSON.parse('{"__proto__":{"x":1},"a":2}'),
      { a: [JSON.parse('{"__proto__":1}')] },
      { d: new Date(0), inner: JSON.parse('{"__proto__":null}') }, // the general path (a Date)
      Object.defineProperty(new (class Point {})(), '__proto__', { value: 3, enumerable: true }),
    ]
    for (const v of cases) {
      let err: unknown
      try {
        encodeValue(v)
      } catch (e) {
        err = e
      }
      expect((err as { code?: string }).code).toBe('ISLAB_UNSERIALIZABLE')
      expect((err as Error).message).toContain('__proto__')
    }
  })

  it('in a Map comes back as written (the way the message offers)', () => {
    const m = new Map([['__proto__', { x: 1 }]])
    expect(decodeValue(encodeValue(m))).toEqual(m)
    expect((decodeValue(encodeValue({ m })) as { m: Map<string, unknown> }).m.get('__proto__')).toEqual({ x: 1 })
  })
})
