// Issue 15, finding 10: pruning after a checkpoint unlinked every covered segment and fsynced
// the directory with synchronous calls, blocking the event loop (39 segments: up to 66 ms of
// unlink alone on the loaded bench machine). It now uses the file layer's asynchronous calls.
import { describe, expect, it } from 'vitest'
import type { FileLayer } from '../../src/index.js'
import { open } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

describe('checkpoint pruning', () => {
  it('deletes segments and checkpoints and fsyncs the directory off the event loop', async () => {
    const calls: string[] = []
    const files: FileLayer = {
      ...nodeFileLayer,
      unlink: (p) => {
        calls.push(`unlink ${p}`)
        nodeFileLayer.unlink(p)
      },
      syncDir: (d) => {
        calls.push(`syncDir ${d}`)
        nodeFileLayer.syncDir(d)
      },
    }
    const dir = tmpDir()
    const db = await open({ dir, fileLayer: files, segmentBytes: 4096, checkpoint: { keep: 1 }, physics: false })
    for (let i = 0; i < 2000; i++) void db.put(`k${i}`, { i, pad: 'x'.repeat(40) })
    await db.checkpoint()
    for (let i = 0; i < 500; i++) void db.put(`k${i}`, i)
    // Let the rotations of the writes above happen before counting.
    await db.flush()
    calls.length = 0
    const info = (await db.checkpoint())!
    expect(info.segmentsDeleted.length).toBeGreaterThan(2)
    expect(info.checkpointsDeleted).toHaveLength(1)
    expect(calls.filter((c) => c.startsWith('unlink'))).toEqual([])
    // Synchronous directory fsyncs stay a constant few, not one per deleted file: the new segment
    // the checkpoint starts and its MANIFEST update (as any rotation), the checkpoint's own
    // rename, and the MANIFEST's at prune (it must drop the segments before they are deleted).
    expect(calls.filter((c) => c.startsWith('syncDir')).length).toBeLessThanOrEqual(4)
    await db.close()
  })
})
