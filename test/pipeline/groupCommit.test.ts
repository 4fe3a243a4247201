// Buffered mode's bound on loss and memory, whatever the caller's loop looks like (issue 15,
// finding 1): a loop of `await db.put()` runs on resolved promises and never yields to timers or
// setImmediate by itself, so the committer must make a put wait when a commit is due.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import readline from 'node:readline'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { builtDistCopy } from '../helpers/builtDist.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** Buffered mode's cap on encoded WAL not yet handed to the file (MAX_PENDING_BYTES in database.ts). */
const CAP = 8 * 1024 * 1024

describe('buffered mode under a tight await loop', () => {
  it('makes acknowledged writes durable while the loop runs, again and again', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 10, checkpoint: false })
    const seen = new Set<number>()
    // Bounded by a deadline only so that old code (which never writes here) ends the test.
    const deadline = Date.now() + 10_000
    for (let i = 0; seen.size < 4 && Date.now() < deadline; i++) {
      await db.put(`k${i % 100}`, i)
      const { durableSeq, seq } = db.stats()
      expect(durableSeq).toBeLessThanOrEqual(seq)
      if (durableSeq > 0) seen.add(durableSeq)
    }
    // Four different durable points observed from inside the loop: commits kept happening.
    expect(seen.size).toBe(4)
    await db.close()
  })

  it('also with several loops at once', async () => {
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 10, checkpoint: false })
    const deadline = Date.now() + 10_000
    const seen = new Set<number>()
    const loop = async (w: number): Promise<void> => {
      for (let i = 0; seen.size < 3 && Date.now() < deadline; i++) {
        await db.put(`w${w}:${i % 100}`, i)
        const { durableSeq } = db.stats()
        if (durableSeq > 0) seen.add(durableSeq)
      }
    }
    await Promise.all([loop(0), loop(1), loop(2), loop(3)])
    expect(seen.size).toBeGreaterThanOrEqual(3)
    await db.close()
  })

  it('never holds much more than its cap of pending WAL: once it is reached, puts wait for the commit', async () => {
    // A long interval, so only the size trigger can start a commit.
    const db = await open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 600_000, checkpoint: false })
    const value = crypto.randomBytes(64 * 1024)
    let maxPending = 0
    for (let i = 0; i < 400; i++) {
      await db.put('big', value)
      maxPending = Math.max(maxPending, db.stats().walPendingBytes)
    }
    // 400 × 64 KiB is 25 MiB: three times the cap, with one record of slack.
    expect(maxPending).toBeGreaterThan(CAP - 128 * 1024)
    expect(maxPending).toBeLessThanOrEqual(CAP + 65 * 1024)
    expect(db.stats().durableSeq).toBeGreaterThan(0)
    await db.close()
  })

  it('a SIGKILLed process running the loop loses only what was not yet durable', async () => {
    const entry = builtDistCopy()
    const dir = tmpDir()
    const child = spawn(process.execPath, [new URL('../helpers/tightPutLoop.mjs', import.meta.url).pathname, entry, dir, '20'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    let reportedDurable = 0
    let lines = 0
    // Kill once the child has seen its writes become durable a few times — or, bounded, after
    // 3000 progress lines (3 million puts) without that, as on code that never commits.
    for await (const line of readline.createInterface({ input: child.stdout! })) {
      const [, , durable] = line.split(' ').map(Number)
      lines++
      if (durable! > reportedDurable) reportedDurable = durable!
      if ((reportedDurable > 0 && lines >= 20) || lines >= 3000) break
    }
    child.kill('SIGKILL')
    await exited
    const db = await open({ dir, checkpoint: false })
    expect(reportedDurable).toBeGreaterThan(0)
    expect(db.seq).toBeGreaterThanOrEqual(reportedDurable)
    await db.close()
  })
})
