// Redis's glob patterns (KEYS, SCAN MATCH, CONFIG GET, HSCAN MATCH): `*`, `?`, `[abc]`, `[^a]`,
// `[a-z]`, and `\` to escape — stringmatchlen's rules, on the key's text (one `?` is one UTF-16
// unit, which for ASCII keys is Redis's one byte). Matched with the two-pointer wildcard walk:
// on a mismatch only the last `*` is retried one character further, so a pattern of many stars
// costs O(pattern × text), not exponential time.

export function globMatch(pattern: string, s: string, nocase = false): boolean {
  if (nocase) {
    pattern = pattern.toLowerCase()
    s = s.toLowerCase()
  }
  let pi = 0
  let si = 0
  let starP = -1
  let starS = 0
  while (si < s.length) {
    if (pi < pattern.length) {
      if (pattern[pi] === '*') {
        while (pi < pattern.length && pattern[pi] === '*') pi++
        if (pi === pattern.length) return true
        starP = pi
        starS = si
        continue
      }
      const next = matchOne(pattern, pi, s[si]!)
      if (next >= 0) {
        pi = next
        si++
        continue
      }
    }
    if (starP < 0) return false
    pi = starP
    si = ++starS
  }
  while (pi < pattern.length && pattern[pi] === '*') pi++
  return pi === pattern.length
}

/** Matches one pattern token at `pi` against `ch`: the index after the token, or -1. */
function matchOne(p: string, pi: number, ch: string): number {
  const c = p[pi]!
  if (c === '?') return pi + 1
  if (c === '\\' && pi + 1 < p.length) return p[pi + 1] === ch ? pi + 2 : -1
  if (c !== '[') return c === ch ? pi + 1 : -1
  pi++
  const not = p[pi] === '^'
  if (not) pi++
  let matched = false
  // An unterminated class runs to the end of the pattern, as in Redis.
  while (pi < p.length && p[pi] !== ']') {
    if (p[pi] === '\\' && pi + 1 < p.length) {
      pi++
      if (p[pi] === ch) matched = true
    } else if (pi + 2 < p.length && p[pi + 1] === '-') {
      let lo = p[pi]!
      let hi = p[pi + 2]!
      if (lo > hi) [lo, hi] = [hi, lo]
      if (ch >= lo && ch <= hi) matched = true
      pi += 2
    } else if (p[pi] === ch) {
      matched = true
    }
    pi++
  }
  if (not) matched = !matched
  return matched ? Math.min(pi + 1, p.length) : -1
}

/** The literal text every match starts with (for a range read by prefix); '' when none. */
export function literalPrefix(pattern: string): string {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*' || c === '?' || c === '[') return out
    if (c === '\\') {
      if (i + 1 >= pattern.length) return out
      out += pattern[++i]
      continue
    }
    out += c
  }
  return out
}
