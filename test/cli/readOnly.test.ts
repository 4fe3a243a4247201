// The read-only commands (stats, dump, verify, replay, tail, get) run as the real binary
// against directories written by the test, also while another process holds the database.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { fromTaggedJson } from '../../src/events/taggedJson.js'
import { helpText } from '../../src/cli/args.js'
import { COMMANDS } from '../../src/cli/commands/index.js'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ROOT, ensureBuilt, fingerprint, islab, ndjson } from './cli.js'

const VALUE = { n: 1n, at: new Date(86_400_000), bytes: Buffer.from([1, 2]), m: new Map([['k', new Set([1])]]), nan: NaN, s: 'a"b\n' }

/**
 * 40 puts (one with every special type), a batch, a delete, in small segments; with
 * `checkpoint`, a checkpoint after seq 30 (which deletes the segments it covers).
 */
async function sample(format: 'binary' | 'json' = 'binary', checkpoint = false): Promise<string> {
  const dir = tmpDir('islab-cli-')
  const db = await open({ dir, durability: 'sync', segmentBytes: 1024, walFormat: format, checkpoint: false })
  for (let i = 1; i <= 40; i++) {
    await db.put(`user:${String(i).padStart(2, '0')}`, i === 7 ? VALUE : { i })
    if (i === 30 && checkpoint) await db.checkpoint()
  }
  await db.batch([
    { type: 'put', key: 'team:a', value: ['x'] },
    { type: 'del', key: 'user:01' },
  ])
  await db.delete('user:02')
  await db.close()
  return dir
}

beforeAll(() => ensureBuilt(), 120_000)

describe('islab (usage)', () => {
  it('lists the commands, and every command has --help with an example', async () => {
    const r = islab(['--help'])
    expect(r.code).toBe(0)
    for (const c of COMMANDS) {
      expect(r.stdout).toContain(`  ${c.name} `)
      // Each command's help, built in-process from the same declarations the binary uses.
      const h = helpText((await c.load()).spec, c.summary)
      expect(h).toMatch(new RegExp(`^islab ${c.name}: `))
      expect(h).toMatch(/Usage: islab /)
      expect(h).toMatch(/Examples:\n {2}islab /)
    }
    expect(COMMANDS.map((c) => c.name).sort()).toEqual(
      ['backup', 'checkpoint', 'compact', 'convert', 'del', 'dump', 'get', 'import', 'promote', 'put', 'repair', 'replay', 'serve', 'stats', 'tail', 'verify'],
    )
    const dumpHelp = islab(['dump', '--help'])
    expect(dumpHelp.code).toBe(0)
    expect(dumpHelp.stdout).toContain('--prefix <p>')
    expect(islab(['help', 'repair']).stdout).toMatch(/^islab repair: /)
    expect(islab(['--version']).stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version)
  })

  it('with no arguments prints the usage on stderr and exits 2 (a usage error, not success)', () => {
    const r = islab([])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('Usage: islab <command> <dir> [options]')
    for (const c of COMMANDS) expect(r.stderr).toContain(`  ${c.name} `)
  })

  it('explains user mistakes in one or two lines, without a stack trace, exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['dunp', '.'], /unknown command 'dunp'. Did you mean 'dump'\?/],
      [['dump'], /missing <dir>/],
      [['dump', '/no/such/dir'], /\/no\/such\/dir does not exist/],
      [['dump', ROOT], /does not look like an IsLabDB database/],
      [['dump', '.', '--frm', '3'], /unknown option --frm/],
      [['dump', '.', '--from'], /option --from needs a value/],
      [['dump', '.', '--from', 'yesterday'], /--from expects a sequence number or an ISO time/],
      [['dump', '.', '--format', 'xml'], /--format must be 'ndjson' or 'table'/],
      [['replay', '.'], /--to is required/],
      [['get', '.', 'k', 'extra'], /unexpected argument 'extra'/],
    ]
    for (const [args, message] of cases) {
      const r = islab(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
      expect(r.stdout).toBe('')
    }
  })
})

