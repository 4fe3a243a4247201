// Backups of a database directory: why copying a live directory file by file is not safe
// (shown with the copy's moments chosen adversarially), and `islab backup`, which is: of a closed
// database, next to a writer in another process, and with pruning happening during the copy.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { copyLive } from '../../src/cli/liveCopy.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { open } from '../../src/index.js'
import { builtDistCopy } from '../helpers/builtDist.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ensureBuilt, fingerprint, islab, islabAsync, segments } from './cli.js'

beforeAll(() => ensureBuilt(), 120_000)

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

/** Copies the named files of `from` (all but LOCK when none are named) that `to` does not have yet. */
function copyFiles(from: string, to: string, names?: string[]): void {
  fs.mkdirSync(to, { recursive: true })
  for (const n of names ?? fs.readdirSync(from)) {
    if (n === 'LOCK' || fs.existsSync(path.join(to, n))) continue
    fs.copyFileSync(path.join(from, n), path.join(to, n))
  }
}

describe('copying a live directory file by file (cp -r) is not a backup', () => {
  it('a segment copied before the writer goes on into the next one leaves a hole: the copy is refused as corrupt', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: false })
    for (let i = 0; i < 5; i++) await db.put(`k${i}`, { i })
    const copy = tmpDir()
    // cp copies in directory order, which may put the newest segment first…
    copyFiles(dir, copy, [path.basename(segments(dir).at(-1)!)])
    // …while the writer fills it up and rotates into new segments…
    for (let i = 5; i < 80; i++) await db.put(`k${i}`, { i, pad: 'x'.repeat(40) })
    expect(segments(dir).length).toBeGreaterThan(2)
    // …which are copied later, with the MANIFEST, complete.
    copyFiles(dir, copy)
    await db.close()
    expect(await codeOf(open({ dir: copy }))).toBe('ISLAB_CORRUPTION')
    expect(islab(['verify', copy]).code).toBe(1)
    // The source itself is fine.
    const again = await open({ dir })
    expect(again.get('k79')).toEqual({ i: 79, pad: 'x'.repeat(40) })
    await again.close()
  })

  it('a MANIFEST copied before a prune names segments the copy does not have: refused as corrupt', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: { auto: false, keep: 1 } })
    for (let i = 0; i < 60; i++) await db.put(`k${i}`, { i, pad: 'x'.repeat(40) })
    const copy = tmpDir()
    copyFiles(dir, copy, ['MANIFEST'])
    const before = segments(dir).length
    await db.checkpoint()
    expect(segments(dir).length).toBeLessThan(before)
    copyFiles(dir, copy)
    await db.close()
    expect(await codeOf(open({ dir: copy }))).toBe('ISLAB_CORRUPTION')
  })
})

/** A closed database with several segments, a checkpoint that pruned some, a batch and a delete. */
async function closedSample(): Promise<string> {
  const dir = tmpDir('islab-backup-')
  const db = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: { auto: false, keep: 2, onClose: false } })
  for (let i = 1; i <= 60; i++) {
    await db.put(`user:${String(i % 25).padStart(2, '0')}`, { i, at: new Date(i), n: BigInt(i) })
    if (i === 20 || i === 45) await db.checkpoint()
  }
  await db.batch([
    { type: 'put', key: 'team:a', value: ['x'] },
    { type: 'del', key: 'user:01' },
  ])
  await db.delete('user:02')
  await db.close()
  return dir
}

