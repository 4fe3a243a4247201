import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Change } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { lab } from './helpers.js'

describe('quantum entanglement', () => {
  it('quantumGet returns the key and its partners that exist, strongest first', async () => {
    const db = await open({ durability: 'memory' })
    await db.batch([
      { type: 'put', key: 'user:1', value: { name: 'ada' } },
      { type: 'put', key: 'profile:1', value: { bio: 'math' } },
      { type: 'put', key: 'settings:1', value: { theme: 'dark' } },
    ])
    const { seq } = await db.entangle('user:1', ['settings:1', 'ghost:1'], { strength: 0.3 })
    expect(seq).toBe(2)
    await db.entangle('user:1', ['profile:1'], { strength: 0.9 })
    const q = db.quantumGet('user:1')
    expect(q.value).toEqual({ name: 'ada' })
    expect(Array.from(q.entangled)).toEqual([
      ['profile:1', { bio: 'math' }],
      ['settings:1', { theme: 'dark' }],
    ])
    expect(db.metrics().entanglement).toEqual({ keys: 1, links: 3, rules: 0 })
    // Entanglement is one-way: from the key to its partners.
    expect(db.quantumGet('profile:1').entangled.size).toBe(0)
    await db.close()
  })

  it('pattern rules link keys by what * matched, merged with explicit links', async () => {
    const db = await open({
      durability: 'memory',
      entanglement: [
        { from: 'user:*', to: ['profile:*', 'settings:*'], strength: 0.8 },
        { from: 'user:*', to: 'config:global' },
      ],
      maxEntangled: 2,
    })
    for (const k of ['user:7', 'profile:7', 'settings:7', 'config:global', 'x']) await db.put(k, k)
    await db.entangle('user:7', ['x'], { strength: 1 })
    const q = db.quantumGet('user:7')
    expect(Array.from(q.entangled.keys())).toEqual(['x', 'profile:7']) // 1, 0.8, (0.8 settings:7), (0.5 config) cut at 2
    expect(db.quantumGet('user:nobody').value).toBeUndefined()
    expect(db.quantumGet('user:nobody').entangled.get('config:global')).toBe('config:global')
    await db.close()
  })

  it('checks its arguments before anything is logged', async () => {
    const db = await open({ durability: 'memory' })
    await expect(db.entangle('a', [])).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(db.entangle('a', ['a'])).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(db.entangle('a', ['b'], { strength: 0.05 })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(db.entangle('a', ['b'], { strength: 2 })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(db.entangle('a', Array.from({ length: 11 }, (_, i) => `p${i}`))).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(db.entangle('', ['b'])).rejects.toMatchObject({ code: 'ISLAB_INVALID_KEY' })
    expect(db.seq).toBe(0)
    await expect(open({ durability: 'memory', entanglement: [{ from: 'user:', to: 'p:*' }] })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(open({ durability: 'memory', maxEntangled: 11 })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await db.close()
  })

  it('a key keeps its 10 strongest partners; disentangle removes links', async () => {
    const db = await open({ durability: 'memory' })
    for (let i = 0; i < 12; i++) await db.put(`p${String(i).padStart(2, '0')}`, i)
    await db.entangle('k', Array.from({ length: 8 }, (_, i) => `p${String(i).padStart(2, '0')}`), { strength: 0.2 })
    await db.entangle('k', ['p08', 'p09', 'p10', 'p11'], { strength: 0.7 })
    const q = db.quantumGet('k')
    expect(q.entangled.size).toBe(10)
    expect(Array.from(q.entangled.keys()).slice(0, 4)).toEqual(['p08', 'p09', 'p10', 'p11'])
    expect(q.entangled.has('p06')).toBe(false) // the two weakest, largest keys went
    await db.disentangle('k', ['p08'])
    expect(db.quantumGet('k').entangled.has('p08')).toBe(false)
    await db.disentangle('k')
    expect(db.quantumGet('k').entangled.size).toBe(0)
    expect(db.metrics().entanglement.keys).toBe(0)
    await db.close()
  })

  it.each(['binary', 'json'] as const)('entanglements are logged (%s WAL): they replay after a restart', async (walFormat) => {
    const dir = tmpDir()
    let db = await open({ dir, walFormat })
    await db.put('a', 1)
    await db.put('b', 2)
    await db.entangle('a', ['b'], { strength: 0.4 })
    await db.close()
    if (walFormat === 'json') {
      const text = fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).map((f) => fs.readFileSync(`${dir}/${f}`, 'utf8')).join('')
      expect(text).toContain('"type":"entangle","key":"a","partners":["b"],"strength":0.4')
    }
    db = await open({ dir })
    expect(db.seq).toBe(3)
    expect(Array.from(db.quantumGet('a').entangled)).toEqual([['b', 2]])
    await db.close()
  })

  it('entanglements live in checkpoints, so they survive the WAL being pruned', async () => {
    const dir = tmpDir()
    let db = await open({ dir, segmentBytes: 4096, checkpoint: { keep: 1 } })
    await db.put('b', 2)
    await db.entangle('a', ['b'])
    for (let i = 0; i < 300; i++) await db.put(`fill${i}`, 'x'.repeat(50))
    const cp = await db.checkpoint()
    expect(cp!.segmentsDeleted.length).toBeGreaterThan(0)
    await db.entangle('a', ['fill1'], { strength: 1 })
    await db.close()
    db = await open({ dir })
    expect(db.stats().recovery!.checkpointSeq).toBe(302)
    expect(Array.from(db.quantumGet('a').entangled.keys())).toEqual(['fill1', 'b'])
    await db.close()
  })

  it('change streams and history do not report entangle events', async () => {
    const dir = tmpDir()
    const db = await open({ dir })
    const seen: Change[] = []
    const sub = db.changes({ since: 0, durableOnly: false }).subscribe((c) => seen.push(c))
    await db.put('a', 1)
    await db.entangle('a', ['b'])
    await db.put('b', 2)
    await new Promise((r) => setTimeout(r, 100))
    sub.unsubscribe()
    expect(seen.map((c) => [c.seq, c.key])).toEqual([
      [1, 'a'],
      [3, 'b'],
    ])
    const versions = []
    for await (const v of db.history('a')) versions.push(v.seq)
    expect(versions).toEqual([1])
    await db.close()
  })

  it('with physics, reading a key gives its partners mass (pulls them toward the hot tier)', async () => {
    const { db } = await lab({ entanglement: [{ from: 'user:*', to: 'profile:*', strength: 0.5 }] })
    await db.put('user:1', 1)
    await db.put('profile:1', 2)
    await db.entangle('user:1', ['extra'], { strength: 1 })
    await db.put('extra', 3)
    for (let i = 0; i < 4; i++) db.get('user:1')
    expect(db.physics.mass('profile:1')).toBeCloseTo(2, 5)
    expect(db.physics.mass('extra')).toBeCloseTo(4, 5)
    await db.close()
  })
})
