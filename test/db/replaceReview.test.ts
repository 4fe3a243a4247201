// Review of db.replaceWithCheckpoint: failures half way, races with close(), checkpoint(),
// change streams, time travel.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import type { FileLayer } from '../../src/io/fileLayer.js'
import { open, ReadOnlyError } from '../../src/index.js'
import type { Database } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { eventsOf, expectStateAt, keyOf, replaceFixture } from './replaceFixture.js'

const { primary: primaryOf, ckpt: ckptOf, replicaDir, stage } = replaceFixture()

function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())])
}

/** A file layer whose unlinks of WAL segments fail (EACCES) once failFromNow() was called. */
function failingUnlinks(): { layer: FileLayer; failFromNow: () => void; stopFailing: () => void } {
  let fail = false
  const layer: FileLayer = {
    ...nodeFileLayer,
    unlink: (p) => {
      if (fail && p.endsWith('.wal')) throw Object.assign(new Error('EACCES: simulated'), { code: 'EACCES' })
      nodeFileLayer.unlink(p)
    },
  }
  return { layer, failFromNow: () => (fail = true), stopFailing: () => (fail = false) }
}

describe('db.replaceWithCheckpoint review', () => {
  it('a failure half way (an old file cannot be deleted): close() settles and the directory reopens old or new', async () => {
    const dir = await replicaDir()
    const { layer, failFromNow, stopFailing } = failingUnlinks()
    const r = await open({ dir, fileLayer: layer, segmentBytes: 2048, checkpoint: { auto: false, onClose: 1 } })
    r.on('failure', () => undefined)
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    failFromNow()
    await expect(r.replaceWithCheckpoint(stage(dir), ckptOf().seq)).rejects.toBeDefined()
    stopFailing()
    const closed = await within(r.close().then(() => 'ok', (e: unknown) => e), 5000)
    expect(closed).not.toBe('timeout')
    const again = await open({ dir })
    expect(again.seq === 300 || again.seq === 120, `seq ${again.seq}`).toBe(true)
    expectStateAt(again, again.seq)
    await again.close()
  })

  it('a failure before anything moved (the file is missing): close() settles, the directory reopens as it was', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false, onClose: 1 } })
    r.on('failure', () => undefined)
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    await expect(r.replaceWithCheckpoint(path.join(dir, 'nope.tmp'), ckptOf().seq)).rejects.toBeDefined()
    const closed = await within(r.close().then(() => 'ok', (e: unknown) => e), 5000)
    expect(closed).not.toBe('timeout')
    const again = await open({ dir })
    expect(again.seq).toBe(120)
    expectStateAt(again, 120)
    await again.close()
  })

  it('close() called while it runs: settles, and the directory reopens old or new', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    const rep = r.replaceWithCheckpoint(stage(dir), ckptOf().seq).then(() => 'ok', (e: unknown) => e)
    const closed = within(r.close().then(() => 'ok', (e: unknown) => e), 5000)
    expect(await closed).toBe('ok')
    await rep
    const again = await open({ dir })
    expect(again.seq === 300 || again.seq === 120, `seq ${again.seq}`).toBe(true)
    expectStateAt(again, again.seq)
    await again.close()
  })

  it('checkpoint() asked for while it runs writes the new state, and a reopen opens it', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    const rep = r.replaceWithCheckpoint(stage(dir), ckptOf().seq)
    const cp = r.checkpoint()
    await rep
    const info = await cp
    expect(info?.seq).toBe(300)
    await r.close()
    const again = await open({ dir })
    expect(again.seq).toBe(300)
    expectStateAt(again, 300)
    await again.close()
  })

  it('time travel after it: seqs before the checkpoint are gone, not answered from the old state', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false }, history: { retainSegments: 10_000 } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    // Build the history index before the swap.
    expect(await r.getAt('k10', { seq: 110 })).toBe(110)
    await r.replaceWithCheckpoint(stage(dir), ckptOf().seq)
    for (let i = 301; i <= 310; i++) await primaryOf().put(keyOf(i), i)
    await primaryOf().flush()
    for (const ev of await eventsOf(primaryOf(), 301, 310)) await r.applyReplicated(ev)
    expect(await r.getAt('k1', { seq: 305 })).toBe(301)
    expect(await r.getAt('k1', { seq: 300 })).toBe(251)
    const at250 = await r.getAt('k10', { seq: 250 }).then((v) => v, (e: unknown) => e)
    // 250 is before the checkpoint: the only right answers are k10's value then (210) or HISTORY_GONE.
    if (typeof at250 === 'number') expect(at250).toBe(210)
    else expect(at250).toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    await r.close()
  })

  it('a fromLog event stream caught up at the old seq fails with HISTORY_GONE (no skip, no hang)', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    for (const durableOnly of [true, false]) {
      const it = r.events({ since: 110, fromLog: true, durableOnly })[Symbol.asyncIterator]()
      for (let i = 111; i <= 120; i++) expect((await it.next()).value?.seq).toBe(i)
      ;(globalThis as any)[`p${durableOnly}`] = it.next().then((v) => v, (e: unknown) => e)
      ;(globalThis as any)[`it${durableOnly}`] = it
    }
    await new Promise((res) => setTimeout(res, 30))
    await r.replaceWithCheckpoint(stage(dir), ckptOf().seq)
    for (const durableOnly of [true, false]) {
      const got = await within((globalThis as any)[`p${durableOnly}`] as Promise<unknown>, 3000)
      await (globalThis as any)[`it${durableOnly}`].return()
      expect(got, `durableOnly ${durableOnly}`).toMatchObject({ code: 'ISLAB_HISTORY_GONE' })
    }
    await r.close()
  })
})

