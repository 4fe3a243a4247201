// The fault matrix of issue 19, with real processes and a real nats-server: each fault strikes
// while a primary process writes, and after each the stream is one linear history (stream seq n
// = event n, no gap, no duplicate), every replica equals the primary, and no acknowledged write
// is lost (every one, in ack: 'replicated' mode, even across the primary's disk loss).
import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmpdir.js'
import { collect, expectConverged, startFaultNats, startNode } from './faultHarness.js'
import type { Acked, FaultNats, Node, NodeConfig } from './faultHarness.js'

let nats: FaultNats
let streams = 0
const newStream = () => `F${++streams}_${process.pid}`
const running = new Set<Node>()

beforeAll(async () => {
  nats = await startFaultNats()
})
afterAll(async () => {
  for (const n of running) n.proc.kill('SIGKILL')
  await nats?.destroy()
})

async function node(c: Omit<NodeConfig, 'servers'>) {
  const r = await startNode({ servers: nats.url, ...c })
  running.add(r.node)
  void r.node.exited.then(() => running.delete(r.node))
  return r
}

/** Waits until `n` acknowledged `count` more writes than now. */
const moreAcks = (n: Node, count: number) => {
  const target = n.acked.size + count
  return n.until(`${target} acknowledged writes`, () => n.acked.size >= target)
}

/** Waits until the primary holds at least `lag` durable events the stream does not (they must come from its WAL later). */
const backlog = (n: Node, lag: number) => n.until(`a publish backlog of ${lag}`, () => n.status.durable - n.status.replicated >= lag)

async function replicaCaughtUp(r: Node, seq: number): Promise<void> {
  r.send(`wait ${seq}`)
  await r.expectLine('at', 30_000)
}

