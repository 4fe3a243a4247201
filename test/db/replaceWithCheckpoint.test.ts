// db.replaceWithCheckpoint: a replica whose stream was trimmed below it goes on from a newer
// checkpoint in place (the database object its application holds stays the same). And the file
// swap under it: a crash at any step leaves an older database of the same history, never a
// damaged one (src/checkpoint/replaceWithCheckpoint.ts).
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { replaceWithCheckpoint } from '../../src/checkpoint/replaceWithCheckpoint.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import type { FileLayer } from '../../src/io/fileLayer.js'
import { open, ReadOnlyError } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { eventsOf, expectStateAt, keyOf, replaceFixture } from './replaceFixture.js'

const { primary: primaryOf, ckpt: ckptOf, replicaDir, stage } = replaceFixture()

describe('db.replaceWithCheckpoint', () => {
  it('goes on from the checkpoint in place: reads, waiters, new events and a reopen', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    expectStateAt(r, 120)
    const waiting = r.waitForSeq(250)
    const stream = r.events({ since: 100 })[Symbol.asyncIterator]()
    const seen: number[] = []
    const streamEnd = (async () => {
      for (;;) {
        const n = await stream.next()
        if (n.done) return undefined
        seen.push(n.value.seq)
      }
    })().catch((err: unknown) => err)
    await new Promise((res) => setTimeout(res, 50))
    await r.replaceWithCheckpoint(stage(dir), ckptOf().seq)
    expect(r.seq).toBe(300)
    expectStateAt(r, 300)
    expect(await waiting).toBe(300)
    // The stream had 101..120; 121..300 are in no log: it says so instead of skipping them.
    expect(await streamEnd).toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => 101 + i))
    for (let i = 301; i <= 340; i++) await primaryOf().put(keyOf(i), i)
    await primaryOf().flush()
    for (const ev of await eventsOf(primaryOf(), 301, 340)) await r.applyReplicated(ev)
    expectStateAt(r, 340)
    expect((await r.checkpoint())?.seq).toBe(340)
    await r.close()
    const again = await open({ dir })
    expect(again.seq).toBe(340)
    expectStateAt(again, 340)
    await again.close()
  })

  it('refuses a database that takes writes, a seq not past db.seq, and memory mode', async () => {
    const dir = await replicaDir()
    const r = await open({ dir })
    const tmp = stage(dir)
    await expect(r.replaceWithCheckpoint(tmp, ckptOf().seq)).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION', message: /refuseWrites/ })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    await expect(r.replaceWithCheckpoint(tmp, 100)).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION', message: /not past db.seq 120/ })
    // Nothing was touched: the replica is as it was, and takes the next event.
    expectStateAt(r, 120)
    const [next] = await eventsOf(primaryOf(), 121, 121)
    await r.applyReplicated(next!)
    expectStateAt(r, 121)
    await r.close()
    const mem = await open({ durability: 'memory' })
    mem.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    await expect(mem.replaceWithCheckpoint(tmp, ckptOf().seq)).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await mem.close()
  })

  it('a crash at any step of the file swap leaves a database of the same history, older or replaced', async () => {
    const base = await replicaDir()
    const opened: number[] = []
    for (let crashAt = 0; ; crashAt++) {
      const dir = tmpDir()
      for (const n of fs.readdirSync(base)) if (n !== 'LOCK') fs.copyFileSync(path.join(base, n), path.join(dir, n))
      const tmp = stage(dir)
      let ops = 0
      const crash = (): void => {
        if (ops++ === crashAt) throw new Error('simulated crash')
      }
      const layer: FileLayer = {
        ...nodeFileLayer,
        unlink: (p) => (crash(), nodeFileLayer.unlink(p)),
        rename: (a, b) => (crash(), nodeFileLayer.rename(a, b)),
      }
      let crashed = false
      try {
        replaceWithCheckpoint(layer, dir, tmp, ckptOf().seq)
      } catch {
        crashed = true
      }
      const db = await open({ dir })
      expect(db.seq === ckptOf().seq || db.seq <= 120, `crash at op ${crashAt}: seq ${db.seq}`).toBe(true)
      expectStateAt(db, db.seq)
      opened.push(db.seq)
      await db.close()
      if (!crashed) break
    }
    // Crashed at each step once (the rename, the MANIFEST, each old file), then run whole: before
    // the rename the old database opens, from it on the new one.
    const oldFiles = fs.readdirSync(base).filter((n) => n.endsWith('.wal') || n.endsWith('.ckpt')).length
    expect(oldFiles).toBeGreaterThanOrEqual(3)
    expect(opened).toEqual([120, ...Array.from({ length: oldFiles + 2 }, () => 300)])
  })
})
