// Typed values are a compile-time feature, so they are tested by the compiler: tsc checks
// test/fixtures/typed/typedValues.ts as it is (every @ts-expect-error must have an error to
// suppress, everything else must compile) and, in the same run, a copy without the directives,
// which must fail on exactly the lines they marked.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmpdir.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const FIXTURE = path.join(ROOT, 'test/fixtures/typed/typedValues.ts')
const DIRECTIVE = /^\s*\/\/ @ts-expect-error\b/

function tsc(dir: string): string {
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, encoding: 'utf8', stdio: 'pipe' })
    return ''
  } catch (err) {
    return (err as { stdout: string }).stdout
  }
}

describe('typed values', () => {
  it('refuse a wrong type at compile time, and accept the right one (tsc --noEmit on a fixture)', () => {
    const dir = tmpDir('islab-typed-')
    const source = fs
      .readFileSync(FIXTURE, 'utf8')
      .replaceAll("'../../../src/index.js'", JSON.stringify(path.join(ROOT, 'src/index.js')))
      .replaceAll("'../../../src/level/index.js'", JSON.stringify(path.join(ROOT, 'src/level/index.js')))
    const lines = source.split('\n')
    const marked = lines.flatMap((l, i) => (DIRECTIVE.test(l) ? [i + 2] : [])) // 1-based line after the directive
    expect(marked.length).toBeGreaterThanOrEqual(15)
    fs.writeFileSync(path.join(dir, 'typed.ts'), source)
    fs.writeFileSync(path.join(dir, 'stripped.ts'), lines.map((l) => (DIRECTIVE.test(l) ? '' : l)).join('\n'))
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n')
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2024'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules/@types')],
        },
        files: ['typed.ts', 'stripped.ts'],
      }),
    )
    const errors = tsc(dir)
      .split('\n')
      .flatMap((l) => {
        const m = /^(typed|stripped)\.ts\((\d+),\d+\): error (TS\d+)/.exec(l)
        return m === null ? (l.includes('error TS') ? [{ file: 'other', line: 0, text: l }] : []) : [{ file: m[1]!, line: Number(m[2]), text: l }]
      })
    // The fixture compiles as it is: each directive had an error to suppress, nothing else failed.
    expect(errors.filter((e) => e.file !== 'stripped')).toEqual([])
    // Without the directives, each marked line fails, and only those.
    const failing = [...new Set(errors.map((e) => e.line))].sort((a, b) => a - b)
    expect(failing).toEqual(marked)
  })
})
