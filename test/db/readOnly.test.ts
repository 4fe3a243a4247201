// open({ readOnly: true }): a second opener of a directory, with no lock and no write, that
// serves what is durable in the log and follows what the writer appends. Most cases run the
// writer in this process (a read-only open takes no lock, so both fit in one process) and follow
// with followMs: false, so each step is a deterministic db.refresh(); one case follows a writer
// in another process on its own.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Change, Database } from '../../src/index.js'
import { builtDistCopy } from '../helpers/builtDist.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** Every file of the directory with its size, mtime and a hash of its content. */
function listing(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((n) => {
      const p = path.join(dir, n)
      const st = fs.statSync(p)
      const hash = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)
      return `${n} ${st.size} ${st.mtimeMs} ${hash}`
    })
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

/** Puts k0..k(n-1) = { i } through `db`, in sync mode: each write durable when it resolves. */
async function putMany(db: Database, from: number, n: number, prefix = 'k'): Promise<void> {
  for (let i = from; i < from + n; i++) await db.put(`${prefix}${i % 50}`, { i })
}

describe('open({ readOnly: true }) of a closed database', () => {
  it('serves the log and checkpoint as open does, and leaves every file of the directory as it was', async () => {
    const dir = tmpDir()
    // history.retainSegments keeps the log the change-stream checks below read back into: an idle
    // checkpoint starts a new segment and would prune every segment it covers.
    const w = await open({ dir, durability: 'sync', segmentBytes: 2048, checkpoint: { auto: false, keep: 2 }, history: { retainSegments: 1000 }, physics: false })
    await putMany(w, 0, 120)
    await w.checkpoint()
    await w.batch([
      { type: 'put', key: 'b:1', value: 'one' },
      { type: 'put', key: 'b:2', value: 'two' },
      { type: 'del', key: 'k7' },
    ])
    await putMany(w, 120, 30)
    const expected = new Map(w.range().entries())
    const seq = w.seq
    await w.close()
    // What recovery would clean up or cut: a torn record at the end of the newest segment, a
    // MANIFEST.tmp and a checkpoint .tmp a crash left.
    const newest = fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).sort().at(-1)!
    fs.appendFileSync(path.join(dir, newest), Buffer.from([40, 0, 0, 0, 1, 2, 3]))
    fs.writeFileSync(path.join(dir, 'MANIFEST.tmp'), 'half')
    fs.writeFileSync(path.join(dir, '00000000000000000999.ckpt.tmp'), 'half')
    const before = listing(dir)

    const ro = await open({ dir, readOnly: true, followMs: false })
    expect(ro.readOnly).toBe(true)
    expect(ro.seq).toBe(seq)
    expect(new Map(ro.range().entries())).toEqual(expected)
    expect(ro.get('b:2')).toBe('two')
    expect(ro.has('k7')).toBe(false)
    expect(ro.getEntry('b:1')?.seq).toBe(121)
    expect(ro.stats().recovery!.checkpointSeq).toBe(120)
    // Time travel and change streams read the log like a writer's do.
    expect(await ro.getAt('k7', { seq: 120 })).toEqual({ i: 107 })
    const versions = []
    for await (const h of ro.history('k3')) versions.push(h.seq)
    expect(versions.length).toBeGreaterThan(0)
    const changes: Change[] = []
    for await (const c of ro.changes({ since: 118, live: false })) changes.push(c)
    expect(changes.map((c) => c.seq)).toEqual([119, 120, 121, 121, 121, ...Array.from({ length: 30 }, (_, i) => 122 + i)])
    expect(await ro.refresh()).toBe(seq) // the torn record is not there yet
    await ro.close()
    expect(listing(dir)).toEqual(before)
  })

  it('rejects every write with ISLAB_READ_ONLY and leaves no trace of it', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync' })
    await w.put('a', 1)
    await w.close()
    const before = listing(dir)
    const ro = await open({ dir, readOnly: true, followMs: false })
    const writes: [string, () => Promise<unknown>][] = [
      ['put', () => ro.put('a', 2)],
      ['delete', () => ro.delete('a')],
      ['batch', () => ro.batch([{ type: 'put', key: 'b', value: 1 }])],
      ['entangle', () => ro.entangle('a', ['b'])],
      ['disentangle', () => ro.disentangle('a')],
      ['checkpoint', () => ro.checkpoint()],
    ]
    for (const [name, write] of writes) {
      const err = await write().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, name).toMatchObject({ code: 'ISLAB_READ_ONLY', name: 'ReadOnlyError' })
      expect((err as Error).message, name).toMatch(/read-only.*process that/)
    }
    expect(ro.seq).toBe(1)
    expect(ro.get('a')).toBe(1)
    expect(ro.has('b')).toBe(false)
    await ro.close()
    expect(listing(dir)).toEqual(before)
    const again = await open({ dir })
    expect(again.seq).toBe(1)
    await again.close()
  })

  it('refuses a directory without a database (creating nothing), and options that cannot hold', async () => {
    const parent = tmpDir()
    const dir = path.join(parent, 'none')
    expect(await codeOf(open({ dir, readOnly: true }))).toBe('ISLAB_NOT_FOUND')
    expect(fs.existsSync(dir)).toBe(false)
    fs.mkdirSync(dir)
    expect(await codeOf(open({ dir, readOnly: true }))).toBe('ISLAB_NOT_FOUND')
    expect(fs.readdirSync(dir)).toEqual([])
    expect(await codeOf(open({ dir, readOnly: true, durability: 'memory' }))).toBe('ISLAB_INVALID_OPTION')
    expect(await codeOf(open({ dir, readOnly: true, errorIfExists: true }))).toBe('ISLAB_INVALID_OPTION')
    expect(await codeOf(open({ dir, readOnly: true, followMs: 0 }))).toBe('ISLAB_INVALID_OPTION')
  })
})

