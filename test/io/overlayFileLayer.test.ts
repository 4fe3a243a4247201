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
