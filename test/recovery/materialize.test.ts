import { describe, expect, it } from 'vitest'
import { HistoryGoneError } from '../../src/errors.js'
import { open } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { materialize } from '../../src/recovery/materialize.js'
import { tmpDir } from '../helpers/tmpdir.js'

async function history(checkpointsAt = [10, 20]): Promise<{ dir: string; times: number[] }> {
  const dir = tmpDir()
  const db = await open({ dir, durability: 'sync', checkpoint: { keep: 2 }, segmentBytes: 512 })
  const times: number[] = []
  for (let i = 1; i <= 30; i++) {
    await db.put(`k${i % 7}`, i)
    times.push(db.getEntry(`k${i % 7}`)!.time)
    if (checkpointsAt.includes(i)) await db.checkpoint()
    if (i % 10 === 5) await new Promise((r) => setTimeout(r, 5))
  }
  await db.close()
  return { dir, times }
}

const asObject = (m: Awaited<ReturnType<typeof materialize>>) => {
  const o: Record<string, unknown> = {}
  m.state.forEachEntry((k, e) => (o[k] = e.value()))
  return o
}

describe('materialize', () => {
  it('rebuilds the state as of any retained seq from the nearest checkpoint, read-only', async () => {
    const { dir } = await history()
    for (const seq of [10, 15, 20, 25, 30]) {
      const m = await materialize(nodeFileLayer, dir, { toSeq: seq })
      expect(m.seq).toBe(seq)
      const want: Record<string, number> = {}
      for (let i = 1; i <= seq; i++) want[`k${i % 7}`] = i
      expect(asObject(m)).toEqual(want)
      expect(m.checkpoint?.seq).toBe(seq >= 20 ? 20 : 10)
    }
    expect((await materialize(nodeFileLayer, dir)).seq).toBe(30)
  })

  it('stops before the first event stamped later than a time', async () => {
    const { dir, times } = await history()
    const m = await materialize(nodeFileLayer, dir, { toTime: times[26]! })
    expect(m.stoppedAtTime || m.seq === 30).toBe(true)
    expect(times.slice(0, m.seq).every((t) => t <= times[26]!)).toBe(true)
    if (m.seq < 30) expect(times[m.seq]!).toBeGreaterThan(times[26]!)
  })

  it('says the history is gone before the oldest kept checkpoint', async () => {
    const { dir } = await history([10, 20, 28])
    await expect(materialize(nodeFileLayer, dir, { toSeq: 5 })).rejects.toThrow(HistoryGoneError)
    expect((await materialize(nodeFileLayer, dir, { toSeq: 20 })).seq).toBe(20)
  })
})
