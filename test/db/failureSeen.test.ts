// Review of issue 15: after the write path fails, what readers see must match what a reopen would
// give — time travel forgets the writes sync mode undid, and change streams fail instead of waiting.
import { expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { AppendFile, FileLayer } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** Appends fail once armed (ENOSPC). */
function failingLayer(): { layer: FileLayer; arm(): void } {
  let armed = false
  const layer: FileLayer = {
    ...nodeFileLayer,
    openAppend(p, o): AppendFile {
      const f = nodeFileLayer.openAppend(p, o)
      return {
        write: async (d) => {
          if (armed) throw Object.assign(new Error('ENOSPC: simulated'), { code: 'ENOSPC' })
          return f.write(d)
        },
        datasync: () => f.datasync(),
        truncate: (n) => f.truncate(n),
        close: () => f.close(),
      }
    },
  }
  return { layer, arm: () => (armed = true) }
}

it('sync mode: getAt, history and db.seq forget a rejected write, as a reopen does', async () => {
  const { layer, arm } = failingLayer()
  const db = await open({ dir: tmpDir(), durability: 'sync', fileLayer: layer, physics: false, checkpoint: false })
  db.on('failure', () => undefined)
  await db.put('k', 'one')
  await db.getAt('k', { seq: 1 }) // the index is built and live from here
  arm()
  await expect(db.delete('k')).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
  expect(db.get('k')).toBe('one')
  expect(db.seq).toBe(1)
  expect(await db.getAt('k', { seq: db.seq })).toBe('one')
  const versions: unknown[] = []
  for await (const v of db.history('k')) versions.push(v.type)
  expect(versions).toEqual(['put'])
  await db.close()
})

it('a waiting change stream fails with the write path\'s failure, not hang or end as if closed', async () => {
  const { layer, arm } = failingLayer()
  const db = await open({ dir: tmpDir(), durability: 'buffered', fileLayer: layer, syncIntervalMs: 5, physics: false, checkpoint: false })
  db.on('failure', () => undefined)
  const it = db.changes()[Symbol.asyncIterator]()
  const next = it.next().then(
    (r) => (r.done ? 'done' : 'value'),
    (e: { code?: string }) => `rejected ${e.code}`,
  )
  arm()
  await db.put('a', 1)
  await expect(db.flush()).rejects.toMatchObject({ code: 'ISLAB_WAL_FAILED' })
  expect(await next).toBe('rejected ISLAB_WAL_FAILED')
  await db.close().catch(() => undefined)
})
