// The commands that change a database (put, del, import, checkpoint, compact, convert), and
// tail -f following another process's writes, run as the real binary.
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ensureBuilt, flipByte, islab, islabAsync, ndjson, segments } from './cli.js'

beforeAll(() => ensureBuilt(), 120_000)

async function sample(n = 60, segmentBytes = 1024): Promise<string> {
  const dir = tmpDir('islab-cli-')
  const db = await open({ dir, durability: 'sync', segmentBytes, checkpoint: false })
  for (let i = 1; i <= n; i++) await db.put(`k${i}`, { i, when: new Date(i * 1000), big: BigInt(i) ** 20n })
  await db.close()
  return dir
}

async function state(dir: string): Promise<{ seq: number; entries: [string, unknown][] }> {
  const db = await open({ dir })
  const entries = [...Array(db.seq).keys()].map((i) => `k${i + 1}`).filter((k) => db.has(k)).map((k): [string, unknown] => [k, db.get(k)])
  const seq = db.seq
  await db.close()
  return { seq, entries }
}

describe('islab put, get, del', () => {
  it('writes through the normal path, durably; values are tagged JSON or --string', async () => {
    const dir = tmpDir('islab-cli-')
    expect(islab(['put', dir, 'a', '{"n":{"$bigint":"12345678901234567890"},"d":{"$date":"2020-01-01T00:00:00.000Z"}}']).stdout).toBe('put "a" at seq 1\n')
    expect(islab(['put', dir, 'b', 'plain text', '--string']).stdout).toBe('put "b" at seq 2\n')
    const notJson = islab(['put', dir, 'c', 'plain'])
    expect(notJson.code).toBe(2)
    expect(notJson.stderr).toMatch(/the value is not JSON: "plain".*add --string/)
    const conflict = islab(['put', dir, 'b', '2', '--if-seq', '1'])
    expect(conflict.code).toBe(1)
    expect(conflict.stderr).toContain('"b" is at seq 2, not 1 as --if-seq required: nothing written; see its seq with islab get')
    expect(conflict.stderr).toContain('--entry')
    expect(islab(['put', dir, 'b', '2', '--if-seq', '2']).code).toBe(0)
    expect(islab(['put', dir, 'x', '1'], {}).code).toBe(0)
    expect(islab(['del', dir, 'x']).stdout).toBe('deleted "x" at seq 5\n')
    expect(islab(['del', dir, 'x']).stdout).toBe('deleted "x" at seq 6 (it did not exist)\n')
    expect(islab(['put', dir, 'c', '-'], { input: '[1,2]\n' }).code).toBe(0)
    const db = await open({ dir })
    expect(db.get('a')).toEqual({ n: 12345678901234567890n, d: new Date('2020-01-01T00:00:00.000Z') })
    expect(db.get('b')).toBe(2)
    expect(db.get('c')).toEqual([1, 2])
    expect(db.has('x')).toBe(false)
    await db.close()
  })
})

describe('islab import', () => {
  it('reads back what dump and replay --export print, streaming from stdin or a file', async () => {
    const src = await sample(40)
    const viaDump = path.join(tmpDir(), 'a')
    const r = islab(['import', viaDump, '-'], { input: islab(['dump', src]).stdout })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Imported 40 events \(40 puts, 0 deletes, 0 batches\) into .*seqs 1–40/)
    expect(await state(viaDump)).toEqual(await state(src))
    const file = path.join(tmpDir(), 'state.ndjson')
    expect(islab(['replay', src, '--to', '40', '--export', file]).code).toBe(0)
    const viaExport = path.join(tmpDir(), 'b')
    expect(islab(['import', viaExport, file]).code).toBe(0)
    expect((await state(viaExport)).entries).toEqual((await state(src)).entries)
  })

  it('counts one of each in the singular: 1 put, 1 delete, 1 batch', () => {
    const dir = tmpDir('islab-cli-')
    const lines = ['{"key":"a","value":1}', '{"type":"del","key":"a"}', '{"type":"batch","ops":[{"type":"put","key":"b","value":2}]}']
    const r = islab(['import', dir, '-'], { input: lines.join('\n') + '\n' })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Imported 3 events \(1 put, 1 delete, 1 batch\) into /)
  })

  it('imports batches and deletes, and stops at a bad line saying how far it got', async () => {
    const dir = tmpDir('islab-cli-')
    const lines = [
      '{"type":"batch","ops":[{"type":"put","key":"a","value":1},{"type":"put","key":"b","value":2}]}',
      '',
      '{"type":"del","key":"a"}',
      '{"key":"c","value":{"$set":[1]}}',
      '{"key":"","value":1}',
      '{"key":"d","value":4}',
    ]
    const file = path.join(tmpDir(), 'in.ndjson')
    fs.writeFileSync(file, lines.join('\n'))
    const r = islab(['import', dir, file])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/line 5: Invalid key: the empty string is not a key.* The lines before it were written \(seqs 1–3\)/)
    expect(r.stderr).toContain(`tail -n +5 ${file} | islab import ${dir} -`)
    const db = await open({ dir })
    expect([db.seq, db.has('a'), db.get('b'), db.get('c'), db.has('d')]).toEqual([3, false, 2, new Set([1]), false])
    await db.close()
  })
})

