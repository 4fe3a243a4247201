// The level face's key map: one-to-one, order-keeping for strings, and its own inverse.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fromNative, toNative } from '../../src/level/keys.js'

const text = fc.string({ unit: fc.oneof(fc.constantFrom('\0', 'a', '\uFFFF', '\u{10000}', 'é', '\u0080'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 6 })
const bytes = fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b))

describe('level key map', () => {
  it('keeps the order of strings and gives them back', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const na = toNative(a, 'utf8')
        const nb = toNative(b, 'utf8')
        expect(na.length).toBeGreaterThan(0)
        expect(Math.sign(na < nb ? -1 : na > nb ? 1 : 0)).toBe(Math.sign(a < b ? -1 : a > b ? 1 : 0))
        expect(fromNative(na, 'utf8')).toBe(a)
      }),
    )
  })

  it('maps bytes one-to-one, gives them back, and agrees with strings on UTF-8 bytes', () => {
    fc.assert(
      fc.property(bytes, bytes, text, (a, b, s) => {
        const na = toNative(a, 'buffer')
        expect(na.isWellFormed()).toBe(true)
        expect(Buffer.from(fromNative(na, 'buffer') as Uint8Array)).toEqual(a)
        expect(toNative(new Uint8Array(a), 'view')).toBe(na)
        expect(na === toNative(b, 'buffer')).toBe(a.equals(b))
        if (s.isWellFormed()) expect(toNative(Buffer.from(s, 'utf8'), 'buffer')).toBe(toNative(s, 'utf8'))
      }),
      { numRuns: 500 },
    )
  })

  it('reads bytes that are not UTF-8 as LevelDB does in utf8 (replacement characters), and skips keys it never makes', () => {
    expect(fromNative(toNative(Buffer.from([0x61, 0xff]), 'buffer'), 'utf8')).toBe('a\uFFFD')
    expect(fromNative('\0x', 'utf8')).toBeUndefined()
    expect(fromNative('a\0', 'buffer')).toBeUndefined()
  })
})
