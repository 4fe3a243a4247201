import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { LOCK_FILE, acquireDirLock, forgetLockForCrashTest, lockHolder } from '../../src/io/dirLock.js'
import type { LockInfo, LockOwner } from '../../src/io/dirLock.js'
import type { FileLayer } from '../../src/io/fileLayer.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { ensureBuilt } from '../cli/cli.js'
import { SimFileLayer } from '../helpers/simFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

const holdLock = new URL('../fixtures/holdLock.mjs', import.meta.url).pathname
const raceLock = new URL('../fixtures/raceLock.mjs', import.meta.url).pathname

// The child processes run the built package.
beforeAll(() => ensureBuilt(), 180_000)

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', ''])
  await once(p, 'exit')
  return p.pid!
}

/** Our own start time, as the LOCK file records it. */
function ourLockInfo(dir: string): LockInfo {
  return JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as LockInfo
}

describe('directory lock across processes', () => {
  it('rejects ISLAB_LOCKED while another process has it open, and reopens by itself after that process is SIGKILLed', async () => {
    const dir = tmpDir()
    const proc = spawn(process.execPath, [holdLock, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [chunk] = (await once(proc.stdout!, 'data')) as [Buffer]
    expect(chunk.toString()).toBe('open\n')
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_LOCKED', holderPid: proc.pid })
    proc.kill('SIGKILL')
    await once(proc, 'exit')
    const db = await open({ dir })
    expect(db.get('from-child')).toBe(proc.pid)
    await db.close()
  })

  it('lets exactly one of six processes racing for a dead holder\'s lock win, round after round', async () => {
    const dir = tmpDir()
    const N = 6
    const ROUNDS = 6
    const dead = await deadPid()
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name))
      fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: dead, start: '1', token: `dead-${round}` }))
      const children: ChildProcess[] = []
      const answers: Promise<string>[] = []
      const ready: Promise<unknown>[] = []
      for (let i = 0; i < N; i++) {
        const c = spawn(process.execPath, [raceLock, dir], { stdio: ['pipe', 'pipe', 'inherit'] })
        children.push(c)
        const lines = createInterface({ input: c.stdout! })[Symbol.asyncIterator]()
        ready.push(lines.next())
        answers.push(ready[i]!.then(() => lines.next()).then((r) => String((r as IteratorResult<string>).value)))
      }
      await Promise.all(ready)
      const at = Date.now() + 150
      for (const c of children) c.stdin!.write(`go ${at}\n`)
      const results = await Promise.all(answers)
      // Every child still holds what it won; only now are they told to exit.
      for (const c of children) c.stdin!.end()
      await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)))
      expect(results.filter((r) => r.startsWith('error'))).toEqual([])
      expect(results.filter((r) => r === 'won')).toHaveLength(1)
      expect(results.filter((r) => r === 'locked')).toHaveLength(N - 1)
    }
  }, 120_000)
})

describe('directory lock in one process', () => {
  it('rejects a second open through a symlink to the same directory', async () => {
    const base = tmpDir()
    const dir = path.join(base, 'db')
    const link = path.join(base, 'link')
    fs.mkdirSync(dir)
    fs.symlinkSync(dir, link)
    const db = await open({ dir })
    await db.put('first', 1)
    await expect(open({ dir: link })).rejects.toMatchObject({ code: 'ISLAB_LOCKED', holderPid: process.pid })
    await db.put('second', 2)
    await db.close()
    const again = await open({ dir: link })
    expect([again.get('first'), again.get('second')]).toEqual([1, 2])
    await again.close()
  })

  it('never takes a LOCK naming this process for stale, even one it did not write itself', async () => {
    const dir = tmpDir()
    const db = await open({ dir })
    const mine = ourLockInfo(dir)
    await db.close()
    // Written by another instance of this module in this process (a second copy of the package,
    // a worker thread): same pid and start time, a token this instance never issued.
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, start: mine.start, token: 'elsewhere' }))
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_LOCKED', holderPid: process.pid })
    expect(lockHolder(nodeFileLayer, dir)).toBe(process.pid)
  })

  it('takes over a LOCK naming this pid with another start time (an earlier process had our pid)', async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, start: 'earlier', token: 't' }))
    const db = await open({ dir })
    await db.close()
    // No LOCK, claim or temp file left behind (an empty database keeps only its MANIFEST).
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(LOCK_FILE))).toEqual([])
  })

  it('reopens after forgetLockForCrashTest, as after a crash of this process', async () => {
    const files = new SimFileLayer()
    const db = await open({ dir: '/sim/db', fileLayer: files, durability: 'sync' })
    await db.put('a', 1)
    await expect(open({ dir: '/sim/db', fileLayer: files })).rejects.toMatchObject({ code: 'ISLAB_LOCKED' })
    forgetLockForCrashTest('/sim/db')
    const again = await open({ dir: '/sim/db', fileLayer: files })
    expect(again.get('a')).toBe(1)
    await again.close()
    // The crashed instance's release does not remove the lock of the instance that followed it.
    const third = await open({ dir: '/sim/db', fileLayer: files })
    await db.close().catch(() => undefined)
    await expect(open({ dir: '/sim/db', fileLayer: files })).rejects.toMatchObject({ code: 'ISLAB_LOCKED' })
    await third.close()
  })
})

/**
 * A FileLayer that reaches one directory under two names (as a symlink does, invisible to
 * path.resolve) and can run code in the middle of another acquisition: `onRead` runs after a
 * LOCK read has returned its bytes to the caller, before the caller acts on them.
 */
