// Entangle events (db.entangle / db.disentangle, WAL record type 4) through the real binary:
// printed by dump and tail, counted by stats, carried by import, replay and convert.
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ensureBuilt, islab, islabAsync, ndjson } from './cli.js'

beforeAll(() => ensureBuilt(), 120_000)

/** Puts, entanglements at two strengths, a disentangle and a batch: seqs 1–9. */
async function sample(walFormat: 'binary' | 'json' = 'binary'): Promise<string> {
  const dir = tmpDir('islab-cli-ent-')
  const db = await open({ dir, durability: 'sync', walFormat, checkpoint: false })
  for (const k of ['user:1', 'user:2', 'user:3', 'team:1']) await db.put(k, { k })
  await db.entangle('user:1', ['user:2', 'team:1'], { strength: 0.75 }) // 5
  await db.entangle('user:1', ['user:3'], { strength: 0.2 }) // 6
  await db.entangle('team:1', ['user:2', 'user:3'], { strength: 1 }) // 7
  await db.disentangle('team:1', ['user:3']) // 8
  await db.batch([{ type: 'put', key: 'user:4', value: 4 }]) // 9
  await db.close()
  return dir
}

/** Each key's entangled partners (that exist), strongest first, as the database reads them. */
async function entanglements(dir: string): Promise<Record<string, string[]>> {
  const db = await open({ dir, checkpoint: false })
  const out: Record<string, string[]> = {}
  for (const k of ['user:1', 'user:2', 'user:3', 'team:1']) out[k] = [...db.quantumGet(k).entangled.keys()]
  await db.close()
  return out
}

const EXPECTED = { 'user:1': ['team:1', 'user:2', 'user:3'], 'user:2': [], 'user:3': [], 'team:1': ['user:2'] }

/** The dump without what a new log numbers afresh. */
function events(dumpOut: string): unknown[] {
  return ndjson(dumpOut).map(({ seq: _s, time: _t, iso: _i, ...rest }) => rest)
}