describe('islab backup', () => {
  it('of a closed database: the same events, checkpoints and history; the source untouched', async () => {
    const dir = await closedSample()
    const before = fingerprint(dir)
    const dest = path.join(tmpDir(), 'copy')
    const r = islab(['backup', dir, dest])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Backed up .*: seq 62; 2 checkpoints \(seq 20, 45\), WAL seqs \d+–62 in \d+ segments; .* Verified\.$/m)
    expect(fingerprint(dir)).toEqual(before)
    // Every segment and checkpoint byte for byte; `islab dump` (every retained event) identical.
    const ours = (d: string): string[] => fs.readdirSync(d).filter((n) => /\.(wal|ckpt)$/.test(n)).sort()
    expect(ours(dest)).toEqual(ours(dir))
    for (const n of ours(dir)) expect(fs.readFileSync(path.join(dest, n)).equals(fs.readFileSync(path.join(dir, n))), n).toBe(true)
    const dumpSrc = islab(['dump', dir])
    expect(dumpSrc.code).toBe(0)
    expect(islab(['dump', dest]).stdout).toBe(dumpSrc.stdout)
    expect(islab(['verify', dest]).code).toBe(0)
    const a = await open({ dir, readOnly: true })
    const b = await open({ dir: dest })
    expect(b.seq).toBe(62)
    expect([...b.range().entries()]).toEqual([...a.range().entries()])
    expect(await b.getAt('user:10', { seq: 40 })).toEqual(await a.getAt('user:10', { seq: 40 }))
    expect(await b.getAt('user:10', { seq: 40 })).toEqual({ i: 35, at: new Date(35), n: 35n })
    // The copy is a database of its own: it takes writes.
    await b.put('new', 1)
    await b.close()
    await a.close()
  })

  it('refuses a destination that is not empty, or inside the source (exit 2), changing nothing', async () => {
    const dir = await closedSample()
    const before = fingerprint(dir)
    const full = tmpDir()
    fs.writeFileSync(path.join(full, 'x'), 'x')
    const r = islab(['backup', dir, full])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('already exists and is not an empty directory')
    expect(fs.readdirSync(full)).toEqual(['x'])
    const inside = islab(['backup', dir, path.join(dir, 'copy')])
    expect(inside.code).toBe(2)
    expect(inside.stderr).toContain('inside the database directory')
    expect(islab(['backup', dir]).code).toBe(2)
    expect(fingerprint(dir)).toEqual(before)
  })

  it('of an open database: leaves out the last commit until a commit mark, the MANIFEST or a checkpoint proves it durable', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', checkpoint: { auto: false, keep: 1, onClose: false } })
    // Ten commits: each record after the first is marked, proving the bytes before it were fdatasynced.
    for (let i = 1; i <= 10; i++) await db.put(`k${i}`, i)
    const first = path.join(tmpDir(), 'a')
    const r = islab(['backup', dir, first])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/: seq 9; no checkpoint, WAL seqs 1–9 in 1 segment;/)
    expect(r.stderr).toContain('the source had written up to seq 10; seqs after 9 were not yet known durable there')
    // A checkpoint records seq 10 as durable (in the MANIFEST): now it is copied.
    await db.checkpoint()
    const second = await copyLive(nodeFileLayer, dir, tmpDir())
    expect([second.seq, second.sourceSeq, second.writerLive]).toEqual([10, 10, true])
    await db.put('k11', 11)
    await db.close()
    // Closed: every complete record is the source's for good.
    const third = await copyLive(nodeFileLayer, dir, tmpDir())
    expect([third.seq, third.writerLive]).toEqual([11, false])
  })

  it('starts over when a checkpoint prunes the segments it is copying, and still copies a prefix with its history', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: { auto: false, keep: 1 } })
    // seq n puts k(n % 7) = n.
    const valueAt = (key: number, seq: number): number | undefined => {
      let n = seq
      while (n > 0 && n % 7 !== key) n--
      return n > 0 ? n : undefined
    }
    const write = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await db.put(`k${(db.seq + 1) % 7}`, db.seq + 1)
    }
    await write(60)
    await db.checkpoint()
    await write(60)
    let pruned = 0
    let checkpointSeq = 0
    const dest = tmpDir()
    const copy = await copyLive(nodeFileLayer, dir, dest, {
      // Right after the first segment is copied, the writer writes on and checkpoints: the prune
      // deletes the segments the copy was about to read.
      afterCopy: async (name) => {
        if (pruned > 0 || !name.endsWith('.wal')) return
        const n = segments(dir).length
        await write(40)
        await db.checkpoint()
        checkpointSeq = db.seq
        pruned = n + 1 - segments(dir).length
        // The idle checkpoint started a new segment and pruned every covered one: writes after
        // it give the copy a log to answer history from.
        await write(30)
      },
    })
    expect(pruned).toBeGreaterThan(0)
    expect(copy.attempts).toBeGreaterThan(1)
    expect(copy.writerLive).toBe(true)
    expect(copy.checkpoints).toContain(checkpointSeq)
    expect(copy.seq).toBeGreaterThanOrEqual(checkpointSeq)
    expect(copy.seq).toBeLessThanOrEqual(db.seq)
    const sourceSeq = db.seq
    await write(10)
    await db.close()
    expect(sourceSeq).toBeGreaterThan(0)
    const b = await open({ dir: dest })
    expect(b.seq).toBe(copy.seq)
    for (let k = 0; k < 7; k++) expect(b.get(`k${k}`), `k${k}`).toBe(valueAt(k, copy.seq))
    // History in the copy: every version its log holds (a value written before the log's first
    // seq is known only as of the checkpoint, as in the source).
    let asked = 0
    for (let s = copy.logFrom!; s <= copy.seq; s++) {
      if ((valueAt(3, s) ?? 0) < copy.logFrom!) continue
      expect(await b.getAt('k3', { seq: s }), `seq ${s}`).toBe(valueAt(3, s))
      asked++
    }
    expect(asked).toBeGreaterThan(5)
    await b.close()
    expect(islab(['verify', dest]).code).toBe(0)
  })
})