describe('open({ readOnly: true }) next to a writer', () => {
  it('opens while the writer holds the lock, and refresh() applies what the writer has written since', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: false })
    await putMany(w, 0, 10)
    const ro = await open({ dir, readOnly: true, followMs: false })
    expect(ro.seq).toBe(10)
    await putMany(w, 10, 200) // rotates through many segments
    await w.batch([
      { type: 'put', key: 'x', value: 1 },
      { type: 'put', key: 'y', value: 2 },
    ])
    expect(ro.seq).toBe(10)
    expect(await ro.refresh()).toBe(211)
    expect(ro.get('x')).toBe(1)
    expect(ro.get('y')).toBe(2)
    expect(ro.get('k9')).toEqual({ i: 209 })
    expect(ro.getEntry('k9')!.seq).toBe(210)
    expect(await ro.getAt('k9', { seq: 100 })).toEqual({ i: 59 })
    await ro.close()
    await w.close()
  })

  it('buffered writes appear once the writer has written them to its log', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'buffered', syncIntervalMs: 60_000, checkpoint: false })
    await w.put('a', 1)
    await w.flush()
    const ro = await open({ dir, readOnly: true, followMs: false })
    await w.put('a', 2) // applied and acknowledged in the writer, still in its memory
    expect(await ro.refresh()).toBe(1)
    expect(ro.get('a')).toBe(1)
    await w.flush()
    expect(await ro.refresh()).toBe(2)
    expect(ro.get('a')).toBe(2)
    await ro.close()
    await w.close()
  })

  it('waitForSeq resolves when the follower gets there, and rejects on close or abort', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', checkpoint: false })
    await w.put('a', 0)
    const ro = await open({ dir, readOnly: true, followMs: 5 })
    expect(await ro.waitForSeq(1)).toBe(1)
    const waiting = ro.waitForSeq(31)
    await putMany(w, 0, 30, 'n')
    expect(await waiting).toBe(31)
    expect(ro.get('n29')).toEqual({ i: 29 })
    const ac = new AbortController()
    const aborted = ro.waitForSeq(1000, { signal: ac.signal })
    ac.abort(new Error('enough'))
    await expect(aborted).rejects.toThrow('enough')
    const never = ro.waitForSeq(1000)
    await ro.close()
    expect(await codeOf(never)).toBe('ISLAB_CLOSED')
    expect(await codeOf(ro.waitForSeq(1))).toBe('ISLAB_CLOSED')
    await w.close()
  })

  it('waitForSeq on a writer resolves as its own writes are sequenced', async () => {
    const dir = tmpDir()
    const w = await open({ dir, checkpoint: false })
    const waiting = w.waitForSeq(3)
    await w.put('a', 1)
    await w.put('a', 2)
    await w.put('a', 3)
    expect(await waiting).toBe(3)
    expect(await codeOf(w.waitForSeq(-1))).toBe('ISLAB_INVALID_OPTION')
    expect(await codeOf(w.waitForSeq(1, { sigal: 1 } as never))).toBe('ISLAB_INVALID_OPTION')
    await w.close()
  })

  it('a live change stream gets every change in seq order, across segments, with no gap', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: false })
    await putMany(w, 0, 5)
    const ro = await open({ dir, readOnly: true, followMs: 5 })
    const got: Change[] = []
    const it = ro.changes({ since: 2 })[Symbol.asyncIterator]()
    const reading = (async () => {
      while (got.length < 3 + 100 + 2) got.push((await it.next()).value as Change)
    })()
    // Once the first changes (3..5, from the log) came, the stream listens live: writes from here keep `prev`.
    while (got.length < 3) await new Promise((r) => setTimeout(r, 2))
    await putMany(w, 5, 100)
    await w.batch([
      { type: 'put', key: 'p', value: 1 },
      { type: 'del', key: 'k1' },
    ])
    await reading
    await it.return!()
    expect(got.map((c) => c.seq)).toEqual([...Array.from({ length: 103 }, (_, i) => 3 + i), 106, 106])
    expect(got.at(-2)).toMatchObject({ type: 'put', key: 'p', value: 1 })
    expect(got.at(-1)).toMatchObject({ type: 'del', key: 'k1' })
    // Live changes made while the stream listened carry what they replaced.
    expect(got.find((c) => c.seq === 56)).toMatchObject({ key: 'k5', value: { i: 55 }, prev: { i: 5 } })
    await ro.close()
    await w.close()
  })

  it('after the writer pruned the segments it had not read, reloads from the newest checkpoint', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: { auto: false, keep: 1 } })
    await putMany(w, 0, 20)
    const ro = await open({ dir, readOnly: true, followMs: false })
    const failures: unknown[] = []
    ro.on('failure', (e) => failures.push(e))
    const stream = ro.changes()[Symbol.asyncIterator]()
    const first = codeOf(stream.next())
    await putMany(w, 20, 200)
    await w.checkpoint() // deletes every segment before the newest: seqs 21.. are gone from the log
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length).toBe(1)
    await putMany(w, 220, 5)
    expect(await ro.refresh()).toBe(225)
    expect(ro.stats().recovery!.checkpointSeq).toBe(220)
    expect(ro.get('k19')).toEqual({ i: 219 })
    expect(ro.get('k20')).toEqual({ i: 220 })
    expect(await ro.getAt('k20', { seq: 223 })).toEqual({ i: 220 })
    // The stream cannot deliver seqs 21..220: it says so instead of skipping them.
    expect(await first).toBe('ISLAB_HISTORY_GONE')
    expect(failures).toEqual([])
    // Following goes on from there.
    await putMany(w, 225, 3)
    expect(await ro.refresh()).toBe(228)
    expect(ro.get('k27')).toEqual({ i: 227 })
    await ro.close()
    await w.close()
  })

  it('a checkpoint that prunes only segments already read changes nothing for the reader: no reload, no gap', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: { auto: false, keep: 1 } })
    await putMany(w, 0, 20)
    const ro = await open({ dir, readOnly: true, followMs: false })
    const got: number[] = []
    const stream = ro.changes()[Symbol.asyncIterator]()
    // Listening from here on (a stream registers at its first next()).
    const reading = (async () => {
      while (got.length < 55) got.push(((await stream.next()).value as Change).seq)
    })()
    await putMany(w, 20, 50)
    expect(await ro.refresh()).toBe(70)
    await w.checkpoint()
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.wal'))).toHaveLength(1)
    await putMany(w, 70, 5)
    expect(await ro.refresh()).toBe(75)
    expect(ro.stats().recovery!.checkpointSeq).toBe(0) // not reloaded
    await reading
    expect(got).toEqual(Array.from({ length: 55 }, (_, i) => 21 + i))
    await stream.return!()
    await ro.close()
    await w.close()
  })

  it('time travel forgets what the writer pruned, and answers from the state what did not change since', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: { auto: false, keep: 1 } })
    await w.put('stable', 's')
    await putMany(w, 0, 100)
    const ro = await open({ dir, readOnly: true, followMs: false })
    expect(await ro.getAt('k1', { seq: 10 })).toEqual({ i: 1 }) // builds the index over the whole log
    await putMany(w, 100, 10)
    // A write in flight during the checkpoint keeps the newest segment going (an idle checkpoint
    // would start a new one and prune them all), so only the older segments are pruned.
    await Promise.all([w.checkpoint(), w.put('during', 1)])
    expect(await ro.refresh()).toBe(112)
    expect(ro.stats().recovery!.checkpointSeq).toBe(0) // followed, not reloaded
    expect(await ro.getAt('stable', { seq: 5 })).toBe('s')
    expect(await codeOf(ro.getAt('k1', { seq: 10 }))).toBe('ISLAB_HISTORY_GONE')
    expect(await ro.getAt('k1', { seq: 111 })).toEqual({ i: 101 })
    await ro.close()
    await w.close()
  })

  it('waits at a torn tail a crashed writer left, and reads what the writer writes there after its next open cut it', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', checkpoint: false })
    await putMany(w, 0, 3)
    await w.close()
    const seg = path.join(dir, '00000000000000000001.wal')
    // A frame header claiming 200 bytes, and 40 of them: what a killed writer leaves mid-write.
    fs.appendFileSync(seg, Buffer.concat([Buffer.from([200, 0, 0, 0]), Buffer.alloc(44, 7)]))
    const ro = await open({ dir, readOnly: true, followMs: false })
    expect(ro.seq).toBe(3)
    expect(await ro.refresh()).toBe(3)
    const w2 = await open({ dir, durability: 'sync', checkpoint: false }) // cuts the torn tail, appends after
    await putMany(w2, 3, 10)
    expect(await ro.refresh()).toBe(13)
    expect(ro.get('k12')).toEqual({ i: 12 })
    await w2.close()
    await ro.close()
  })

  it('stops following with ISLAB_CORRUPTION when the log is cut back under what it applied', async () => {
    const dir = tmpDir()
    const w = await open({ dir, durability: 'sync', checkpoint: false })
    await putMany(w, 0, 3)
    const ro = await open({ dir, readOnly: true, followMs: false })
    const failures: unknown[] = []
    ro.on('failure', (e) => failures.push(e))
    const size = fs.statSync(path.join(dir, '00000000000000000001.wal')).size
    await putMany(w, 3, 3)
    expect(await ro.refresh()).toBe(6)
    await w.close()
    fs.truncateSync(path.join(dir, '00000000000000000001.wal'), size)
    expect(await codeOf(ro.refresh())).toBe('ISLAB_CORRUPTION')
    expect(failures).toHaveLength(1)
    expect(ro.stats().failure?.code).toBe('ISLAB_CORRUPTION')
    expect(await codeOf(ro.waitForSeq(7))).toBe('ISLAB_CORRUPTION')
    // What it had stays readable.
    expect(ro.get('k5')).toEqual({ i: 5 })
    await ro.close()
  })
})

