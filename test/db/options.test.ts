import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { FileLayer, OpenOptions } from '../../src/index.js'
import { resolveOptions } from '../../src/db/options.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

describe('unknown option names', () => {
  it("rejects a misspelt option with ISLAB_INVALID_OPTION and a did-you-mean, instead of ignoring it", async () => {
    const dir = tmpDir()
    const typo = { dir, durabilty: 'sync' } as OpenOptions
    await expect(open(typo)).rejects.toMatchObject({
      code: 'ISLAB_INVALID_OPTION',
      message: expect.stringContaining("unknown option 'durabilty' (did you mean 'durability'?)"),
    })
    expect(fs.readdirSync(dir)).toEqual([]) // nothing was opened
  })

  it.each([
    [{ checkpoint: { intervalMS: 5 } }, "'checkpoint.intervalMS' (did you mean 'checkpoint.intervalMs'?)"],
    [{ history: { retainSegment: 2 } }, "'history.retainSegment' (did you mean 'history.retainSegments'?)"],
    [{ memory: { hotbytes: 1 } }, "'memory.hotbytes' (did you mean 'memory.hotBytes'?)"],
    [{ physics: { halfLife: 1 } }, "'physics.halfLife' (did you mean 'physics.halfLifeMs'?)"],
    [{ physics: { wormholes: { formAT: 0.5 } } }, "'physics.wormholes.formAT' (did you mean 'physics.wormholes.formAt'?)"],
    [{ physics: { demon: { hihg: 0.9 } } }, "'physics.demon.hihg' (did you mean 'physics.demon.high'?)"],
    [{ entanglement: [{ from: 'a:*', to: 'b:*', strenght: 0.5 }] }, "'entanglement[0].strenght' (did you mean 'entanglement[0].strength'?)"],
    [{ syncIntervalMS: 10 }, "'syncIntervalMS' (did you mean 'syncIntervalMs'?)"],
    [{ createIfMisssing: false }, "'createIfMisssing' (did you mean 'createIfMissing'?)"],
  ])('rejects %j, naming the nested option', (o, text) => {
    expect(() => resolveOptions(o as OpenOptions)).toThrow(
      expect.objectContaining({ code: 'ISLAB_INVALID_OPTION', message: expect.stringContaining(`unknown option ${text}`) }),
    )
  })

  it('suggests nothing for a name far from every option, and lists the options', () => {
    let err: unknown
    try {
      resolveOptions({ colour: 'blue' } as OpenOptions)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    expect((err as Error).message).not.toContain('did you mean')
    expect((err as Error).message).toContain('durability, syncIntervalMs')
  })

  it('accepts the resolved options of an open database back (open(db.options)), keeping checkpoint.auto', async () => {
    const db = await open({ dir: tmpDir(), checkpoint: false, physics: { halfLifeMs: 5000 } })
    await db.put('a', 1)
    await db.close()
    const again = await open(db.options)
    expect(again.options.checkpoint.auto).toBe(false)
    expect(again.options.physics).toMatchObject({ halfLifeMs: 5000 })
    expect(again.get('a')).toBe(1)
    await again.close()
  })

  it('checks createIfMissing and errorIfExists are booleans', () => {
    expect(() => resolveOptions({ createIfMissing: 'no' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ISLAB_INVALID_OPTION' }))
    expect(() => resolveOptions({ errorIfExists: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ISLAB_INVALID_OPTION' }))
    expect(resolveOptions({})).toMatchObject({ createIfMissing: true, errorIfExists: false })
  })
})

describe('the database directory', () => {
  it('rejects a regular file as dir with ISLAB_INVALID_OPTION saying to give a directory', async () => {
    const file = path.join(tmpDir(), 'not-a-dir')
    fs.writeFileSync(file, 'x')
    await expect(open({ dir: file })).rejects.toMatchObject({
      code: 'ISLAB_INVALID_OPTION',
      message: expect.stringContaining('give the path of a directory'),
    })
    // A file where a parent directory should be.
    await expect(open({ dir: path.join(file, 'db') })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    expect(fs.readFileSync(file, 'utf8')).toBe('x')
  })

  /** Node's fs, except that creating files or directories fails as in a directory we may not write. */
  const denied = (code: string, op: 'createExclusive' | 'mkdirp'): FileLayer => ({
    ...nodeFileLayer,
    [op]: () => {
      throw Object.assign(new Error(`${code}: permission denied`), { code })
    },
  })

  it.each([
    ['EACCES', 'createExclusive'],
    ['EPERM', 'createExclusive'],
    ['EROFS', 'createExclusive'],
    ['EACCES', 'mkdirp'],
  ] as const)('rejects an unwritable dir (%s from %s) with ISLAB_NOT_WRITABLE, keeping the cause', async (code, op) => {
    const dir = path.join(tmpDir(), 'db')
    const err = await open({ dir, fileLayer: denied(code, op) }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_NOT_WRITABLE', dir, message: expect.stringContaining('write permission') })
    expect((err as Error).cause).toMatchObject({ code })
  })

  it('createIfMissing: false rejects ISLAB_NOT_FOUND for a missing or empty dir, creating nothing', async () => {
    const base = tmpDir()
    const dir = path.join(base, 'db')
    await expect(open({ dir, createIfMissing: false })).rejects.toMatchObject({ code: 'ISLAB_NOT_FOUND', dir })
    expect(fs.existsSync(dir)).toBe(false)
    fs.mkdirSync(dir)
    await expect(open({ dir, createIfMissing: false })).rejects.toMatchObject({ code: 'ISLAB_NOT_FOUND' })
    expect(fs.readdirSync(dir)).toEqual([])
    const db = await open({ dir })
    await db.put('a', 1)
    await db.close()
    const again = await open({ dir, createIfMissing: false })
    expect(again.get('a')).toBe(1)
    await again.close()
  })

  it('errorIfExists: true rejects ISLAB_EXISTS for a dir holding a database, and leaves it unlocked', async () => {
    const dir = tmpDir()
    const db = await open({ dir, errorIfExists: true }) // empty: created
    await db.put('a', 1)
    await db.close()
    await expect(open({ dir, errorIfExists: true })).rejects.toMatchObject({ code: 'ISLAB_EXISTS', dir })
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
    const again = await open({ dir })
    expect(again.get('a')).toBe(1)
    await again.close()
  })
})

describe('process hook', () => {
  it('adds one beforeExit listener for all open databases, and removes it when the last closes', async () => {
    const before = process.listenerCount('beforeExit')
    const warnings: Error[] = []
    const onWarning = (w: Error): void => void warnings.push(w)
    process.on('warning', onWarning)
    try {
      const dbs = await Promise.all(Array.from({ length: 11 }, () => open({ dir: tmpDir(), physics: false })))
      expect(process.listenerCount('beforeExit')).toBe(before + 1)
      await Promise.all(dbs.map((db) => db.close()))
      expect(process.listenerCount('beforeExit')).toBe(before)
      await new Promise((r) => setImmediate(r))
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('writes every open buffered database\'s pending writes when the event loop drains', async () => {
    const dbs = await Promise.all([0, 1].map(() => open({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 3_600_000, physics: false })))
    for (const db of dbs) await db.put('k', 1)
    expect(dbs.map((db) => db.stats().durableSeq)).toEqual([0, 0])
    process.emit('beforeExit', 0)
    for (let i = 0; i < 200 && dbs.some((db) => db.stats().durableSeq < 1); i++) await new Promise((r) => setTimeout(r, 5))
    expect(dbs.map((db) => db.stats().durableSeq)).toEqual([1, 1])
    await Promise.all(dbs.map((db) => db.close()))
  })
})

describe('method options (new-user review of issue 15)', () => {
  it('rejects a misspelt option of every method, with a did-you-mean, and writes nothing', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync', physics: false, checkpoint: false })
    await db.put('a', 1)
    const reject = async (p: Promise<unknown> | (() => unknown), near: string) => {
      const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
      expect((err as Error).message).toContain(`did you mean '${near}'?`)
    }
    // A skipped ifSeq would skip the concurrency check it asked for.
    await reject(db.put('a', 2, { ifseq: 99 } as never), 'ifSeq')
    await reject(db.delete('a', { ifSq: 1 } as never), 'ifSeq')
    await reject(db.batch([{ type: 'put', key: 'a', value: 3, ifseq: 1 } as never]), 'ifSeq')
    await reject(() => db.range({ prefx: 'zz' } as never), 'prefix')
    await reject(() => db.history('a', { revers: true } as never), 'reverse')
    await reject(() => db.changes({ sinc: 0 } as never), 'since')
    await reject(db.getAt('a', { seq: 1, tme: 5 } as never), 'time')
    await reject(db.getAt('a', { sq: 1 } as never), 'seq')
    await expect(db.getAt('a', { sequence: 1 } as never)).rejects.toMatchObject({ message: expect.stringMatching(/unknown option 'sequence'.*its options are seq, time/) })
    expect(db.seq).toBe(1)
    expect(db.get('a')).toBe(1)
    await db.close()
  })

  it('rejects getAt of a seq after db.seq, as changes() does a since past it', async () => {
    const db = await open({ dir: tmpDir(), physics: false, checkpoint: false })
    await db.put('a', 1)
    await expect(db.getAt('a', { seq: 5 })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION', message: expect.stringMatching(/after the current seq 1/) })
    await expect(db.getAt('a', { seq: 1 })).resolves.toBe(1)
    await db.close()
  })

  it('quotes a string where a number was expected', () => {
    expect(() => resolveOptions({ syncIntervalMs: '100' as never })).toThrow(/not "100" \(a string\)/)
  })

  it("shows a string given for a number as the string it is (ifSeq: '3' is not reported as 3)", async () => {
    const db = await open({ durability: 'memory', physics: false })
    const asGiven = { code: 'ISLAB_INVALID_OPTION', message: expect.stringMatching(/not "3" \(a string\)/) }
    await expect(db.put('k', 1, { ifSeq: '3' as never })).rejects.toMatchObject(asGiven)
    await expect(db.delete('k', { ifSeq: '3' as never })).rejects.toMatchObject(asGiven)
    await expect(db.batch([{ type: 'put', key: 'k', value: 1, ifSeq: '3' as never }])).rejects.toMatchObject(asGiven)
    await expect(db.entangle('k', ['j'], { strength: '3' as never })).rejects.toMatchObject(asGiven)
    await db.close()
    // Physics options were shown with String(v), which prints '3' as 3.
    expect(() => resolveOptions({ maxEntangled: '3' as never })).toThrow(/not "3" \(a string\)/)
    expect(() => resolveOptions({ physics: { tickMs: '3' as never } })).toThrow(/not "3" \(a string\)/)
    expect(() => resolveOptions({ entanglement: [{ from: 'a:*', to: 'b:*', strength: '3' as never }] })).toThrow(/not "3" \(a string\)/)
    expect(db.seq).toBe(0)
  })

  it('counts a database opened once and never written to as existing (createIfMissing: false)', async () => {
    const dir = tmpDir()
    await (await open({ dir })).close()
    const again = await open({ dir, createIfMissing: false })
    await again.close()
    await expect(open({ dir, errorIfExists: true })).rejects.toMatchObject({ code: 'ISLAB_EXISTS' })
  })
})
