// What `npm pack` puts in the package, from npm's own list (--dry-run --json): the built code
// and its types, the CommonJS notice, the docs the README links to; not the demo, the tests,
// the sources or source maps, and no shipped file referring to one that is not shipped.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT, ensureBuilt } from '../cli/cli.js'

interface PackFile {
  path: string
  mode: number
}

let files: PackFile[] = []
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>
  exports: Record<string, string | Record<string, string>>
  main: string
  types: string
  scripts: Record<string, string>
}

beforeAll(() => {
  ensureBuilt()
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  files = (JSON.parse(out) as { files: PackFile[] }[])[0]!.files
}, 180_000)

const shipped = (): Set<string> => new Set(files.map((f) => f.path))

describe('npm pack', () => {
  it('ships every file package.json points at: main, types, each export condition, the bin', () => {
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin)]
    for (const e of Object.values(pkg.exports)) targets.push(...(typeof e === 'string' ? [e] : Object.values(e)))
    expect(targets.length).toBeGreaterThanOrEqual(7)
    for (const t of targets) expect(shipped(), t).toContain(path.posix.normalize(t))
    const bin = files.find((f) => f.path === path.posix.normalize(pkg.bin.islab!))!
    expect(bin.mode & 0o111, 'islab is executable').not.toBe(0)
  })

  it('ships the built code with its types, the docs and the README, and nothing else', () => {
    const paths = [...shipped()]
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'docs/errors.md', 'cjs/esmOnly.cjs']))
    for (const p of paths) expect(p, p).toMatch(/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts)|docs\/[^/]+\.md|cjs\/esmOnly\.cjs)$/)
    // Each .js comes with its declarations.
    for (const p of paths.filter((x) => x.startsWith('dist/') && x.endsWith('.js'))) expect(shipped(), p).toContain(p.replace(/\.js$/, '.d.ts'))
  })

  it('leaves out the demo, source maps, sources, tests and benchmarks', () => {
    const paths = [...shipped()]
    expect(fs.existsSync(path.join(ROOT, 'dist/demo/main.js')), 'the build (npm run build) includes the demo').toBe(true)
    expect(paths.filter((p) => /^dist\/demo\/|\.map$|^(src|test|properties|bench)\/|tsconfig|node_modules/.test(p))).toEqual([])
  })

  it('has no shipped file referring to a file that is not shipped (imports, source maps)', () => {
    const have = shipped()
    const dangling: string[] = []
    for (const p of [...have].filter((x) => /\.(js|d\.ts)$/.test(x))) {
      const text = fs.readFileSync(path.join(ROOT, p), 'utf8')
      const refs = [...text.matchAll(/(?:from |import\()\s*['"](\.{1,2}\/[^'"]+)['"]|sourceMappingURL=(\S+)/g)].map((m) => m[1] ?? m[2]!)
      for (const ref of refs) {
        const target = path.posix.join(path.posix.dirname(p), ref)
        // A .d.ts imports './x.js' meaning './x.d.ts'.
        if (!have.has(target) && !(p.endsWith('.d.ts') && have.has(target.replace(/\.js$/, '.d.ts')))) dangling.push(`${p} → ${ref}`)
      }
    }
    expect(dangling).toEqual([])
  })

  it('builds in prepack, not in prepare or install, so a consumer installs no build step', () => {
    expect(pkg.scripts.prepack).toMatch(/npm run build/)
    for (const s of ['prepare', 'preinstall', 'install', 'postinstall']) expect(pkg.scripts[s], s).toBeUndefined()
  })
})