function interleavingLayer(): { files: FileLayer; sim: SimFileLayer; onRead: (() => void) | undefined } {
  const sim = new SimFileLayer()
  const real = (p: string) => p.replace(/^\/b(\/|$)/, '/a$1')
  const box = { files: undefined as unknown as FileLayer, sim, onRead: undefined as (() => void) | undefined }
  box.files = {
    mkdirp: (d) => sim.mkdirp(real(d)),
    list: (d) => sim.list(real(d)),
    exists: (p) => sim.exists(real(p)),
    size: (p) => sim.size(real(p)),
    mtimeMs: (p) => sim.mtimeMs(real(p)),
    readFile: (p) => {
      const b = sim.readFile(real(p))
      const hook = box.onRead
      if (hook !== undefined && path.basename(p) === LOCK_FILE) {
        box.onRead = undefined
        hook()
      }
      return b
    },
    readFileAsync: (p) => sim.readFileAsync(real(p)),
    readRange: (p, o, l) => sim.readRange(real(p), o, l),
    readIntoAsync: (p, pos, t, at, l) => sim.readIntoAsync(real(p), pos, t, at, l),
    createExclusive: (p, d) => sim.createExclusive(real(p), d),
    writeFileDurable: (p, d) => sim.writeFileDurable(real(p), d),
    unlink: (p) => sim.unlink(real(p)),
    unlinkAsync: (p) => sim.unlinkAsync(real(p)),
    rename: (a, b) => sim.rename(real(a), real(b)),
    truncate: (p, l) => sim.truncate(real(p), l),
    syncDir: (d) => sim.syncDir(real(d)),
    syncDirAsync: (d) => sim.syncDirAsync(real(d)),
    openAppend: (p) => sim.openAppend(real(p)),
  }
  return box
}

describe('atomic takeover of a dead holder\'s lock (interleavings driven through the FileLayer)', () => {
  it('lets only one of two acquisitions win when the second runs between the first\'s read and its takeover', () => {
    const box = interleavingLayer()
    box.files.mkdirp('/a')
    box.files.createExclusive('/a/LOCK', Buffer.from(JSON.stringify({ pid: 2 ** 22 + 12345, start: '1' })))
    const outcomes: string[] = []
    const attempt = (dir: string): void => {
      try {
        acquireDirLock(box.files, dir)
        outcomes.push(`${dir} won`)
      } catch (err) {
        outcomes.push(`${dir} ${(err as { code?: string }).code}`)
      }
    }
    // /a reads the dead holder's LOCK; before it acts, /b (the same directory) runs to the end.
    box.onRead = () => attempt('/b')
    attempt('/a')
    expect(outcomes).toEqual(['/b won', '/a ISLAB_LOCKED'])
  })

  /** Processes played in one: each its own pid; `alive` says which are running. */
  const alive = new Set<number>()
  const player = (pid: number): LockOwner => ({ pid, start: 's', isAlive: (h) => alive.has(h.pid) })

  it('climbs past a claim whose claimant died inside it, and cleans the claims up', () => {
    const files = new SimFileLayer()
    files.mkdirp('/d')
    alive.clear()
    files.createExclusive('/d/LOCK', Buffer.from(JSON.stringify({ pid: 11, start: 's', token: 'x' })))
    const claims = (): string[] => files.list('/d').filter((n) => n.startsWith('LOCK.takeover.'))
    // 12 creates its claim on that LOCK and is killed right then (no finally runs in a SIGKILL).
    alive.add(12)
    const dying: FileLayer = Object.create(files) as FileLayer
    dying.createExclusive = (p, data) => {
      files.createExclusive(p, data)
      if (path.basename(p).startsWith('LOCK.takeover.')) throw Object.assign(new Error('killed'), { code: 'KILLED' })
    }
    expect(() => acquireDirLock(dying, '/d', player(12))).toThrow('killed')
    alive.delete(12)
    expect(claims()).toHaveLength(1)
    // 13 finds the dead claimant's claim at level 0, claims level 1 and wins; no claim is left.
    alive.add(13)
    const b = acquireDirLock(files, '/d', player(13))
    expect(JSON.parse(files.readFile('/d/LOCK').toString()).pid).toBe(13)
    expect(files.list('/d')).toEqual(['LOCK'])
    // While 13 lives, 14 cannot take it.
    expect(() => acquireDirLock(files, '/d', player(14))).toThrow(expect.objectContaining({ code: 'ISLAB_LOCKED', holderPid: 13 }))
    b.release()
    expect(files.list('/d')).toEqual([])
  })

  it('stops with ISLAB_LOCKED while a live claimant is taking the lock over', () => {
    const files = new SimFileLayer()
    files.mkdirp('/d')
    alive.clear()
    alive.add(21)
    files.createExclusive('/d/LOCK', Buffer.from(JSON.stringify({ pid: 20, start: 's', token: 'y' })))
    let inside: unknown
    // 21 holds the claim (between creating it and re-reading LOCK) when 22 arrives.
    const pausing: FileLayer = Object.create(files) as FileLayer
    pausing.readFile = (p) => {
      if (path.basename(p) === LOCK_FILE && files.list('/d').some((n) => n.startsWith('LOCK.takeover.')) && inside === undefined) {
        try {
          acquireDirLock(files, '/d', player(22))
          inside = 'won'
        } catch (err) {
          inside = err
        }
      }
      return files.readFile(p)
    }
    const lock = acquireDirLock(pausing, '/d', player(21))
    expect(inside).toMatchObject({ code: 'ISLAB_LOCKED', holderPid: 21 })
    expect(JSON.parse(files.readFile('/d/LOCK').toString()).pid).toBe(21)
    lock.release()
  })
})