describe('islab dump', () => {
  it.each(['binary', 'json'] as const)('prints every event as a JSON line with reversible values (%s segments)', async (format) => {
    const dir = await sample(format)
    const r = islab(['dump', dir])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const lines = ndjson(r.stdout)
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 42 }, (_, i) => i + 1))
    expect(lines[0]).toEqual({ seq: 1, time: expect.any(Number), iso: new Date(lines[0]!.time as number).toISOString(), type: 'put', key: 'user:01', value: { i: 1 } })
    expect(fromTaggedJson(lines[6]!.value as never)).toEqual(VALUE)
    expect(lines[40]).toMatchObject({ seq: 41, type: 'batch', ops: [{ type: 'put', key: 'team:a', value: ['x'] }, { type: 'del', key: 'user:01' }] })
    expect(lines[41]).toMatchObject({ seq: 42, type: 'del', key: 'user:02' })
  })

  it('selects by seq, time and key prefix; --flat splits batches; --format table is for people', async () => {
    const dir = await sample()
    expect(ndjson(islab(['dump', dir, '--from', '5', '--to', '8']).stdout).map((l) => l.seq)).toEqual([5, 6, 7, 8])
    const prefixed = ndjson(islab(['dump', dir, '--prefix', 'team:']).stdout)
    expect(prefixed).toEqual([expect.objectContaining({ seq: 41, type: 'batch', ops: [{ type: 'put', key: 'team:a', value: ['x'] }] })])
    const flat = ndjson(islab(['dump', dir, '--from', '41', '--flat']).stdout)
    expect(flat.map((l) => [l.seq, l.type, l.key, l.batch])).toEqual([
      [41, 'put', 'team:a', { op: 0, ops: 2 }],
      [41, 'del', 'user:01', { op: 1, ops: 2 }],
      [42, 'del', 'user:02', undefined],
    ])
    const all = ndjson(islab(['dump', dir]).stdout)
    const t = all[19]!.iso as string
    const byTime = ndjson(islab(['dump', dir, '--to', t]).stdout)
    expect(byTime.length).toBeGreaterThanOrEqual(20)
    expect(byTime.every((l) => (l.time as number) <= Date.parse(t))).toBe(true)
    const table = islab(['dump', dir, '--from', '40', '--format', 'table'])
    expect(table.stdout.split('\n')[0]).toMatch(/SEQ\s+TIME\s+TYPE\s+KEY\s+VALUE/)
    expect(table.stdout).toMatch(/\n\s+41 .*batch\s+2 of 2 ops\n.*↳put\s+team:a\s+\["x"\]/)
  })

  it('stops quietly when the reader goes away (| head)', async () => {
    const dir = tmpDir('islab-cli-')
    const db = await open({ dir, checkpoint: false })
    for (let i = 0; i < 5000; i++) void db.put(`k${i}`, { i, text: 'x'.repeat(100) })
    await db.close()
    const sh = spawn('bash', ['-c', `node ${path.join(ROOT, 'dist/cli/main.js')} dump ${dir} | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`])
    let out = ''
    let err = ''
    sh.stdout.on('data', (d: Buffer) => (out += d.toString()))
    sh.stderr.on('data', (d: Buffer) => (err += d.toString()))
    await new Promise((resolve) => sh.on('close', resolve))
    expect(err).toBe('')
    expect(out.trim()).toBe('0')
  })
})

