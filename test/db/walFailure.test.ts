import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { AppendFile, FileLayer } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** The real fs, except that appends fail with `code` once armed, after writing half the bytes. */
function failingLayer(code: string): { layer: FileLayer; arm(): void } {
  let armed = false
  const layer: FileLayer = {
    ...nodeFileLayer,
    openAppend(p): AppendFile {
      const f = nodeFileLayer.openAppend(p)
      return {
        ...f,
        write: async (data) => {
          if (!armed) return f.write(data)
          await f.write(data.subarray(0, data.length >> 1))
          throw Object.assign(new Error(`${code}: simulated`), { code })
        },
        datasync: () => f.datasync(),
        truncate: (n) => f.truncate(n),
        close: () => f.close(),
      }
    },
  }
  return { layer, arm: () => (armed = true) }
}

describe('WAL write failure', () => {
  it('sync mode: rejects the affected writes, undoes them in memory, refuses more, keeps what was acknowledged', async () => {
    const dir = tmpDir()
    const { layer, arm } = failingLayer('ENOSPC')
    const db = await open({ dir, durability: 'sync', fileLayer: layer })
    await db.put('a', 1)
    await db.put('b', 2)
    arm()
    const results = await Promise.allSettled([db.put('a', 100), db.put('c', 3), db.delete('b')])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    }
    expect(db.get('a')).toBe(1)
    expect(db.get('b')).toBe(2)
    expect(db.has('c')).toBe(false)
    await expect(db.put('d', 4)).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    await db.close()
    const again = await open({ dir, durability: 'sync' })
    expect(again.seq).toBe(2)
    expect([again.get('a'), again.get('b'), again.has('c')]).toEqual([1, 2, false])
    await again.close()
  })

  it('buffered mode: flush reports the failure, later writes are refused, earlier durable data survives', async () => {
    const dir = tmpDir()
    const { layer, arm } = failingLayer('EIO')
    const db = await open({ dir, durability: 'buffered', fileLayer: layer })
    await db.put('a', 1)
    await db.flush()
    arm()
    await db.put('b', 2)
    await expect(db.flush()).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    await expect(db.put('c', 3)).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
    await db.close()
    const again = await open({ dir })
    expect(again.get('a')).toBe(1)
    expect(again.seq).toBe(1)
    await again.close()
  })
})
