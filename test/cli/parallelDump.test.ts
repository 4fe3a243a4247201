// The parallel dump (worker threads, one job per segment) must print exactly what the
// sequential one prints, and stop the same way on every kind of damage.
import fs from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ensureBuilt, flipByte, islab, segments } from './cli.js'

// Jobs of 4 events: most start or end inside a segment.
const PARALLEL = { ISLAB_WORKERS: '2', ISLAB_PARALLEL_MIN_BYTES: '0', ISLAB_DUMP_JOB_EVENTS: '4' }
const SEQUENTIAL = { ISLAB_WORKERS: '0' }

async function sample(): Promise<string> {
  const dir = tmpDir('islab-cli-')
  const db = await open({ dir, durability: 'sync', segmentBytes: 700, checkpoint: false })
  for (let i = 1; i <= 60; i++) {
    if (i % 10 === 0) await db.batch([{ type: 'put', key: `b${i}`, value: [i] }, { type: 'del', key: `k${i - 1}` }])
    else await db.put(`k${i}`, { i, at: new Date(i), n: BigInt(i) })
    if (i === 30) await new Promise((r) => setTimeout(r, 20))
  }
  await db.close()
  expect(segments(dir).length).toBeGreaterThan(4)
  return dir
}

function same(args: string[]): ReturnType<typeof islab> {
  const seq = islab(args, { env: SEQUENTIAL })
  const par = islab(args, { env: PARALLEL })
  expect(par).toEqual(seq)
  return par
}

beforeAll(() => ensureBuilt(), 120_000)

describe('islab dump on worker threads', () => {
  it('prints the same as one thread, whatever the selection', async () => {
    const dir = await sample()
    const all = same(['dump', dir]).stdout.split('\n')
    expect(all.length).toBe(61)
    same(['dump', dir, '--from', '13', '--to', '47', '--prefix', 'b', '--flat'])
    same(['dump', dir, '--to', JSON.parse(all[30]!).iso as string])
  })

  it('stops where one thread stops, with the same message, on damage', async () => {
    const corrupt = await sample()
    flipByte(segments(corrupt)[2]!, 120)
    expect(same(['dump', corrupt]).code).toBe(1)

    const torn = await sample()
    const last = segments(torn).at(-1)!
    fs.truncateSync(last, fs.statSync(last).size - 3)
    expect(same(['dump', torn]).stderr).toMatch(/the last record of .* is incomplete/)

    const hole = await sample()
    fs.rmSync(segments(hole)[3]!)
    expect(same(['dump', hole]).stderr).toMatch(/segment starts at seq \d+ but the previous one ended at \d+/)
  })

  it('hands a segment holding records past the next one’s start to the sequential reader', async () => {
    const dir = await sample()
    const [a, b] = segments(dir)
    // Copy b's first record onto the end of a: valid checksum, next seq, but b starts with it too.
    const bb = fs.readFileSync(b!)
    const len = bb.readUInt32LE(32)
    fs.appendFileSync(a!, bb.subarray(32, 32 + 8 + len))
    const r = same(['dump', dir])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/segment starts at seq (\d+) but the previous one ended at \1/)
  })
})
