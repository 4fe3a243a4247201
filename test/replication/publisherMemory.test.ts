// A publishing primary's memory does not grow with the events it has published. Found while
// benchmarking (bench/replication.js): the publisher raced each wait against one promise that
// lived as long as the pump, and every race left a reaction on it (~760 bytes per event, 76 MB
// per 100k events, never freed while the primary ran). Writes here overwrite 100 keys, so the
// state does not grow either; what is measured is the heap after a full GC.
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openReplicated } from '../../src/replication/index.js'
import type { ReplicatedDatabase } from '../../src/replication/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'

let nats: Nats
beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

async function settledHeap(): Promise<number> {
  gc()
  await new Promise((r) => setTimeout(r, 50))
  gc()
  return process.memoryUsage().heapUsed
}

async function publish(p: ReplicatedDatabase, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const ps: Promise<unknown>[] = []
    for (let j = i; j < i + 1000; j++) ps.push(p.put(`k${j % 100}`, { j }))
    await Promise.all(ps)
  }
  await p.replication.replicated(p.seq)
}

describe('publisher memory', () => {
  it('the heap of a primary does not grow with the number of events it published', async () => {
    const p = await openReplicated({ dir: tmpDir(), durability: 'buffered', replication: { servers: nats.url, stream: `MEM_${process.pid}`, role: 'primary', snapshots: false } })
    await publish(p, 10_000)
    const before = await settledHeap()
    await publish(p, 80_000)
    const grown = (await settledHeap()) - before
    expect(p.stats().replication).toMatchObject({ appliedSeq: 90_000, primarySeq: 90_000 })
    // With the leak: ~60 MB for these 80k events.
    expect(grown).toBeLessThan(16 * 1024 * 1024)
    await p.close()
  }, 120_000)

  // Found benchmarking the cost on the primary's puts (bench/replication.js --parts cost): the
  // publisher's live event stream made the write path hold every buffered write until its sync,
  // long enough to outlive the young GC generation: over 1M puts, ~2.5× the put path's GC time
  // and a 24% cost. It now reads the events back from the log (events({ fromLog: true })).
  it('the write path holds no buffered write for the publisher', async () => {
    const p = await openReplicated({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 60_000, replication: { servers: nats.url, stream: `HOLD_${process.pid}`, role: 'primary', snapshots: false } })
    // The publisher is live and its pump waits for the next event.
    await p.put('first', 0)
    await p.flush()
    await p.replication.replicated(p.seq)
    const ps: Promise<unknown>[] = []
    for (let j = 0; j < 2000; j++) ps.push(p.put(`k${j}`, { j }))
    await Promise.all(ps)
    // Internal: what the write path keeps for durable subscribers until the WAL's next sync.
    const feed = (p as unknown as { feed: { pending: unknown[] } }).feed
    expect(feed.pending.length).toBe(0)
    await p.flush()
    await p.replication.replicated(p.seq)
    expect(p.stats().replication).toMatchObject({ primarySeq: 2001 })
    await p.close()
  }, 60_000)
})
