// abstract-level's own test suite (abstract-level/test, written for tape) against IslabLevel,
// run in-process on a tape harness whose results are collected here: every assertion must pass,
// and at least FLOOR of them must have run (a suite that silently shrank would pass otherwise).
import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { IslabLevel } from '../../src/level/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

const require = createRequire(import.meta.url)
const tape = require('tape') as typeof import('tape')
const suite = require('abstract-level/test') as (options: { test: unknown; factory: (options?: object) => unknown }) => void

/** Assertions that passed when this floor was set (abstract-level 3.1.1, this manifest: 5132 in 1473 tests). */
const FLOOR = 5132

interface TapeRow {
  type: 'test' | 'assert' | 'end'
  ok?: boolean
  name?: string
  id?: number
  test?: number
  skip?: boolean | string
  todo?: boolean | string
  operator?: string
  actual?: unknown
  expected?: unknown
  error?: unknown
}

describe('abstract-level test suite', () => {
  it('passes every assertion of abstract-level/test against IslabLevel', async () => {
    const root = tmpDir('islab-level-suite-')
    let n = 0
    const harness = tape.createHarness()
    const tests = new Map<number, string>()
    const failures: string[] = []
    const skipped: string[] = []
    let passed = 0
    const done = new Promise<void>((resolve) => {
      const stream = harness.createStream({ objectMode: true })
      stream.on('data', (row: TapeRow) => {
        if (row.type === 'test') {
          tests.set(row.id!, row.name!)
          if (row.skip || row.todo) skipped.push(row.name!)
        } else if (row.type === 'assert') {
          if (row.skip || row.todo) skipped.push(`${tests.get(row.test!)}: ${row.name}`)
          else if (row.ok) passed++
          else failures.push(`${tests.get(row.test!)}: ${row.name} (${row.operator}) ${show(row.actual)} vs ${show(row.expected)} ${show(row.error)}`)
        }
      })
      stream.on('end', () => resolve())
    })
    suite({
      test: harness,
      factory: (options?: object) => new IslabLevel(path.join(root, String(n++)), { ...options, checkpoint: false }),
    })
    await done
    fs.rmSync(root, { recursive: true, force: true })
    expect(failures).toEqual([])
    expect(skipped).toEqual([])
    expect(passed).toBeGreaterThanOrEqual(FLOOR)
    // For the record (docs/level.md): the number of assertions that passed.
    console.log(`abstract-level suite: ${passed} assertions passed in ${tests.size} tests`)
  }, 600_000)
})

function show(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`
  try {
    return JSON.stringify(v)?.slice(0, 200) ?? String(v)
  } catch {
    return String(v)
  }
}
