import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { OverlayFileLayer } from '../../src/io/overlayFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { fileLayerSuite } from './fileLayerSuite.js'

fileLayerSuite('copy-on-write overlay', () => ({ files: new OverlayFileLayer(nodeFileLayer), dir: tmpDir() }))

describe('OverlayFileLayer', () => {
  it('reads the base, keeps every change to itself', async () => {
    const dir = tmpDir()
    fs.writeFileSync(path.join(dir, 'a'), 'base')
    fs.writeFileSync(path.join(dir, 'b'), 'bee')
    const o = new OverlayFileLayer(nodeFileLayer)
    o.truncate(path.join(dir, 'a'), 2)
    o.rename(path.join(dir, 'b'), path.join(dir, 'c'))
    const f = o.openAppend(path.join(dir, 'c'))
    await f.write(Buffer.from('!'))
    o.unlink(path.join(dir, 'a'))
    o.writeFileDurable(path.join(dir, 'a'), Buffer.from('new'))
    expect(o.list(dir).sort()).toEqual(['a', 'c'])
    expect(o.readFile(path.join(dir, 'c')).toString()).toBe('bee!')
    expect(o.readFile(path.join(dir, 'a')).toString()).toBe('new')
    expect(fs.readdirSync(dir).sort()).toEqual(['a', 'b'])
    expect(fs.readFileSync(path.join(dir, 'a'), 'utf8')).toBe('base')
  })
})

describe('OverlayFileLayer reads of base files', () => {
  it('reads an unchanged base file in ranges from the base, and a truncated one only up to its new length', async () => {
    const dir = tmpDir()
    const p = path.join(dir, 'seg')
    fs.writeFileSync(p, '0123456789')
    let wholeReads = 0
    const counting = { ...nodeFileLayer, readFile: (f: string) => (wholeReads++, nodeFileLayer.readFile(f)) }
    const o = new OverlayFileLayer(counting)
    expect(o.readRange(p, 2, 3).toString()).toBe('234')
    const t = Buffer.alloc(4, '.')
    expect(await o.readIntoAsync(p, 8, t, 0, 4)).toBe(2)
    o.truncate(p, 5)
    expect(o.size(p)).toBe(5)
    expect(o.readRange(p, 3, 10).toString()).toBe('34')
    expect(await o.readIntoAsync(p, 4, t, 0, 4)).toBe(1)
    expect(await o.readIntoAsync(p, 6, t, 0, 4)).toBe(0)
    expect(wholeReads).toBe(0)
    expect(o.readFile(p).toString()).toBe('01234')
    expect((await o.readFileAsync(p)).toString()).toBe('01234')
    expect(fs.readFileSync(p, 'utf8')).toBe('0123456789')
  })
})