describe('islab stats, get, tail, replay', () => {
  it('stats shows segments, checkpoints, keys and the last seq; --json for machines', async () => {
    const dir = await sample('binary', true)
    const r = islab(['stats', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/last seq\s+42\s+at \d{4}-/)
    expect(r.stdout).toMatch(/keys\s+39\n/)
    expect(r.stdout).toMatch(/state from\s+checkpoint seq 30 \+ 12 events replayed/)
    expect(r.stdout).toMatch(/00000000000000000030\.ckpt\s+30 .* valid, 30 keys/)
    const j = JSON.parse(islab(['stats', dir, '--json']).stdout)
    expect(j).toMatchObject({ lastSeq: 42, keys: 39, writerPid: null, problem: null })
    // Segments the checkpoint covers were deleted; what is left reaches back to seq 31 at least.
    expect(j.segments[0].firstSeq).toBeGreaterThan(1)
    expect(j.segments[0].firstSeq).toBeLessThanOrEqual(31)
    expect(j.segments[0]).toMatchObject({ format: 'binary' })
    expect(j.segments.at(-1).lastSeq).toBe(42)
    expect(j.checkpoints).toEqual([expect.objectContaining({ seq: 30, valid: true, keys: 30 })])
  })

  it('get prints a value as tagged JSON, exit 1 for a missing key', async () => {
    const dir = await sample()
    const r = islab(['get', dir, 'user:07'])
    expect(r.code).toBe(0)
    expect(fromTaggedJson(JSON.parse(r.stdout))).toEqual(VALUE)
    expect(JSON.parse(islab(['get', dir, 'team:a', '--entry']).stdout)).toMatchObject({ key: 'team:a', value: ['x'], seq: 41 })
    const missing = islab(['get', dir, 'user:01'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no key "user:01"/)
  })

  it('tail prints the last events, also with a prefix reaching into older segments', async () => {
    const dir = await sample()
    expect(ndjson(islab(['tail', dir, '-n', '3']).stdout).map((l) => l.seq)).toEqual([40, 41, 42])
    // A batch matches when one of its ops does; the third match is back in the first segment.
    expect(ndjson(islab(['tail', dir, '-n', '3', '--prefix', 'user:0']).stdout).map((l) => l.seq)).toEqual([9, 41, 42])
  })

  it('replay materializes a past state into a new directory and an export, never touching the source', async () => {
    const dir = await sample('binary', true)
    const before = fingerprint(dir)
    const out = path.join(tmpDir(), 'at-35')
    const file = path.join(tmpDir(), 'at-35.ndjson')
    const r = islab(['replay', dir, '--to', '35', '--out', out, '--export', file])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/state as of seq 35 .*35 keys, from checkpoint seq 30 \+ 5 events/)
    const lines = ndjson(fs.readFileSync(file, 'utf8'))
    expect(lines.map((l) => l.key)).toEqual(Array.from({ length: 35 }, (_, i) => `user:${String(i + 1).padStart(2, '0')}`))
    expect(lines[6]).toMatchObject({ key: 'user:07', seq: 7 })
    const db = await open({ dir: out })
    expect(db.seq).toBe(35)
    expect(db.get('user:07')).toEqual(VALUE)
    expect(db.getEntry('user:35')?.seq).toBe(35)
    await db.close()
    expect(fingerprint(dir)).toEqual(before)
    const past = islab(['replay', dir, '--to', '50', '--export', '-'])
    expect(past.code).toBe(1)
    expect(past.stderr).toMatch(/seq 50 is past the end of the log, which ends at seq 42/)
    expect(islab(['replay', dir, '--to', '3', '--out', out]).stderr).toMatch(/already exists and is not an empty directory/)
  })
})

describe('read-only commands on a database another process has open', () => {
  it('work without taking the lock or changing a file', async () => {
    const dir = await sample()
    const child = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/holdLock.mjs'), dir])
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('open') && resolve())
        child.on('exit', () => reject(new Error('lock holder exited')))
      })
      const before = fingerprint(dir)
      const stats = islab(['stats', dir])
      expect(stats.stdout).toContain(`process ${child.pid} has it open`)
      expect(stats.stdout).toMatch(/last seq\s+43/)
      const verify = islab(['verify', dir])
      expect(verify.code).toBe(0)
      expect(verify.stdout).toContain(`open in process ${child.pid}`)
      expect(ndjson(islab(['dump', dir, '--from', '43']).stdout)).toMatchObject([{ seq: 43, key: 'from-child', value: child.pid }])
      expect(islab(['get', dir, 'from-child']).stdout.trim()).toBe(String(child.pid))
      expect(islab(['tail', dir, '-n', '1']).code).toBe(0)
      expect(islab(['replay', dir, '--to', '40', '--export', path.join(tmpDir(), 'x.ndjson')]).code).toBe(0)
      expect(fingerprint(dir)).toEqual(before)
      for (const cmd of [['put', dir, 'k', '1'], ['repair', dir], ['compact', dir], ['checkpoint', dir], ['import', dir, '-']]) {
        const r = islab(cmd, { input: '' })
        expect(r.code, cmd[0]).toBe(1)
        expect(r.stderr).toContain(`is open in process ${child.pid}`)
        expect(r.stderr).toMatch(/Read-only commands .* work while it runs/)
      }
      expect(fingerprint(dir)).toEqual(before)
    } finally {
      child.kill()
    }
  })
})

describe('islab verify next to a writer that rotates and prunes', () => {
  it('never reports a healthy live database as damaged', async () => {
    const dir = tmpDir()
    const child = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/liveWriter.mjs'), dir])
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('open') && resolve())
        child.on('exit', () => reject(new Error('writer exited')))
      })
      for (let run = 0; run < 4; run++) {
        await new Promise((r) => setTimeout(r, 200))
        const verify = islab(['verify', dir])
        expect(verify.stdout + verify.stderr, `run ${run}`).not.toMatch(/DAMAGED/)
        expect(verify.code).toBe(0)
      }
    } finally {
      child.kill()
    }
  })
})
