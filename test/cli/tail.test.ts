// `islab tail -f` follows the log with the log reader as change streams use it: records of any
// size, in both entry formats, and damage reported instead of waiting forever.
import crypto from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ensureBuilt, islabAsync } from './cli.js'

beforeAll(() => ensureBuilt(), 120_000)

describe('islab tail -f', () => {
  it.each(['json', 'binary'] as const)('follows past a record of ~6.7 MiB (%s segments)', async (walFormat) => {
    const dir = tmpDir('islab-cli-')
    let db = await open({ dir, durability: 'sync', walFormat, checkpoint: false })
    await db.put('first', 1)
    await db.close()
    const tail = islabAsync(['tail', '-f', dir, '-n', '1', '--interval', '30'])
    try {
      expect((await tail.lines(1)).map((l) => JSON.parse(l).key)).toEqual(['first'])
      const big = crypto.randomBytes(5 * 1024 * 1024).toString('base64')
      db = await open({ dir, durability: 'sync', walFormat, checkpoint: false })
      await db.put('big', big)
      await db.put('after', 3)
      await db.close()
      const lines = (await tail.lines(3, 20_000)).map((l) => JSON.parse(l) as { seq: number; key: string; value: unknown })
      expect(lines.map((l) => [l.seq, l.key])).toEqual([
        [1, 'first'],
        [2, 'big'],
        [3, 'after'],
      ])
      expect(lines[1]!.value).toBe(big)
      expect(tail.err()).toBe('')
    } finally {
      tail.child.kill()
    }
  }, 60_000)
})