describe('db.replaceWithCheckpoint review: close() at each file operation', () => {
  it('close() called from inside each file operation of the swap: settles, reopens old or new', async () => {
    const base = await replicaDir()
    for (let at = 0; at < 40; at++) {
      const dir = tmpDir()
      for (const n of fs.readdirSync(base)) if (n !== 'LOCK') fs.copyFileSync(path.join(base, n), path.join(dir, n))
      let ops = -1
      let db: Database | undefined
      let closing: Promise<unknown> | undefined
      const hook = (): void => {
        if (ops >= 0 && ops++ === at && db !== undefined) closing = db.close().then(() => 'ok', (e: unknown) => e)
      }
      const layer: FileLayer = {
        ...nodeFileLayer,
        unlink: (p) => (hook(), nodeFileLayer.unlink(p)),
        rename: (a, b) => (hook(), nodeFileLayer.rename(a, b)),
        readFile: (p) => (hook(), nodeFileLayer.readFile(p)),
        list: (p) => (hook(), nodeFileLayer.list(p)),
      }
      db = await open({ dir, fileLayer: layer, segmentBytes: 2048, checkpoint: { auto: false } })
      db.on('failure', () => undefined)
      db.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
      const tmp = stage(dir)
      ops = 0
      const rep = await within(db.replaceWithCheckpoint(tmp, ckptOf().seq).then(() => 'ok', (e: unknown) => e), 5000)
      expect(rep, `at ${at}`).not.toBe('timeout')
      const c = await within(closing ?? db.close().then(() => 'ok', (e: unknown) => e), 5000)
      expect(c, `at ${at}`).toBe('ok')
      const again = await open({ dir })
      expect(again.seq === 300 || again.seq === 120, `at ${at}: seq ${again.seq}`).toBe(true)
      expectStateAt(again, again.seq)
      await again.close()
      if (closing === undefined) break
    }
  })
})

describe('db.replaceWithCheckpoint review: after a failure half way', () => {
  it('the database is stopped: flush() and checkpoint() reject with the failure, stats() reports it, nothing more is written', async () => {
    const dir = await replicaDir()
    const { layer, failFromNow, stopFailing } = failingUnlinks()
    const r = await open({ dir, fileLayer: layer, segmentBytes: 2048, checkpoint: { auto: false, onClose: 1 } })
    const failures: unknown[] = []
    r.on('failure', (e) => failures.push(e))
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    failFromNow()
    const err = await r.replaceWithCheckpoint(stage(dir), ckptOf().seq).then(() => undefined, (e: unknown) => e)
    stopFailing()
    expect(failures).toEqual([err])
    const before = fs.readdirSync(dir).sort()
    await expect(r.flush()).rejects.toBe(err)
    await expect(r.checkpoint()).rejects.toBe(err)
    expect(r.stats().failure).toBeDefined()
    await r.close().catch(() => undefined)
    expect(fs.readdirSync(dir).filter((n) => n !== 'LOCK').sort()).toEqual(before.filter((n) => n !== 'LOCK'))
  })
})

describe('db.replaceWithCheckpoint review: events applied while it waits its turn', () => {
  it('never goes back: events applied past the checkpoint while a checkpoint ran first are kept (the replacement is refused)', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    await primaryOf().flush()
    const evs = await eventsOf(primaryOf(), 121, 300)
    for (let i = 301; i <= 305; i++) await primaryOf().put(keyOf(i), i)
    await primaryOf().flush()
    evs.push(...(await eventsOf(primaryOf(), 301, 305)))
    const cp = r.checkpoint()
    const rep = r.replaceWithCheckpoint(stage(dir), ckptOf().seq).then(() => 'replaced', (e: unknown) => e)
    const applied = evs.map((ev) => r.applyReplicated(ev))
    await Promise.all(applied)
    await cp
    // Refused (db.seq passed the checkpoint meanwhile), nothing touched.
    expect(await rep).toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    expect(r.seq).toBe(305)
    expectStateAt(r, 305)
    await r.close()
    const again = await open({ dir })
    expect(again.seq).toBe(305)
    expectStateAt(again, 305)
    await again.close()
  })
})

