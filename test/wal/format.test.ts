import { describe, expect, it } from 'vitest'
import { FORMAT_VERSION, decodeSegmentHeader, encodeSegmentHeader, parseSegmentName, segmentName } from '../../src/wal/format.js'

describe('segment format', () => {
  it('names segments by zero-padded first seq, so names sort by seq', () => {
    expect(segmentName(42)).toBe('00000000000000000042.wal')
    expect(parseSegmentName(segmentName(2 ** 40 + 3))).toBe(2 ** 40 + 3)
    expect(parseSegmentName('00000000000000000042.tmp')).toBeUndefined()
    expect([segmentName(100), segmentName(9)].sort()).toEqual([segmentName(9), segmentName(100)])
  })

  it.each(['binary', 'json'] as const)('round-trips a %s header', (format) => {
    const h = encodeSegmentHeader(format, 2 ** 33 + 7)
    expect(decodeSegmentHeader(h)).toEqual({ version: FORMAT_VERSION, format, firstSeq: 2 ** 33 + 7, bytes: h.length })
  })

  it.each(['binary', 'json'] as const)('still reads a version 1 %s header, and refuses version 3', (format) => {
    const v1 = encodeSegmentHeader(format, 9, 1)
    expect(decodeSegmentHeader(v1)).toEqual({ version: 1, format, firstSeq: 9, bytes: v1.length })
    expect(decodeSegmentHeader(encodeSegmentHeader(format, 9, 3))).toBe('unsupported version 3')
  })

  it('rejects a header with a flipped byte', () => {
    for (const format of ['binary', 'json'] as const) {
      const h = encodeSegmentHeader(format, 9)
      h[format === 'binary' ? 17 : 40]! ^= 0x01
      expect(typeof decodeSegmentHeader(h)).toBe('string')
    }
  })
})
