// Defects found by properties/replicationSchedule.test.ts, each as a fixed example against a real
// nats-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openReplicated } from '../../src/replication/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'

let nats: Nats
let streams = 0
const newStream = () => `R${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

/** A replica caught up with a primary that wrote one event and closed; `opts` opens more of the stream. */
async function caughtUpReplica() {
  const stream = newStream()
  const opts = (role: 'primary' | 'replica', dir: string) => ({ dir, durability: 'buffered' as const, replication: { servers: nats.url, stream, role, snapshots: false as const } })
  const p = await openReplicated(opts('primary', tmpDir()))
  await p.put('a', 1)
  await p.flush()
  await p.replication.replicated(p.seq)
  const r = await openReplicated(opts('replica', tmpDir()))
  await r.waitForSeq(p.seq)
  await p.close()
  return { r, opts }
}

const turn = () => new Promise<void>((r) => setImmediate(r))

describe('replication regressions', () => {
  it("ack: 'replicated': a write whose seq the application also waits for with replicated(seq) still settles", async () => {
    const stream = newStream()
    const p = await openReplicated({ dir: tmpDir(), durability: 'buffered', replication: { servers: nats.url, stream, role: 'primary', ack: 'replicated', snapshots: false } })
    await p.put('a', 1)
    // NATS away: the next write waits for the stream, and so does the application, for the same seq.
    await nats.stop()
    let settled = false
    const w = p.put('b', 2).then((r) => ((settled = true), r))
    await p.flush()
    const seq = p.seq
    const asked = p.replication.replicated(seq)
    await nats.start()
    await asked
    await turn()
    // The write's own waiter was replaced by the second one and never settled (close() too waits for the last seq).
    expect(settled).toBe(true)
    expect(await w).toEqual({ seq })
    await p.close()
  })
})

describe('promote() that fails', () => {
  it('leaves the replica following the stream (its consumer was stopped for good)', async () => {
    const stream = newStream()
    const opts = (role: 'primary' | 'replica', dir: string) => ({ dir, durability: 'buffered' as const, replication: { servers: nats.url, stream, role, snapshots: false as const } })
    // No primary has created the stream yet: promote() refuses.
    const r = await openReplicated(opts('replica', tmpDir()))
    await expect(r.promote()).rejects.toMatchObject({ code: 'ISLAB_REPLICATION' })
    expect(r.replication.role).toBe('replica')
    await expect(r.put('x', 1)).rejects.toMatchObject({ code: 'ISLAB_READ_ONLY' })
    const p = await openReplicated(opts('primary', tmpDir()))
    await p.put('a', 1)
    await p.put('b', 2)
    const followed = await Promise.race([r.waitForSeq(p.seq).then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 15_000))])
    expect(followed).toBe(true)
    expect(r.get('b')).toBe(2)
    expect(r.stats().replication).toMatchObject({ role: 'replica', appliedSeq: p.seq, state: 'live' })
    await p.close()
    await r.close()
  })

  // Found by a new user's run: with nats-server stopped, promote() rejected with the client's
  // plain Error ('timeout'), no code, against the errors-are-values rule.
  it('with NATS away rejects with ISLAB_REPLICATION, and the replica promotes once NATS is back', async () => {
    const { r } = await caughtUpReplica()
    await nats.stop()
    try {
      await expect(r.promote()).rejects.toMatchObject({ code: 'ISLAB_REPLICATION', message: /NATS did not answer.*still a replica/ })
      expect(r.replication.role).toBe('replica')
    } finally {
      await nats.start()
    }
    await r.promote()
    expect(r.replication.role).toBe('primary')
    await r.put('b', 2)
    await r.close()
  }, 60_000)
})

// Found by review: REPLICAOF NO ONE (islab serve) lets any client promote, and `islab promote`
// may be run again while the first promotion still goes on; two promote() calls at once both
// stopped the same applier and both started a publisher (two writers of one database, two epochs).
describe('promote() called twice at once', () => {
  it('starts one publisher: the second call waits for the first and resolves with it', async () => {
    const { r } = await caughtUpReplica()
    const epochs: (string | undefined)[] = []
    r.replication.on('promoted', () => epochs.push(r.replication.epoch))
    const both = await Promise.allSettled([r.replication.promote(), r.replication.promote()])
    expect(both.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled'])
    expect(epochs.length).toBe(1)
    expect(r.replication.role).toBe('primary')
    await r.put('b', 2)
    await r.flush()
    await r.replication.replicated(r.seq)
    await r.close()
  }, 60_000)
})

// Found by review: close() (replication.stop()) while a promotion went on (islab serve stopped
// during REPLICAOF NO ONE) let the promotion finish after it, starting
// a publisher on a closed database (its reconcile retried against a closed link for ever).
describe('close() / stop() during promote()', () => {
  it('the promotion ends without starting a publisher', async () => {
    const { r, opts } = await caughtUpReplica()
    await r.close()
    // Close at each point of the promotion: after 0, 1, 2, ... turns of the event loop.
    for (let turns = 0; turns < 40; turns++) {
      const q = await openReplicated(opts('replica', tmpDir()))
      await q.waitForSeq(1)
      const promoted = q.replication.promote()
      for (let i = 0; i < turns; i++) await turn()
      await q.replication.stop()
      await promoted.catch(() => undefined)
      const role = q.replication.role
      const state = q.stats().replication?.state
      await q.close()
      expect({ turns, role, state }).toMatchObject({ turns, state: 'closed' })
      if (role === 'primary') expect.unreachable(`a publisher was started after stop(), at ${turns} turns`)
    }
  }, 120_000)
})
