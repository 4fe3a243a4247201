// verify, dump, stats and repair on directories the test damages: a torn tail, a flipped bit
// in a sealed segment, a damaged checkpoint, a missing segment.
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ensureBuilt, fingerprint, flipByte, islab, ndjson, segments } from './cli.js'

/** 60 puts in segments of ~1 KiB (several), with a checkpoint after seq 50 unless told otherwise. */
async function sample(checkpointAt?: number): Promise<string> {
  const dir = tmpDir('islab-cli-')
  const db = await open({ dir, durability: 'sync', segmentBytes: 1024, checkpoint: false })
  for (let i = 1; i <= 60; i++) {
    await db.put(`k${i}`, { i, pad: 'p'.repeat(10) })
    if (i === checkpointAt) await db.checkpoint()
  }
  await db.close()
  return dir
}

const checkpoints = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.ckpt'))

beforeAll(() => ensureBuilt(), 120_000)

describe('islab verify', () => {
  it('says healthy and exits 0 on an intact database', async () => {
    const dir = await sample(50)
    const r = islab(['verify', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/00000000000000000050\.ckpt\s+seq 50 .* ok \(50 keys\)/)
    expect(r.stdout).toMatch(/Result: healthy .*last seq 60/)
    expect(JSON.parse(islab(['verify', dir, '--json']).stdout)).toMatchObject({ healthy: true, problems: [] })
  })

  it('reports a torn tail: where, how many bytes, and that the next open cuts it; exit 1', async () => {
    const dir = await sample()
    const last = segments(dir).at(-1)!
    fs.truncateSync(last, fs.statSync(last).size - 7)
    const r = islab(['verify', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`${path.basename(last)} .*INCOMPLETE at byte \\d+: record cut short`))
    expect(r.stdout).toMatch(/An interrupted write \(\d+ bytes\): the next open\(\) cuts it off/)
    expect(r.stdout).toMatch(/Result: DAMAGED/)
  })

  it('finds corruption in a sealed segment, and keeps checking the segments after it', async () => {
    const dir = await sample()
    const segs = segments(dir)
    expect(segs.length).toBeGreaterThan(3)
    flipByte(segs[1]!, 200)
    flipByte(segs[3]!, -3)
    const r = islab(['verify', dir, '--json'])
    expect(r.code).toBe(1)
    const j = JSON.parse(r.stdout)
    expect(j.healthy).toBe(false)
    expect(j.problems.map((p: { file: string }) => p.file)).toEqual([path.basename(segs[1]!), path.basename(segs[3]!)])
    expect(j.problems[0]).toMatchObject({ severity: 'damage', reason: 'checksum mismatch' })
    expect(j.problems[0].offset).toBeLessThanOrEqual(200)
    expect(j.problems[0].effect).toMatch(/open\(\) fails with ISLAB_CORRUPTION/)
    // The segments between and after were read in full.
    expect(j.segments[2].problem).toBeUndefined()
    expect(j.segments[2].records).toBeGreaterThan(0)
    const human = islab(['verify', dir]).stdout
    expect(human).toMatch(/✗ 0+\d+\.wal at byte \d+: checksum mismatch\./)
    expect(human).toMatch(/What to do: 'islab repair .* --dry-run'/)
  })

  it('reports a damaged checkpoint and a log that no longer reaches back', async () => {
    const dir = await sample(50)
    const [cp] = checkpoints(dir)
    flipByte(path.join(dir, cp!), 50)
    const r = islab(['verify', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/00000000000000000050\.ckpt .*DAMAGED at byte \d+: checksum mismatch/)
    expect(r.stdout).toMatch(/Seqs 1–\d+ are missing: open\(\) fails/)
  })

  it('reports a deleted newest segment the MANIFEST names, as open() does; repair keeps the log before it', async () => {
    const dir = await sample()
    const last = segments(dir).at(-1)!
    fs.unlinkSync(last)
    const r = islab(['verify', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`${path.basename(last)}, holding seqs from`)
    expect(r.stdout).toMatch(/is missing \(the MANIFEST names it\)/)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION' })
    expect(islab(['repair', dir]).code).toBe(0)
    expect(islab(['verify', dir]).code).toBe(0)
  })

  it('exits 2 when it cannot run', () => {
    const r = islab(['verify', path.join(tmpDir(), 'nope')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/does not exist/)
  })
})

describe('dump and stats on a damaged log', () => {
  it('dump prints the events before the damage, says where it stopped, exit 1', async () => {
    const dir = await sample()
    const segs = segments(dir)
    fs.rmSync(segs[2]!) // a hole in the log
    const r = islab(['dump', dir])
    expect(r.code).toBe(1)
    const seqs = ndjson(r.stdout).map((l) => l.seq)
    expect(seqs[0]).toBe(1)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    expect(r.stderr).toMatch(new RegExp(`the log is damaged at ${path.basename(segs[3]!)} at byte 0: segment starts at seq \\d+ but the previous one ended at ${seqs.at(-1)}`))
    expect(r.stderr).toMatch(/islab verify/)
  })

  it('stats still shows the files and names the problem', async () => {
    const dir = await sample()
    flipByte(segments(dir)[1]!, 100)
    const r = islab(['stats', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Problem: the log is damaged, 0+\d+\.wal at byte \d+: checksum mismatch/)
  })
})

describe('islab repair', () => {
  it('--dry-run reports what a repair would do and changes nothing; repair then does exactly that', async () => {
    const dir = await sample(30)
    const segs = segments(dir)
    const damaged = segs[segs.length - 2]!
    flipByte(damaged, 150)
    const before = fingerprint(dir)
    const dry = islab(['repair', dir, '--dry-run'])
    expect(dry.code).toBe(0)
    expect(fingerprint(dir)).toEqual(before)
    expect(dry.stdout).toMatch(/^Dry run, nothing was changed/)
    expect(dry.stdout).toMatch(/keep the log up to seq (\d+): it is damaged at .*checksum mismatch/)
    expect(dry.stdout).toMatch(/lose seqs \d+–60 \(\d+ events/)
    const real = islab(['repair', dir])
    expect(real.code).toBe(0)
    // The same report, in the past tense.
    const kept = /keep the log up to seq (\d+)/.exec(dry.stdout)![1]
    expect(real.stdout).toContain(`kept the log up to seq ${kept}`)
    expect(real.stdout).toMatch(/lost seqs \d+–60/)
    expect(fs.existsSync(`${damaged}.damaged`)).toBe(true)
    expect(islab(['verify', dir]).code).toBe(0)
    const db = await open({ dir })
    expect(db.seq).toBe(Number(kept))
    await db.close()
    expect(islab(['repair', dir]).stdout).toMatch(/^Nothing to repair/)
  })

  it('cuts a torn tail and moves a damaged checkpoint aside', async () => {
    const dir = await sample(50)
    const last = segments(dir).at(-1)!
    fs.appendFileSync(last, Buffer.from([40, 0, 0, 0, 1, 2]))
    // An older, damaged checkpoint next to the good one.
    const older = path.join(dir, '00000000000000000040.ckpt')
    fs.writeFileSync(older, Buffer.from('ISLABCKP not really'))
    const r = islab(['repair', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/cut 6 bytes of an interrupted write from the end of/)
    expect(r.stdout).toMatch(/the damaged checkpoint 00000000000000000040\.ckpt .* to 00000000000000000040\.ckpt\.damaged/)
    expect(fs.existsSync(`${older}.damaged`)).toBe(true)
    expect(islab(['verify', dir]).code).toBe(0)
  })

  it('says what it cannot repair, exit 1', async () => {
    const dir = await sample()
    fs.rmSync(segments(dir)[0]!)
    const r = islab(['repair', dir])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/cannot repair .* seqs 1-\d+ are missing/)
  })
})
