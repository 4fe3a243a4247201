// Finding 10 of issue 15: open() replayed the whole log in one synchronous stretch, so no timer
// ran and no progress bar repainted until it was over. Replay now yields a turn of the event loop
// every time slice; the slice is made tiny here so the turns show on a small log.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { setSliceMs } from '../../src/io/timeSlice.js'
import { SimFileLayer } from '../helpers/simFileLayer.js'

const EVENTS = 20_000

let slice = 0
beforeEach(() => {
  slice = setSliceMs(0)
})
afterEach(() => {
  setSliceMs(slice)
})

describe.each(['binary', 'json'] as const)('open() of a long log (%s)', (walFormat) => {
  it('lets the event loop turn and reports progress between slices of the replay', async () => {
    // The simulated file layer reads without I/O callbacks: every turn seen comes from the replay yielding.
    const files = new SimFileLayer()
    const dir = '/db'
    let db = await open({ dir, fileLayer: files, walFormat, checkpoint: false, physics: false })
    for (let i = 0; i < EVENTS; i++) void db.put(`k${i % 5000}`, i)
    await db.close()

    const seen: string[] = []
    let ticking = true
    const tick = (): void => {
      seen.push('tick')
      if (ticking) setImmediate(tick)
    }
    setImmediate(tick)
    db = await open({ dir, fileLayer: files, walFormat, checkpoint: false, physics: false, onProgress: (p) => seen.push(`${p.phase} ${p.items}`) })
    ticking = false
    expect(db.seq).toBe(EVENTS)
    expect(db.get('k4999')).toBe(EVENTS - 1)
    expect(seen.filter((s) => s === 'tick').length).toBeGreaterThan(3)
    // Progress part way through the replay, followed by a turn: where a progress bar repaints.
    const midway = seen.findIndex((s, i) => {
      const done = s.startsWith('wal ') ? Number(s.slice(4)) : 0
      return done > 0 && done < EVENTS && seen.indexOf('tick', i) > i
    })
    expect(midway).toBeGreaterThanOrEqual(0)
    await db.close()
  })
})

describe('open() of a large checkpoint', () => {
  it('lets the event loop turn between chunks of the checkpoint it loads', async () => {
    const files = new SimFileLayer()
    const dir = '/db'
    const KEYS = 20_000 // 5 chunks of 4096 entries
    let db = await open({ dir, fileLayer: files, checkpoint: false, physics: false })
    for (let i = 0; i < KEYS; i++) void db.put(`k${i}`, i)
    await db.checkpoint()
    await db.close()

    const seen: string[] = []
    let ticking = true
    const tick = (): void => {
      seen.push('tick')
      if (ticking) setImmediate(tick)
    }
    setImmediate(tick)
    db = await open({ dir, fileLayer: files, checkpoint: false, physics: false, onProgress: (p) => seen.push(`${p.phase} ${p.items}`) })
    ticking = false
    expect(db.stats().recovery!.checkpointKeys).toBe(KEYS)
    expect(db.get('k19999')).toBe(19_999)
    // A turn between two chunks of the checkpoint: progress part way, then a tick before the next chunk.
    const midway = seen.findIndex((s, i) => {
      const done = s.startsWith('checkpoint ') ? Number(s.slice(11)) : 0
      return done > 0 && done < KEYS && seen.indexOf('tick', i) > i && seen.indexOf('tick', i) < seen.indexOf(`checkpoint ${done + 4096}`, i)
    })
    expect(midway).toBeGreaterThanOrEqual(0)
    await db.close()
  })
})
