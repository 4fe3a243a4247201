// Redis's glob patterns (KEYS, SCAN MATCH, CONFIG GET, HSCAN MATCH): `*`, `?`, `[abc]`, `[^a]`,
// `[a-z]`, and `\` to escape — stringmatchlen's rules, on the key's text (one `?` is one UTF-16
// unit, which for ASCII keys is Redis's one byte).

export function globMatch(pattern: string, s: string, nocase = false): boolean {
  if (nocase) {
    pattern = pattern.toLowerCase()
    s = s.toLowerCase()
  }
  return match(pattern, 0, s, 0, 0)
}

function match(p: string, pi: number, s: string, si: number, depth: number): boolean {
  // Redis caps the recursion the same way (a pattern of many stars is otherwise exponential).
  if (depth > 1000) return false
  while (pi < p.length && si <= s.length) {
    const c = p[pi]!
    switch (c) {
      case '*': {
        while (pi + 1 < p.length && p[pi + 1] === '*') pi++
        if (pi + 1 === p.length) return true
        for (let k = si; k <= s.length; k++) if (match(p, pi + 1, s, k, depth + 1)) return true
        return false
      }
      case '?':
        if (si >= s.length) return false
        si++
        break
      case '[': {
        if (si >= s.length) return false
        pi++
        const not = p[pi] === '^'
        if (not) pi++
        let matched = false
        for (;;) {
          if (pi >= p.length) {
            pi--
            break
          }
          if (p[pi] === '\\' && pi + 1 < p.length) {
            pi++
            if (p[pi] === s[si]) matched = true
          } else if (p[pi] === ']') {
            break
          } else if (pi + 2 < p.length && p[pi + 1] === '-') {
            let lo = p[pi]!
            let hi = p[pi + 2]!
            if (lo > hi) [lo, hi] = [hi, lo]
            pi += 2
            if (s[si]! >= lo && s[si]! <= hi) matched = true
          } else if (p[pi] === s[si]) {
            matched = true
          }
          pi++
        }
        if (not) matched = !matched
        if (!matched) return false
        si++
        break
      }
      default:
        // `\x` matches x literally.
        if (c === '\\' && pi + 1 < p.length) pi++
        if (si >= s.length || p[pi] !== s[si]) return false
        si++
    }
    pi++
    if (si === s.length) {
      while (pi < p.length && p[pi] === '*') pi++
      break
    }
  }
  return pi === p.length && si === s.length
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