describe('islab checkpoint, compact, convert', () => {
  it('says how many bytes of a torn tail recovery cut, in the singular for one', async () => {
    const dir = await sample()
    fs.appendFileSync(segments(dir).at(-1)!, Buffer.from([0x07]))
    const r = islab(['checkpoint', dir])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/Recovery cut 1 byte of an interrupted write from \S+\.wal/)
  })

  it('checkpoint writes a checkpoint the database then opens from', async () => {
    const dir = await sample()
    const r = islab(['checkpoint', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Wrote 00000000000000000060\.ckpt: seq 60, 60 keys/)
    expect(r.stdout).toMatch(/Deleted WAL segments the kept checkpoints cover/)
    expect(islab(['checkpoint', dir]).stdout).toMatch(/already at the last seq \(60\)/)
    const db = await open({ dir })
    expect(db.stats().recovery).toMatchObject({ checkpointSeq: 60, eventsReplayed: 0 })
    await db.close()
  })

  it('compact drops what the kept checkpoints cover, rewriting the straddling segment; the state is unchanged', async () => {
    const dir = await sample(60, 4096)
    const db = await open({ dir, checkpoint: false })
    // seq 60, in the middle of the last segment: a write during the checkpoint keeps the segment
    // going (an idle checkpoint starts a new one)
    await Promise.all([db.checkpoint(), db.put('k61', 61)])
    for (let i = 62; i <= 70; i++) await db.put(`k${i}`, i)
    await db.close()
    const before = await state(dir)
    const r = islab(['compact', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Wrote 00000000000000000070\.ckpt/)
    expect(r.stdout).toMatch(/as 00000000000000000061\.wal: dropped \d+ covered records, kept 10/)
    expect(segments(dir).map((s) => path.basename(s))).toEqual(['00000000000000000061.wal'])
    expect(await state(dir)).toEqual(before)
    expect(islab(['verify', dir]).code).toBe(0)
    const one = islab(['compact', dir, '--keep', '1'])
    expect(one.stdout).toMatch(/WAL: .* → 0 B; 1 checkpoint kept/)
    expect(fs.readdirSync(dir)).toEqual(['00000000000000000070.ckpt', 'MANIFEST'])
    expect(await state(dir)).toEqual(before)
  })

  it('compact keeps what an older kept checkpoint needs, even past damage in covered records', async () => {
    const dir = await sample(60, 100_000)
    const db = await open({ dir, checkpoint: false })
    await Promise.all([db.checkpoint(), db.put('k61', 61)]) // seq 60, the segment going on past it
    for (let i = 62; i <= 70; i++) await db.put(`k${i}`, i)
    await db.close()
    const [seg] = segments(dir)
    // The last byte of record 2 (a value byte): open() walks covered records without checksums.
    const b = fs.readFileSync(seg!)
    const second = 32 + 8 + b.readUInt32LE(32)
    flipByte(seg!, second + 8 + b.readUInt32LE(second) - 1)
    const verify = islab(['verify', dir])
    expect(verify.code).toBe(1)
    expect(verify.stdout).toMatch(/Not noticed by open\(\): checkpoint 00000000000000000060\.ckpt covers these records/)
    expect(verify.stdout).not.toMatch(/What to do: 'islab repair/)
    const before = await state(dir)
    expect(islab(['compact', dir]).code).toBe(0)
    // Checkpoints 60 and 70 are kept; recovery from 60 still finds seqs 61-70 in the log.
    expect(segments(dir).map((s) => path.basename(s))).toEqual(['00000000000000000061.wal'])
    expect(JSON.parse(islab(['dump', dir]).stdout.split('\n')[0]!)).toMatchObject({ seq: 61 })
    expect(islab(['verify', dir]).code).toBe(0)
    expect(await state(dir)).toEqual(before)
  })

  it('compact finishes a rewrite that a crash interrupted', async () => {
    const dir = await sample(30, 100_000)
    expect(islab(['checkpoint', dir]).code).toBe(0)
    // As if compact died after deleting the old segment and before renaming the new one in.
    const [seg] = segments(dir)
    const bytes = fs.readFileSync(seg!)
    fs.writeFileSync(path.join(dir, '00000000000000000001.wal.rewrite'), bytes)
    fs.rmSync(seg!)
    const r = islab(['compact', dir, '--keep', '1'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/Settled 00000000000000000001\.wal\.rewrite .*\(completed\)/)
    expect(fs.readdirSync(dir).some((n) => n.endsWith('.rewrite'))).toBe(false)
    expect((await state(dir)).seq).toBe(30)
  })

  it('convert rewrites the segments in the other format, same events', async () => {
    const dir = await sample()
    const dump = islab(['dump', dir]).stdout
    const r = islab(['convert', dir, '--format', 'json'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Converted \d+ segments to json/)
    for (const s of segments(dir)) expect(fs.readFileSync(s, 'utf8').startsWith('{"magic":"ISLABWAL"')).toBe(true)
    expect(islab(['dump', dir]).stdout).toBe(dump)
    expect(islab(['convert', dir, '--format', 'binary']).code).toBe(0)
    expect(islab(['dump', dir]).stdout).toBe(dump)
    expect(islab(['convert', dir, '--format', 'binary']).stdout).toMatch(/already in the binary format/)
    expect(islab(['verify', dir]).code).toBe(0)
  })
})

describe('islab tail -f', () => {
  it('follows another process writing, across segments and entry formats', async () => {
    const dir = await sample(5)
    const tail = islabAsync(['tail', '-f', dir, '-n', '2', '--interval', '30'])
    try {
      expect((await tail.lines(2)).map((l) => JSON.parse(l).seq)).toEqual([4, 5])
      const db = await open({ dir, durability: 'sync', segmentBytes: 300, walFormat: 'json', checkpoint: false })
      for (let i = 6; i <= 40; i++) await db.put(`k${i}`, i)
      await db.close()
      const seqs = (await tail.lines(37)).map((l) => JSON.parse(l).seq)
      expect(seqs).toEqual(Array.from({ length: 37 }, (_, i) => i + 4))
      expect(segments(dir).length).toBeGreaterThan(3)
      expect(tail.err()).toBe('')
    } finally {
      tail.child.kill()
    }
  })

  it('waits for a record that is still being written instead of calling it damage', async () => {
    const dir = await sample(3)
    const src = await sample(4)
    // The 4th record of an identical log, to append in two halves.
    const [a] = segments(dir)
    const [b] = segments(src)
    const record = fs.readFileSync(b!).subarray(fs.statSync(a!).size)
    const tail = islabAsync(['tail', '-f', dir, '-n', '0', '--interval', '30'])
    try {
      await new Promise((r) => setTimeout(r, 300))
      fs.appendFileSync(a!, record.subarray(0, 10))
      await new Promise((r) => setTimeout(r, 300))
      expect(tail.out()).toBe('')
      expect(tail.err()).toBe('')
      fs.appendFileSync(a!, record.subarray(10))
      expect(ndjson((await tail.lines(1)).join('\n'))).toMatchObject([{ seq: 4, key: 'k4' }])
    } finally {
      tail.child.kill()
    }
  })
})