describe('islab backup next to a writer in another process', () => {
  it('copies a verified prefix with history, again and again, while the writer rotates and prunes', async () => {
    const dir = tmpDir()
    const entry = builtDistCopy()
    const script = path.join(path.dirname(entry), '..', 'test', 'fixtures', 'roWriter.mjs')
    fs.mkdirSync(path.dirname(script), { recursive: true })
    fs.copyFileSync(new URL('../fixtures/roWriter.mjs', import.meta.url), script)
    // roWriter's schedule: seq n puts k(n % 97) = n, every 10th is the batch pair:a = pair:b = n;
    // a checkpoint (keep 1, so a prune) every 700.
    const child = spawn(process.execPath, [script, dir, '2000000'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const valueAt = (key: string, seq: number): number | undefined => {
      if (key === 'pair:a' || key === 'pair:b') return seq >= 10 ? seq - (seq % 10) : undefined
      const k = Number(key.slice(1))
      let n = seq
      while (n > 0 && (n % 97 !== k || n % 10 === 0)) n--
      return n > 0 ? n : undefined
    }
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('open') && resolve())
        child.on('exit', () => reject(new Error('writer exited')))
      })
      let lastSeq = 0
      for (let run = 0; run < 3; run++) {
        await new Promise((r) => setTimeout(r, 300))
        const dest = path.join(tmpDir(), 'copy')
        const b = islabAsync(['backup', dir, dest])
        const code = await new Promise<number | null>((resolve) => b.child.on('exit', resolve))
        expect(code, b.err()).toBe(0)
        const m = /: seq ([\d,]+); .*WAL seqs ([\d,]+)–/.exec(b.out())
        expect(m, b.out()).not.toBeNull()
        const seq = Number(m![1]!.replace(/,/g, ''))
        const logFrom = Number(m![2]!.replace(/,/g, ''))
        expect(seq).toBeGreaterThan(lastSeq)
        lastSeq = seq
        expect(islab(['verify', dest]).code).toBe(0)
        const copy = await open({ dir: dest, checkpoint: false })
        expect(copy.seq).toBe(seq)
        // Every key holds exactly the source's value at that seq: a prefix, no torn batch.
        const keys = ['pair:a', 'pair:b', ...Array.from({ length: 97 }, (_, k) => `k${k}`)]
        for (const key of keys) expect(copy.get(key), `${key} at seq ${seq}`).toBe(valueAt(key, seq))
        // History: the copy answers for the versions its log holds — at each seq asked, the key
        // written at that seq (so every copy has some to ask, however close to a checkpoint it
        // was taken), and k5 when its value then was written inside the log.
        let asked = 0
        const step = Math.max(1, Math.floor((seq - logFrom) / 300))
        for (let s = logFrom; s <= seq; s += step) {
          for (const key of [s % 10 === 0 ? 'pair:a' : `k${s % 97}`, 'k5']) {
            if ((valueAt(key, s) ?? 0) < logFrom) continue
            expect(await copy.getAt(key, { seq: s }), `${key} at seq ${s}`).toBe(valueAt(key, s))
            asked++
          }
        }
        // A copy cut at a checkpoint (the newest point proven durable) may hold no log after it.
        if (seq >= logFrom) expect(asked).toBeGreaterThan(0)
        else expect(logFrom).toBe(seq + 1)
        await copy.close()
      }
    } finally {
      child.kill()
    }
  }, 120_000)
})
