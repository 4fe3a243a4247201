// Issue 16: reopening replayed every event logged since the last checkpoint. close() now writes a
// checkpoint when at least `checkpoint.onClose` events were logged since the newest one.
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import fs from 'node:fs'

const checkpoints = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.ckpt'))

describe('checkpoint on close', () => {
  it('writes one when enough events were logged since the newest, so the next open replays nothing', async () => {
    const dir = tmpDir()
    let db = await open({ dir, checkpoint: { onClose: 5 } })
    for (let i = 0; i < 5; i++) await db.put(`k${i}`, i)
    await db.close()
    expect(checkpoints(dir)).toEqual(['00000000000000000005.ckpt'])
    db = await open({ dir, checkpoint: { onClose: 5 } })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 5, checkpointKeys: 5, eventsReplayed: 0 })
    expect(db.get('k4')).toBe(4)
    // Fewer new events than onClose: no new checkpoint.
    for (let i = 0; i < 4; i++) await db.put(`j${i}`, i)
    await db.close()
    expect(checkpoints(dir)).toEqual(['00000000000000000005.ckpt'])
    db = await open({ dir })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 5, eventsReplayed: 4 })
    await db.close()
  })

  it('does not with onClose: false, with checkpoint: false, or by default', async () => {
    for (const checkpoint of [{ onClose: false as const }, false as const, undefined]) {
      const dir = tmpDir()
      const db = await open({ dir, checkpoint })
      for (let i = 0; i < 20; i++) await db.put(`k${i}`, i)
      await db.close()
      expect(checkpoints(dir)).toEqual([])
    }
  })

  it('rejects an onClose that is not a non-negative integer', async () => {
    await expect(open({ dir: tmpDir(), checkpoint: { onClose: -1 } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
  })
})
