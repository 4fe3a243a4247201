import { describe, expect, test } from 'vitest'
import { globMatch, literalPrefix } from '../../src/server/glob.js'

describe('globMatch (Redis stringmatchlen rules)', () => {
  test.each([
    ['*', 'anything', true],
    ['*', '', true],
    ['user:*', 'user:1', true],
    ['user:*', 'users', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'heeeello', true],
    ['h*llo', 'hellox', false],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-c]llo', 'hbllo', true],
    ['h[c-a]llo', 'hbllo', true],
    ['h[a-c]llo', 'hdllo', false],
    ['u\\[x\\]', 'u[x]', true],
    ['u\\*', 'u*', true],
    ['u\\*', 'ux', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['**x', 'abx', true],
    ['[abc', 'a', true],
  ])('%s ~ %s → %s', (pattern, s, expected) => {
    expect(globMatch(pattern, s)).toBe(expected)
  })

  test('many stars do not take exponential time', () => {
    expect(globMatch('*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(40))).toBe(false)
  })

  test('literalPrefix is the text every match starts with', () => {
    expect(literalPrefix('user:*')).toBe('user:')
    expect(literalPrefix('a\\*b*')).toBe('a*b')
    expect(literalPrefix('*x')).toBe('')
    expect(literalPrefix('ab[c]')).toBe('ab')
    expect(literalPrefix('exact')).toBe('exact')
  })
})