describe('db.replaceWithCheckpoint review: a read-only database following the directory', () => {
  it('follows the replacement to the new state, then the events after it', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    const ro = await open({ dir, readOnly: true, followMs: 10 })
    ro.on('failure', () => undefined)
    expect(ro.seq).toBe(120)
    await r.replaceWithCheckpoint(stage(dir), ckptOf().seq)
    for (let i = 301; i <= 310; i++) await primaryOf().put(keyOf(i), i)
    await primaryOf().flush()
    for (const ev of await eventsOf(primaryOf(), 301, 310)) await r.applyReplicated(ev)
    await r.flush()
    const got = await within(ro.waitForSeq(310).then((s) => s, (e: unknown) => e), 5000)
    expect(got).toBe(310)
    expectStateAt(ro, 310)
    await ro.close()
    await r.close()
  })
})

describe('db.replaceWithCheckpoint review: a checkpoint asked for the moment the one before it ends', () => {
  it('waits behind the replacement instead of running beside it', async () => {
    const dir = await replicaDir()
    const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false, keep: 1 } })
    r.refuseWrites(new ReadOnlyError('write', 'it is a replica'))
    await primaryOf().flush()
    const [ev121] = await eventsOf(primaryOf(), 121, 121)
    const cp1 = r.checkpoint()
    await r.applyReplicated(ev121!)
    const rep = r.replaceWithCheckpoint(stage(dir), ckptOf().seq).then(() => 'replaced', (e: unknown) => e)
    await cp1
    // Runs before the queued replacement starts: it must queue behind it.
    const cp2 = r.checkpoint().then((i) => i?.seq, (e: unknown) => e)
    expect(await rep).toBe('replaced')
    expect(await cp2).toBe(300)
    expect(r.seq).toBe(300)
    await r.close()
    const again = await open({ dir })
    expect(again.seq).toBe(300)
    expectStateAt(again, 300)
    await again.close()
  })
})

describe('db.replaceWithCheckpoint review: power loss at each step (unsynced directory entries lost)', () => {
  it('boots the old database or the new one, never a damaged one', async () => {
    const { SimFileLayer } = await import('../helpers/simFileLayer.js')
    const { replaceWithCheckpoint } = await import('../../src/checkpoint/replaceWithCheckpoint.js')
    const ckptBytes = fs.readFileSync(ckptOf().file)
    const booted: number[] = []
    for (let k = 0; k < 60; k++) {
      const sim = new SimFileLayer()
      const dir = '/db'
      const r = await open({ dir, fileLayer: sim, segmentBytes: 2048, checkpoint: { auto: false }, history: { retainSegments: 10_000 } })
      for (const ev of await eventsOf(primaryOf(), 1, 80)) await r.applyReplicated(ev)
      await r.checkpoint()
      for (const ev of await eventsOf(primaryOf(), 81, 120)) await r.applyReplicated(ev)
      await r.close()
      // The download: written and fsynced (not the directory).
      const tmp = `${dir}/${path.basename(ckptOf().file)}.tmp`
      const f = sim.openAppend(tmp)
      await f.write(ckptBytes)
      await f.datasync()
      await f.close()
      let ops = 0
      const crashing: FileLayer = new Proxy(sim, {
        get(target, prop, recv) {
          const v = Reflect.get(target, prop, recv)
          if (typeof v !== 'function') return v
          if (['rename', 'unlink', 'syncDir', 'writeFileDurable', 'createExclusive', 'truncate'].includes(String(prop))) {
            return (...args: unknown[]) => {
              if (ops++ === k) {
                sim.crash()
                throw new Error('power lost')
              }
              return (v as (...a: unknown[]) => unknown).apply(target, args)
            }
          }
          return v.bind(target)
        },
      })
      let crashed = false
      try {
        replaceWithCheckpoint(crashing, dir, tmp, ckptOf().seq)
      } catch {
        crashed = true
      }
      const image = crashed ? sim.crash() : sim
      const db = await open({ dir, fileLayer: image })
      expect(db.seq === ckptOf().seq || db.seq === 120, `power lost at op ${k}: seq ${db.seq}`).toBe(true)
      expectStateAt(db, db.seq)
      booted.push(db.seq)
      await db.close()
      if (!crashed) break
    }
    expect(booted[0]).toBe(120)
    expect(booted[booted.length - 1]).toBe(300)
  })
})