describe('replication faults while a primary process writes', () => {
  it('kill -9 of the primary mid-publish, restarted: it publishes what its WAL holds beyond the stream, the replica converges', async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const rDir = tmpDir()
    const { node: p1 } = await node({ dir: pDir, role: 'primary', stream, tag: 'p1', window: 4 })
    const { node: r } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    p1.send('write')
    await moreAcks(p1, 500)
    await backlog(p1, 50)
    const atKill = { ...p1.status }
    await p1.kill9()
    const { node: p2, seq: restartedAt } = await node({ dir: pDir, role: 'primary', stream, tag: 'p2', window: 4 })
    // Every event durable at the kill survived it, and the stream had not got them all.
    expect(restartedAt).toBeGreaterThanOrEqual(atKill.durable)
    expect(atKill.replicated).toBeLessThan(restartedAt)
    p2.send('write')
    await moreAcks(p2, 300)
    await p2.until('its WAL backlog published', () => p2.status.replicated > restartedAt)
    const end = await p2.stop()
    await replicaCaughtUp(r, end)
    await r.stop()
    // Buffered mode: writes acknowledged after the last sync before the kill are lost locally and
    // were never published (only durable events are); every one up to the restart seq is kept.
    const must: Acked = new Map()
    collect(must, p1, restartedAt)
    collect(must, p2)
    await expectConverged(nats.url, stream, pDir, [rDir], must)
  })

  it("ack: 'replicated': kill -9 mid-publish loses no acknowledged write, nor does losing the primary's disk after a second kill", async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const { node: p1 } = await node({ dir: pDir, role: 'primary', stream, tag: 'p1', ack: 'replicated', window: 8 })
    p1.send('write')
    await moreAcks(p1, 400)
    await p1.kill9()
    const { node: p2, seq: restartedAt } = await node({ dir: pDir, role: 'primary', stream, tag: 'p2', ack: 'replicated', window: 8 })
    // Acknowledged means in the stream, so durable on the primary: none is past its restart seq.
    expect(Math.max(...p1.acked.keys())).toBeLessThanOrEqual(restartedAt)
    p2.send('write')
    await moreAcks(p2, 400)
    await p2.kill9()
    const must: Acked = new Map()
    collect(must, p1)
    collect(must, p2)
    // The disk is gone: a fresh directory restores from the stream as a replica and is promoted.
    fs.rmSync(pDir, { recursive: true, force: true })
    const nDir = tmpDir()
    const { node: n } = await node({ dir: nDir, role: 'replica', stream, tag: 'n', ack: 'replicated' })
    await replicaCaughtUp(n, Math.max(...must.keys()))
    n.send('promote')
    const [promotedAt] = await n.expectLine('promoted')
    expect(Number(promotedAt)).toBeGreaterThanOrEqual(Math.max(...must.keys()))
    n.send('write')
    await moreAcks(n, 200)
    await n.stop()
    collect(must, n)
    await expectConverged(nats.url, stream, nDir, [], must)
  })

  it('kill -9 of the primary with a publish backlog, a replica promoted meanwhile: the restarted old primary is fenced and reports exactly its unpublished seqs', async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const rDir = tmpDir()
    const { node: p1 } = await node({ dir: pDir, role: 'primary', stream, tag: 'p1', window: 4 })
    const { node: r } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    p1.send('write')
    await moreAcks(p1, 500)
    await backlog(p1, 50)
    // NATS paused before the kill, so the backlog seen is still unpublished when the primary dies
    // (the publisher drains 50 events in a few ms: killing it right after seeing them raced it).
    nats.signal('SIGSTOP')
    try {
      await p1.kill9()
    } finally {
      nats.signal('SIGCONT')
    }
    r.send('promote')
    const shared = Number((await r.expectLine('promoted'))[0])
    r.send('write')
    await moreAcks(r, 200)
    const { node: old, seq: oldSeq } = await node({ dir: pDir, role: 'primary', stream, tag: 'old' })
    await old.until('fenced', () => old.fenced !== undefined)
    // Acknowledged by the old primary, on its disk, never in the stream: shared + 1 .. its seq.
    expect(oldSeq).toBeGreaterThan(shared)
    expect(old.fenced).toEqual({ from: shared + 1, to: oldSeq })
    await old.stop()
    await r.stop()
    const must: Acked = new Map()
    collect(must, p1, shared)
    collect(must, r)
    await expectConverged(nats.url, stream, rDir, [], must)
  })

  it('a replica killed with -9 and restarted resumes from its own disk, not the stream start, and converges', async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const rDir = tmpDir()
    const { node: p } = await node({ dir: pDir, role: 'primary', stream, tag: 'p' })
    const { node: r1 } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    p.send('write')
    await moreAcks(p, 300)
    await r1.until('applied some durably', () => r1.status.durable > 200)
    const durableAtKill = r1.status.durable
    await r1.kill9()
    await moreAcks(p, 500)
    const { node: r2, seq: resumedAt, restoredFrom } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    // From its own WAL: everything it had made durable, not seq 0 (nor a snapshot).
    expect(resumedAt).toBeGreaterThanOrEqual(durableAtKill)
    expect(restoredFrom).toBe(0)
    await moreAcks(p, 300)
    const end = await p.stop()
    await replicaCaughtUp(r2, end)
    await r2.stop()
    const must: Acked = new Map()
    collect(must, p)
    await expectConverged(nats.url, stream, pDir, [rDir], must)
  })

  it('nats-server stopped and restarted (same store, same port) while the primary writes', async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const rDir = tmpDir()
    const { node: p } = await node({ dir: pDir, role: 'primary', stream, tag: 'p' })
    const { node: r } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    p.send('write')
    await moreAcks(p, 300)
    await nats.stop()
    await moreAcks(p, 500)
    await nats.start()
    await moreAcks(p, 300)
    const end = await p.stop()
    await replicaCaughtUp(r, end)
    await r.stop()
    const must: Acked = new Map()
    collect(must, p)
    await expectConverged(nats.url, stream, pDir, [rDir], must)
  })

  it('nats-server paused (SIGSTOP) past the ack timeout and resumed (SIGCONT) while the primary writes', async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const rDir = tmpDir()
    const { node: p } = await node({ dir: pDir, role: 'primary', stream, tag: 'p', ackTimeoutMs: 1000 })
    const { node: r } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    p.send('write')
    await moreAcks(p, 300)
    nats.signal('SIGSTOP')
    try {
      // Writes go on locally; the publishes in flight time out and are retried after the pause.
      await moreAcks(p, 500)
      await new Promise((res) => setTimeout(res, 2500))
    } finally {
      nats.signal('SIGCONT')
    }
    await moreAcks(p, 300)
    const end = await p.stop()
    await replicaCaughtUp(r, end)
    await r.stop()
    const must: Acked = new Map()
    collect(must, p)
    await expectConverged(nats.url, stream, pDir, [rDir], must)
  })

  it('the stream trimmed below a stopped replica (snapshot shipped meanwhile): restarted, it restores from the snapshot and converges', async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const rDir = tmpDir()
    const { node: p } = await node({ dir: pDir, role: 'primary', stream, tag: 'p' })
    const { node: r1 } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    p.send('write')
    await moreAcks(p, 300)
    await r1.until('applied some', () => r1.status.seq > 100)
    await r1.kill9()
    await moreAcks(p, 500)
    p.send('snapshot')
    const snapSeq = Number((await p.expectLine('snap', 30_000))[0])
    await moreAcks(p, 300)
    const { node: r2, restoredFrom } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    expect(restoredFrom).toBe(snapSeq)
    await moreAcks(p, 200)
    const end = await p.stop()
    await replicaCaughtUp(r2, end)
    await r2.stop()
    const must: Acked = new Map()
    collect(must, p)
    await expectConverged(nats.url, stream, pDir, [rDir], must)
  })

  it('the stream trimmed below a running replica that lags (SIGSTOP): resumed, it restores from the snapshot in place and converges', async () => {
    const stream = newStream()
    const pDir = tmpDir()
    const rDir = tmpDir()
    const { node: p } = await node({ dir: pDir, role: 'primary', stream, tag: 'p' })
    const { node: r } = await node({ dir: rDir, role: 'replica', stream, tag: 'r' })
    p.send('write')
    await moreAcks(p, 300)
    await r.until('applied some', () => r.status.seq > 100)
    r.proc.kill('SIGSTOP')
    // More than the replica's pull (1024 messages, which may sit in its socket while it is stopped).
    await moreAcks(p, 4000)
    p.send('snapshot')
    const snapSeq = Number((await p.expectLine('snap', 30_000))[0])
    await moreAcks(p, 300)
    r.proc.kill('SIGCONT')
    // The same process, not reopened: it finds the gap and goes on from the snapshot.
    expect(Number((await r.expectLine('restored', 30_000))[0])).toBe(snapSeq)
    await moreAcks(p, 200)
    const end = await p.stop()
    await replicaCaughtUp(r, end)
    await r.stop()
    const must: Acked = new Map()
    collect(must, p)
    await expectConverged(nats.url, stream, pDir, [rDir], must)
  })
})