describe('open({ readOnly: true }) following a writer in another process', () => {
  it('follows by itself: values, waitForSeq and a live change stream, through rotation and pruning', async () => {
    const dir = tmpDir()
    const entry = builtDistCopy()
    const script = path.join(path.dirname(entry), '..', 'test', 'fixtures', 'roWriter.mjs')
    fs.mkdirSync(path.dirname(script), { recursive: true })
    fs.copyFileSync(new URL('../fixtures/roWriter.mjs', import.meta.url), script)
    const total = 3000
    const child = spawn(process.execPath, [script, dir, String(total)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    const lines = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('open\n')) resolve()
      })
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited with ${code}`))))
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    await lines
    const ro = await open({ dir, readOnly: true, followMs: 20 })
    const start = ro.seq
    const seqs: number[] = []
    let prefixBroken: string | undefined
    let streamError: string | undefined
    const sub = ro.changes().subscribe({
      next: (c) => {
        seqs.push(c.seq)
        // A batch's two puts carry the same value: the state never holds one without the other.
        if (ro.get('pair:a') !== ro.get('pair:b')) prefixBroken = `pair:a ${ro.get('pair:a')} pair:b ${ro.get('pair:b')} at seq ${ro.seq}`
      },
      error: (e: { code?: string }) => (streamError = e.code ?? String(e)),
    })
    expect(await ro.waitForSeq(total)).toBeGreaterThanOrEqual(total)
    expect(await exited).toBe(0)
    await ro.refresh()
    // The stream delivers asynchronously: wait for its last change (or its end).
    for (let i = 0; i < 2000 && streamError === undefined && seqs.at(-1) !== ro.seq; i++) await new Promise((r) => setTimeout(r, 5))
    sub.unsubscribe()
    expect(prefixBroken).toBeUndefined()
    // The writer's schedule (roWriter.mjs): seq n puts k(n % 97) = n, every 10th is the pair batch.
    for (let k = 0; k < 97; k++) {
      let last = total
      while (last % 97 !== k || last % 10 === 0) last--
      expect(ro.get(`k${k}`)).toEqual(last)
    }
    expect(ro.get('pair:a')).toBe(total)
    // The stream either saw every seq after `start` in order, or stopped where pruning made it
    // impossible (ISLAB_HISTORY_GONE): never a gap or a repeat in what it delivered.
    const distinct = [...new Set(seqs)]
    expect(distinct).toEqual(Array.from({ length: distinct.length }, (_, i) => start + 1 + i))
    if (streamError === undefined) expect(distinct.at(-1)).toBe(ro.seq)
    else expect(streamError).toBe('ISLAB_HISTORY_GONE')
    expect(ro.stats().failure).toBeUndefined()
    const w = await open({ dir, readOnly: true, followMs: false })
    expect(w.seq).toBe(ro.seq)
    await w.close()
    await ro.close()
  }, 120_000)
})
