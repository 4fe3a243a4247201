import { describe, expect, it } from 'vitest'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { SimFileLayer } from '../helpers/simFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { fileLayerSuite } from './fileLayerSuite.js'

fileLayerSuite('node fs', () => ({ files: nodeFileLayer, dir: tmpDir() }))
fileLayerSuite('simulated', () => ({ files: new SimFileLayer(), dir: '/sim/contract' }))

describe('SimFileLayer crash model', () => {
  it('keeps synced data and durable names, and drops what was never synced', async () => {
    const sim = new SimFileLayer(Infinity, 7)
    sim.mkdirp('/d')
    const a = sim.openAppend('/d/a')
    await a.write(Buffer.from('durable'))
    await a.datasync()
    sim.syncDir('/d')
    const b = sim.openAppend('/d/b') // its name is never made durable
    await b.write(Buffer.from('x'))
    await b.datasync()
    const img = sim.crash()
    expect(img.list('/d')).toEqual(['a'])
    expect(img.readFile('/d/a').subarray(0, 7).toString()).toBe('durable')
    await expect(Promise.race([a.write(Buffer.from('late')), new Promise((r) => setTimeout(() => r('hung'), 20))])).resolves.toBe('hung')
  })
})
