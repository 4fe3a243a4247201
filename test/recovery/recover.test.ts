import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { forgetLockForCrashTest } from '../../src/io/dirLock.js'
import type { WalFormat } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** Writes a log; `crash`: the process dies after the last write (no clean close, which records the log's end). */
async function writeLog(format: WalFormat, puts: number, segmentBytes?: number, crash = false): Promise<string> {
  const dir = tmpDir()
  const db = await open({ dir, durability: 'sync', walFormat: format, segmentBytes, physics: false, checkpoint: false })
  for (let i = 1; i <= puts; i++) await db.put(`k${i}`, { i })
  if (crash) forgetLockForCrashTest(dir)
  else await db.close()
  return dir
}

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n))
}

describe.each(['binary', 'json'] as const)('recovery (%s)', (format) => {
  it('truncates a torn tail, reports the bytes, and keeps every complete record', async () => {
    const dir = await writeLog(format, 10, undefined, true)
    const [seg] = segments(dir)
    const size = fs.statSync(seg!).size
    fs.truncateSync(seg!, size - 5)
    const db = await open({ dir })
    const rec = db.stats().recovery!
    expect(db.seq).toBe(9)
    expect(db.get('k9')).toEqual({ i: 9 })
    expect(db.has('k10')).toBe(false)
    expect(rec.tornBytesTruncated).toBeGreaterThan(0)
    expect(rec.tornAt?.file).toBe(path.basename(seg!))
    expect(fs.statSync(seg!).size).toBe(rec.tornAt!.offset)
    // The sequence goes on from the last complete record.
    expect((await db.put('next', 1)).seq).toBe(10)
    await db.close()
    const again = await open({ dir })
    expect(again.get('next')).toBe(1)
    expect(again.stats().recovery!.tornBytesTruncated).toBe(0)
    await again.close()
  })

  it('truncates garbage appended after the last record', async () => {
    const dir = await writeLog(format, 3)
    const [seg] = segments(dir)
    fs.appendFileSync(seg!, Buffer.from('\x07\x00\x00\x00garbage that is not a record'))
    const db = await open({ dir })
    expect(db.seq).toBe(3)
    expect(db.stats().recovery!.tornBytesTruncated).toBeGreaterThan(0)
    await db.close()
  })

  it('fails with ISLAB_CORRUPTION naming file and offset when damage is followed by valid records', async () => {
    const dir = await writeLog(format, 10)
    const [seg] = segments(dir)
    const bytes = fs.readFileSync(seg!)
    const at = Math.floor(bytes.length / 2)
    bytes[at] = bytes[at]! ^ 0x20
    fs.writeFileSync(seg!, bytes)
    const err = await open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CORRUPTION', file: seg })
    expect((err as { offset: number }).offset).toBeLessThanOrEqual(at)
    expect((err as Error).message).toMatch(/islab verify|point-in-time/)
    // A failed open leaves the directory unlocked and untouched.
    expect(fs.readFileSync(seg!)).toEqual(bytes)
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
  })

  it('treats damage inside a sealed segment as corruption even at its end', async () => {
    const dir = await writeLog(format, 60, 1024)
    const segs = segments(dir)
    expect(segs.length).toBeGreaterThan(2)
    fs.truncateSync(segs[0]!, fs.statSync(segs[0]!).size - 3)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION' })
  })

  it('fails when a segment in the middle is missing (a sequence gap)', async () => {
    const dir = await writeLog(format, 60, 1024)
    const segs = segments(dir)
    fs.unlinkSync(segs[1]!)
    const err = await open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_CORRUPTION' })
    expect((err as Error).message).toMatch(/seq/)
  })

  it('fails when the start of the log is missing and no checkpoint covers it', async () => {
    const dir = await writeLog(format, 60, 1024)
    fs.unlinkSync(segments(dir)[0]!)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION' })
  })

  it('removes a last segment whose header was cut short by a crash during rotation', async () => {
    const dir = await writeLog(format, 5)
    fs.writeFileSync(path.join(dir, '00000000000000000006.wal'), Buffer.from(format === 'json' ? '{"magic":"ISL' : 'ISLAB'))
    const db = await open({ dir })
    expect(db.seq).toBe(5)
    expect((await db.put('k6', 6)).seq).toBe(6)
    await db.close()
    const again = await open({ dir })
    expect(again.get('k6')).toBe(6)
    await again.close()
  })
})

describe('recovery progress', () => {
  it('reports done and total in one unit per phase (WAL: bytes), and the events replayed as items', async () => {
    const dir = await writeLog('binary', 300, 4096)
    const seen: { phase: string; done: number; total: number; items: number }[] = []
    const db = await open({ dir, physics: false, checkpoint: false, onProgress: (p) => seen.push(p) })
    const wal = seen.filter((p) => p.phase === 'wal')
    expect(wal.length).toBeGreaterThan(0)
    for (const p of wal) expect(p.done).toBeLessThanOrEqual(p.total)
    expect(wal.at(-1)!.done).toBe(wal.at(-1)!.total)
    expect(wal.at(-1)!.items).toBe(300)
    await db.close()
  })
})

describe('damage to a record length in the newest segment', () => {
  it('is corruption when later commits follow it, though the damaged length frames the bytes after it wrongly', async () => {
    const dir = await writeLog('binary', 40, 1024, true)
    const seg = segments(dir).at(-1)!
    const bytes = fs.readFileSync(seg)
    expect(bytes.length).toBeGreaterThan(120)
    // The first record's length, right after the 32-byte header: off by one, it frames the next
    // record wrongly, so the bytes the decoder is handed end before any later (marked) record.
    bytes[32]! ^= 1
    fs.writeFileSync(seg, bytes)
    await expect(open({ dir })).rejects.toMatchObject({ code: 'ISLAB_CORRUPTION', offset: 32 })
  })
})
