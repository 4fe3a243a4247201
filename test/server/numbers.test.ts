import { describe, expect, test } from 'vitest'
import { addInt64, formatFloat, parseFloat64, parseInt64 } from '../../src/server/values.js'

describe("Redis's numbers", () => {
  test('parseInt64 is string2ll: no leading zeros, no +, no spaces, within int64', () => {
    expect(parseInt64('0')).toBe(0)
    expect(parseInt64('-12')).toBe(-12)
    expect(parseInt64('9223372036854775807')).toBe(9223372036854775807n)
    expect(parseInt64('-9223372036854775808')).toBe(-9223372036854775808n)
    for (const bad of ['', '-0', '007', '+1', ' 1', '1 ', '1.0', '9223372036854775808', 'abc', '1e3']) expect(parseInt64(bad)).toBeUndefined()
  })

  test('addInt64 overflows exactly at the int64 bounds', () => {
    expect(addInt64(9223372036854775806n, 1)).toBe(9223372036854775807n)
    expect(addInt64(9223372036854775807n, 1)).toBeUndefined()
    expect(addInt64(-9223372036854775808n, -1)).toBeUndefined()
    expect(addInt64(Number.MAX_SAFE_INTEGER, 1)).toBe(9007199254740992n)
    expect(addInt64(2, 3)).toBe(5)
  })

  test('parseFloat64 takes decimals, exponents and inf, not nan or spaces', () => {
    expect(parseFloat64('1.5')).toBe(1.5)
    expect(parseFloat64('5.0e3')).toBe(5000)
    expect(parseFloat64('.5')).toBe(0.5)
    expect(parseFloat64('-inf')).toBe(-Infinity)
    for (const bad of ['', 'nan', ' 1', '1 ', 'abc', '1.2.3', '0x10']) expect(parseFloat64(bad)).toBeUndefined()
  })

  test("formatFloat prints as Redis's INCRBYFLOAT: fixed notation, trailing zeros cut", () => {
    expect(formatFloat(10.6)).toBe('10.6')
    expect(formatFloat(0.1 + 0.2)).toBe('0.3')
    expect(formatFloat(5200)).toBe('5200')
    expect(formatFloat(1e21)).toBe('1000000000000000000000')
    expect(formatFloat(1.5e-7)).toBe('0.00000015')
    expect(formatFloat(-0)).toBe('0')
    expect(formatFloat(-2.5)).toBe('-2.5')
    expect(formatFloat(123456.789e10)).toBe('1234567890000000')
  })
})
