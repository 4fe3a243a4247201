import { describe, expect, it } from 'vitest'
import { fromTaggedJson, toTaggedJson } from '../../src/events/taggedJson.js'

const viaJson = (v: unknown) => fromTaggedJson(JSON.parse(JSON.stringify(toTaggedJson(v))))

describe('taggedJson', () => {
  it('round-trips the types JSON lacks', () => {
    const v = {
      big: 123456789012345678901234567890n,
      date: new Date(86400000),
      bad: new Date(NaN),
      bytes: Buffer.from([0, 255]),
      u8: new Uint8Array([9]),
      f32: new Float32Array([1.5]),
      map: new Map([[1, new Set(['a'])]]),
      nan: NaN,
      inf: -Infinity,
      undef: undefined,
    }
    expect(viaJson(v)).toEqual(v)
  })

  it('escapes objects that look like tags', () => {
    const v = { $date: 'not a date' }
    expect(toTaggedJson(v)).toEqual({ $object: { $date: 'not a date' } })
    expect(viaJson(v)).toEqual(v)
    expect(viaJson({ $a: 1, $b: 2 })).toEqual({ $a: 1, $b: 2 })
  })

  it('keeps a __proto__ key as data', () => {
    const v = JSON.parse('{"__proto__": {"x": 1}}')
    const out = viaJson(v) as Record<string, unknown>
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(Object.keys(out)).toEqual(['__proto__'])
  })
})
