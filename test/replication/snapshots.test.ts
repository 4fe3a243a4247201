// Snapshots through a JetStream Object Store (a real nats-server): the primary ships its
// checkpoints once the stream holds them and trims the stream below them; a replica behind the
// stream's first message, or a new one, starts from the newest snapshot and converges. And a
// replica never writes events of its own: deadlines expire on it by the primary's expiry events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { vi } from 'vitest'
import { openReplicated } from '../../src/replication/index.js'
import type { ReplicatedDatabase } from '../../src/replication/index.js'
import { encodeEvent } from '../../src/index.js'
import type { Database } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'
import { logRecords, stateOf, streamMessages, writeMix } from './helpers.js'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

let nats: Nats
let streams = 0
const newStream = () => `S${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

function primary(dir: string, stream: string, extra: Record<string, unknown> = {}, core: Record<string, unknown> = {}): Promise<ReplicatedDatabase> {
  return openReplicated({
    dir,
    durability: 'buffered',
    checkpoint: { auto: false },
    ...core,
    replication: { servers: nats.url, stream, role: 'primary', snapshots: { keepEvents: 0 }, ...extra },
  })
}
function replica(dir: string, stream: string, core: Record<string, unknown> = {}): Promise<ReplicatedDatabase> {
  return openReplicated({ dir, durability: 'buffered', ...core, replication: { servers: nats.url, stream, role: 'replica' } })
}

async function streamState(stream: string): Promise<{ firstSeq: number; lastSeq: number }> {
  const nc = await connect({ servers: nats.url })
  try {
    const s = (await (await jetstreamManager(nc)).streams.info(stream)).state
    return { firstSeq: s.first_seq, lastSeq: s.last_seq }
  } finally {
    await nc.close()
  }
}

/** A checkpoint on the primary, waited for until it is in the bucket. */
async function checkpointShipped(p: ReplicatedDatabase): Promise<number> {
  const info = await p.checkpoint()
  await vi.waitFor(() => expect(p.replication.snapshots.shippedSeq).toBe(info!.seq), { timeout: 15_000, interval: 20 })
  return info!.seq
}

/** The log's records after `seq` (a restored replica's log starts there). */
async function recordsAfter(db: Database, seq: number): Promise<Buffer[]> {
  await db.flush()
  const out: Buffer[] = []
  for await (const ev of db.events({ since: seq, live: false })) out.push(encodeEvent(ev))
  return out
}

describe('snapshots in a JetStream Object Store', () => {
  it('the stream is trimmed only below a shipped snapshot; a lagging replica and a new one start from it and converge', async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream)
    const laggingDir = tmpDir()
    const lagging = await replica(laggingDir, stream)
    await writeMix(p, 1500, 'a')
    await lagging.waitForSeq(p.seq)
    const laggingAt = lagging.seq
    await lagging.close()

    // Without a checkpoint nothing is trimmed, however much is written.
    await writeMix(p, 1500, 'b')
    await p.replication.replicated(p.seq)
    expect((await streamState(stream)).firstSeq).toBe(1)

    const snapSeq = await checkpointShipped(p)
    // keepEvents: 0: everything below the snapshot goes; the snapshot's own message stays.
    await vi.waitFor(async () => expect(await streamState(stream)).toEqual({ firstSeq: snapSeq, lastSeq: p.seq }), { timeout: 10_000, interval: 50 })
    expect(snapSeq).toBeGreaterThan(laggingAt + 1)
    await writeMix(p, 800, 'c')
    await p.replication.replicated(p.seq)

    // The lagging replica's next seq is gone from the stream: it starts over from the snapshot.
    const again = await replica(laggingDir, stream)
    expect(again.replication.restoredFrom?.seq).toBe(snapSeq)
    await again.waitForSeq(p.seq)
    expect(await stateOf(again)).toEqual(await stateOf(p))
    // What it logged after the snapshot is the primary's log, byte for byte.
    expect(await recordsAfter(again, snapSeq)).toEqual(await recordsAfter(p, snapSeq))

    // A new replica also starts from the snapshot, and follows live writes after it.
    const fresh = await replica(tmpDir(), stream)
    expect(fresh.replication.restoredFrom?.seq).toBe(snapSeq)
    await writeMix(p, 500, 'd')
    await fresh.waitForSeq(p.seq)
    await again.waitForSeq(p.seq)
    expect(await stateOf(fresh)).toEqual(await stateOf(p))
    expect(await stateOf(again)).toEqual(await stateOf(p))
    expect(fresh.stats().replication).toMatchObject({ role: 'replica', appliedSeq: p.seq, state: 'live' })

    // The stream after the snapshot is one linear history: stream seq = event seq, no gap.
    const msgs = await streamMessages(nats.url, stream)
    expect(msgs.map((m) => m.seq)).toEqual(Array.from({ length: p.seq - snapSeq + 1 }, (_, i) => snapSeq + i))
    expect(msgs.every((m) => m.eventSeq === m.seq)).toBe(true)
    await fresh.close()
    await again.close()
    await p.close()
  })

  it('keeps keepEvents messages below a snapshot, ships only what the stream holds, and keeps the newest `keep` snapshots', async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream, { snapshots: { keepEvents: 300, keep: 1 } })
    await writeMix(p, 1000, 'e')
    const first = await checkpointShipped(p)
    expect(await streamState(stream)).toEqual({ firstSeq: p.seq - 299, lastSeq: p.seq })
    await writeMix(p, 400, 'f')
    const second = await checkpointShipped(p)
    expect(second).toBeGreaterThan(first)
    const r = await replica(tmpDir(), stream)
    expect(r.replication.restoredFrom?.seq).toBe(second)
    await r.waitForSeq(p.seq)
    expect(await stateOf(r)).toEqual(await stateOf(p))
    await r.close()

    // NATS away: a checkpoint is not shipped before the stream holds its seq.
    await nats.stop()
    await writeMix(p, 200, 'g')
    const info = await p.checkpoint()
    await new Promise((res) => setTimeout(res, 300))
    expect(p.replication.snapshots.shippedSeq).toBe(second)
    await nats.start()
    await vi.waitFor(() => expect(p.replication.snapshots.shippedSeq).toBe(info!.seq), { timeout: 15_000, interval: 50 })
    const r2 = await replica(tmpDir(), stream)
    expect(r2.replication.restoredFrom?.seq).toBe(info!.seq)
    await r2.waitForSeq(p.seq)
    expect(await stateOf(r2)).toEqual(await stateOf(p))
    await r2.close()
    await p.close()
  })

  it('a replica the stream is trimmed under while it runs restores from the snapshot in place (or had applied it all): never skips', async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream)
    const dir = tmpDir()
    const r = await replica(dir, stream)
    await writeMix(p, 500, 'h')
    await r.waitForSeq(p.seq)
    // The replica stops consuming (as a slow one would fall behind), the stream is trimmed past it.
    await nats.stop()
    await writeMix(p, 500, 'i')
    await nats.start()
    const restored = new Promise<{ seq: number }>((resolve) => r.replication.once('restored', resolve))
    const stalled = new Promise<unknown>((resolve) => r.replication.once('stalled', resolve))
    await p.replication.replicated(p.seq)
    const s = await checkpointShipped(p)
    await vi.waitFor(async () => expect((await streamState(stream)).firstSeq).toBe(s), { timeout: 10_000, interval: 50 })
    await writeMix(p, 100, 'j')
    const outcome = await Promise.race([stalled.then((err) => ({ stalled: err })), r.waitForSeq(p.seq).then(() => 'caught up')])
    expect(outcome).toBe('caught up')
    // Either it applied everything before the trim, or it went on from the snapshot, in place.
    const restoredFrom = r.replication.restoredFrom?.seq
    if (restoredFrom !== undefined) expect((await restored).seq).toBe(s)
    expect(restoredFrom === undefined || restoredFrom === s).toBe(true)
    expect(await stateOf(r)).toEqual(await stateOf(p))
    await r.close()
    // Reopened, it goes on from its own disk.
    const again = await replica(dir, stream)
    expect(again.replication.restoredFrom).toBeUndefined()
    await writeMix(p, 50, 'k')
    await again.waitForSeq(p.seq)
    expect(await stateOf(again)).toEqual(await stateOf(p))
    await again.close()
    await p.close()
  })

  it('a replica without snapshots stalls, not wrong, when the stream is trimmed below it, and says what to do', async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream)
    await writeMix(p, 300, 'h')
    await p.replication.replicated(p.seq)
    const s = await checkpointShipped(p)
    await vi.waitFor(async () => expect((await streamState(stream)).firstSeq).toBe(s), { timeout: 10_000, interval: 50 })
    const r = await openReplicated({ dir: tmpDir(), durability: 'buffered', replication: { servers: nats.url, stream, role: 'replica', snapshots: false } })
    await vi.waitFor(() => expect(r.stats().replication!.state).toBe('stalled'), { timeout: 15_000, interval: 20 })
    expect(r.seq).toBe(0)
    await expect(r.promote()).rejects.toMatchObject({ code: 'ISLAB_REPLICATION', message: /trimmed below this replica.*snapshots enabled/ })
    await r.close()
    await p.close()
  })

  it('a replica never writes an event of its own: a deadline hides the key on it, the expiry event comes from the primary', async () => {
    const stream = newStream()
    // The primary's sweeper is slow, so the replica's deadline passes before the primary logs the expiry.
    const p = await primary(tmpDir(), stream, {}, { expiry: { sweepIntervalMs: 3_600_000 } })
    const r = await replica(tmpDir(), stream, { expiry: { sweepIntervalMs: 5, sweepBudgetMs: 5 } })
    await p.put('keep', 1)
    await p.put('soon', 'gone', { ttlMs: 400 })
    await p.batch([{ type: 'put', key: 'soon2', value: 2, ttlMs: 400 }, { type: 'put', key: 'keep2', value: 3 }])
    await r.waitForSeq(p.seq)
    expect(r.getEntry('soon')?.expiresAt).toBe(p.getEntry('soon')?.expiresAt)
    expect(r.getEntry('soon2')?.expiresAt).toBe(p.getEntry('soon2')?.expiresAt)
    const at = r.seq
    await new Promise((res) => setTimeout(res, 600))
    // Past the deadline: hidden on the replica, and its sweeper wrote nothing.
    expect(r.get('soon')).toBeUndefined()
    expect(r.get('soon2')).toBeUndefined()
    expect(r.has('soon')).toBe(false)
    expect(r.get('keep')).toBe(1)
    await new Promise((res) => setTimeout(res, 50))
    expect(r.seq).toBe(at)
    expect(p.seq).toBe(at)
    // The primary's read finds them expired and logs their expiry; the replica applies those events.
    expect(p.get('soon')).toBeUndefined()
    expect(p.get('soon2')).toBeUndefined()
    await vi.waitFor(() => expect(p.seq).toBe(at + 2), { timeout: 5000, interval: 10 })
    await r.waitForSeq(p.seq)
    expect(r.seq).toBe(p.seq)
    // Byte for byte the primary's log: the deadlines and the expiry flags included.
    expect(await logRecords(r)).toEqual(await logRecords(p))
    const evs: unknown[] = []
    for await (const ev of r.events({ since: at, live: false })) evs.push(ev)
    expect(evs).toMatchObject([
      { type: 'del', expired: true },
      { type: 'del', expired: true },
    ])
    await r.close()
    await p.close()
  })

  it("ack: 'replicated' loses nothing across a primary's disk loss: a fresh replica restores snapshot and stream, and is promoted", async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream, { ack: 'replicated' })
    await writeMix(p, 800, 'k')
    await checkpointShipped(p)
    await writeMix(p, 300, 'l')
    // Every write above was acknowledged only once the stream stored it.
    const acknowledged = p.seq
    const before = await stateOf(p)
    await p.close()

    // The primary's directory is gone: a new directory restores as a replica, then takes over.
    const n = await replica(tmpDir(), stream)
    expect(n.replication.restoredFrom).toBeDefined()
    await n.waitForSeq(acknowledged)
    expect(await stateOf(n)).toEqual(before)
    await n.promote()
    expect(await n.put('after', 1)).toEqual({ seq: acknowledged + 1 })
    await n.replication.replicated(n.seq)
    const msgs = await streamMessages(nats.url, stream)
    expect(msgs.at(-1)).toMatchObject({ seq: acknowledged + 1, eventSeq: acknowledged + 1 })
    await n.close()
  })

  it('checks the snapshots option', async () => {
    await expect(openReplicated({ dir: tmpDir(), replication: { servers: nats.url, stream: 'X', role: 'primary', snapshots: { bucket: 'a.b' } } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(openReplicated({ dir: tmpDir(), replication: { servers: nats.url, stream: 'X', role: 'primary', snapshots: { every: 1 } as never } })).rejects.toThrow(/snapshots.every/)
    await expect(openReplicated({ dir: tmpDir(), replication: { servers: nats.url, stream: 'X', role: 'primary', snapshots: { keepEvents: -1 } } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
  })
})
