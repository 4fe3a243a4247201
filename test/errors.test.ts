import fs from 'node:fs'
import { describe, expect, it } from 'vitest'

const root = new URL('../', import.meta.url)
const read = (p: string): string => fs.readFileSync(new URL(p, root), 'utf8')

/** The codes of the IslabErrorCode union, read from its source. */
function declaredCodes(): string[] {
  const src = read('src/errors.ts')
  const union = /export type IslabErrorCode =([^;]*?)\n\n/s.exec(src)
  expect(union).not.toBeNull()
  return [...union![1]!.matchAll(/'(ISLAB_[A-Z_]+)'/g)].map((m) => m[1]!)
}

describe('docs/errors.md', () => {
  it('has a section for every code of IslabErrorCode, saying what it means, when and what to do', () => {
    const codes = declaredCodes()
    expect(codes.length).toBeGreaterThanOrEqual(10)
    const doc = read('docs/errors.md')
    const sections = new Map<string, string>()
    for (const part of doc.split(/^## /m).slice(1)) {
      const [title, ...body] = part.split('\n')
      sections.set(title!.trim(), body.join('\n'))
    }
    const missing = codes.filter((c) => !sections.has(c))
    expect(missing, `codes without a "## CODE" section in docs/errors.md`).toEqual([])
    for (const c of codes) {
      const body = sections.get(c)!
      for (const part of ['**Means:**', '**Thrown by:**', '**Do:**']) expect(body, `${c}: ${part}`).toContain(part)
    }
    // And no section for a code that does not exist.
    expect([...sections.keys()].filter((t) => t.startsWith('ISLAB_') && !codes.includes(t))).toEqual([])
  })

  it('is where the README sends readers for error codes', () => {
    expect(read('README.md')).toContain('docs/errors.md')
  })
})