describe('entangle events in the command line', () => {
  it('dump prints them as JSON lines and table rows, and selects them by key prefix', async () => {
    const dir = await sample()
    const out = islab(['dump', dir])
    expect(out.code).toBe(0)
    const lines = ndjson(out.stdout)
    expect(lines).toHaveLength(9)
    expect(lines[4]).toEqual({
      seq: 5,
      time: expect.any(Number),
      iso: new Date(lines[4]!.time as number).toISOString(),
      type: 'entangle',
      key: 'user:1',
      partners: ['user:2', 'team:1'],
      strength: 0.75,
    })
    expect(lines[7]).toMatchObject({ seq: 8, type: 'entangle', key: 'team:1', partners: ['user:3'], strength: 0 })
    expect(ndjson(islab(['dump', dir, '--prefix', 'team:']).stdout).map((l) => [l.seq, l.type])).toEqual([
      [4, 'put'],
      [7, 'entangle'],
      [8, 'entangle'],
    ])
    const table = islab(['dump', dir, '--from', '5', '--to', '6', '--format', 'table']).stdout.split('\n')
    expect(table[0]).toMatch(/^\s+SEQ\s+TIME\s+TYPE\s+KEY\s+VALUE$/)
    expect(table[1]).toMatch(/^\s+5\s+\S+Z\s+entangle\s+user:1\s+0\.75 → \["user:2","team:1"\]$/)
    expect(table[2]).toMatch(/^\s+6\s+\S+Z\s+entangle\s+user:1\s+0\.2 → \["user:3"\]$/)
  })

  it('tail prints the last ones and follows new ones', async () => {
    const dir = await sample()
    expect(ndjson(islab(['tail', dir, '-n', '3']).stdout).map((l) => [l.seq, l.type, l.strength])).toEqual([
      [7, 'entangle', 1],
      [8, 'entangle', 0],
      [9, 'batch', undefined],
    ])
    expect(islab(['tail', dir, '-n', '1', '--format', 'table', '--prefix', 'team:']).stdout).toMatch(/\n\s+8\s+\S+Z\s+entangle\s+team:1\s+0 → \["user:3"\]\n$/)
    const follow = islabAsync(['tail', dir, '-n', '1', '-f', '--interval', '20'])
    try {
      await follow.lines(1) // following from seq 10 on
      const db = await open({ dir, durability: 'sync', checkpoint: false })
      await db.entangle('user:2', ['user:3'], { strength: 0.5 })
      await db.close()
      const [, line] = await follow.lines(2)
      expect(JSON.parse(line!)).toMatchObject({ seq: 10, type: 'entangle', key: 'user:2', partners: ['user:3'], strength: 0.5 })
    } finally {
      follow.child.kill()
    }
  })

  it('stats counts the keys that have partners', async () => {
    const dir = await sample()
    expect(islab(['stats', dir]).stdout).toMatch(/\n {2}entangled\s+2 keys with partners \(4 links\)\n/)
    expect(JSON.parse(islab(['stats', dir, '--json']).stdout)).toMatchObject({ keys: 5, entangledKeys: 2, entanglementLinks: 4 })
    const plain = tmpDir('islab-cli-ent-')
    islab(['put', plain, 'a', '1'])
    expect(JSON.parse(islab(['stats', plain, '--json']).stdout)).toMatchObject({ entangledKeys: 0, entanglementLinks: 0 })
  })

  it('dump | import writes the same events, so the same entanglements', async () => {
    const dir = await sample()
    const copy = tmpDir('islab-cli-ent-')
    const dumped = islab(['dump', dir]).stdout
    const imported = islab(['import', copy, '-'], { input: dumped })
    expect(imported.code).toBe(0)
    expect(imported.stdout).toMatch(/^Imported 9 events \(4 puts, 0 deletes, 1 batch, 4 entangles\)/)
    expect(events(islab(['dump', copy]).stdout)).toEqual(events(dumped))
    expect(await entanglements(copy)).toEqual(EXPECTED)
    expect(await entanglements(dir)).toEqual(EXPECTED)
  })

  it('import refuses a bad entangle line, saying which and why', () => {
    const dir = tmpDir('islab-cli-ent-')
    const input = ['{"key":"a","value":1}', '{"type":"entangle","key":"a","partners":["b"],"strength":7}', ''].join('\n')
    const r = islab(['import', dir, '-'], { input })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/line 2: .*strength must be a number from 0\.1 to 1, not 7\. The lines before it were written \(seqs 1–1\)/)
    expect(islab(['import', dir, '-'], { input: '{"type":"entangle","key":"a","partners":"b","strength":1}\n' }).stderr).toMatch(
      /line 1: an entangle line needs a "partners" array/,
    )
  })

  it('replay --export and --out keep the entanglements as of the point', async () => {
    const dir = await sample()
    const exported = islab(['replay', dir, '--to', '8', '--export', '-'])
    expect(exported.code).toBe(0)
    expect(ndjson(exported.stdout).filter((l) => l.type === 'entangle')).toEqual([
      { type: 'entangle', key: 'team:1', partners: ['user:2'], strength: 1 },
      { type: 'entangle', key: 'user:1', partners: ['user:2', 'team:1'], strength: 0.75 },
      { type: 'entangle', key: 'user:1', partners: ['user:3'], strength: 0.2 },
    ])
    const copy = tmpDir('islab-cli-ent-')
    expect(islab(['import', copy, '-'], { input: exported.stdout }).code).toBe(0)
    expect(await entanglements(copy)).toEqual(EXPECTED)

    // As of seq 6, before team:1 had partners.
    const early = ndjson(islab(['replay', dir, '--to', '6', '--export', '-']).stdout).filter((l) => l.type === 'entangle')
    expect(early.map((l) => l.key)).toEqual(['user:1', 'user:1'])

    const out = path.join(tmpDir('islab-cli-ent-'), 'at8')
    expect(islab(['replay', dir, '--to', '8', '--out', out]).code).toBe(0)
    expect(await entanglements(out)).toEqual(EXPECTED)
    expect(JSON.parse(islab(['stats', out, '--json']).stdout)).toMatchObject({ entangledKeys: 2, entanglementLinks: 4 })
  })

  it('convert rewrites them in either entry format without changing them', async () => {
    const dir = await sample('binary')
    const before = islab(['dump', dir]).stdout
    expect(islab(['convert', dir, '--format', 'json']).code).toBe(0)
    expect(islab(['dump', dir]).stdout).toBe(before)
    expect(islab(['convert', dir, '--format', 'binary']).code).toBe(0)
    expect(islab(['dump', dir]).stdout).toBe(before)
    expect(islab(['verify', dir]).code).toBe(0)
    expect(await entanglements(dir)).toEqual(EXPECTED)
  })
})
