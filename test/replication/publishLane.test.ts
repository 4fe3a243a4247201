// The publisher's lane against a real nats-server: PubAcks matched to their seq, the stream's
// refusals (wrong last sequence, wrong last msg id) and a missing PubAck reported as failures, and
// a primary that resumes after acks timed out publishing each event once.
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ReplicationError } from '../../src/index.js'
import { openReplicated } from '../../src/replication/index.js'
import { AckTimeoutError, PublishLane, PublishRefusedError } from '../../src/replication/publishLane.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { expectStreamIsLog } from './helpers.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'

let nats: Nats
let nc: NatsConnection
let streams = 0
const newStream = () => `L${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
  nc = await connect({ servers: nats.url })
})
afterAll(async () => {
  await nc?.close()
  await nats?.destroy()
})

async function makeStream(): Promise<{ stream: string; subject: string }> {
  const stream = newStream()
  const subject = `${stream}.events`
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, duplicate_window: 120_000_000_000 })
  return { stream, subject }
}

/** A lane whose hooks record what it reported. */
function lane(stream: string, subject: string, epoch: string, first: number, opts: { timeoutMs?: number; size?: number } = {}) {
  const acked: number[] = []
  const failures: unknown[] = []
  const l = new PublishLane(nc, stream, subject, epoch, opts.timeoutMs ?? 5000, opts.size ?? 16, first, {
    acked: (seq) => acked.push(seq),
    failed: (err) => failures.push(err),
    settled: () => undefined,
  })
  return { l, acked, failures }
}

const data = (seq: number) => new TextEncoder().encode(`event ${seq}`)

describe('PublishLane', () => {
  it('publishes a window of events at once, each stored at its seq with msgID <epoch>:<seq>; the PubAck of the last covers the batch', async () => {
    const { stream, subject } = await makeStream()
    const { l, acked, failures } = lane(stream, subject, 'e1', 1)
    for (let seq = 1; seq <= 10; seq++) l.send(seq, data(seq), seq === 1 ? undefined : `e1:${seq - 1}`)
    expect(l.inFlight).toBe(10)
    await l.idle()
    l.close()
    expect(failures).toEqual([])
    // Only the batch's last message asked for a PubAck: it proves the chain below it stored.
    expect(acked).toEqual([10])
    const jsm = await jetstreamManager(nc)
    for (let seq = 1; seq <= 10; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq })
      expect(m?.header.get('Nats-Msg-Id')).toBe(`e1:${seq}`)
      expect(new TextDecoder().decode(m!.data)).toBe(`event ${seq}`)
    }
  })

  it('asks for a PubAck every 128 messages of a long batch, so the window moves before the batch is done', async () => {
    const { stream, subject } = await makeStream()
    const { l, acked, failures } = lane(stream, subject, 'e1', 1, { size: 512 })
    for (let seq = 1; seq <= 300; seq++) l.send(seq, data(seq), seq === 1 ? undefined : `e1:${seq - 1}`)
    await l.idle()
    l.close()
    expect(failures).toEqual([])
    expect(acked).toEqual([128, 256, 300])
    expect((await jetstreamManager(nc).then((j) => j.streams.info(stream))).state).toMatchObject({ first_seq: 1, last_seq: 300, messages: 300 })
  })

  it("reports the stream's refusal of a wrong last sequence (err_code 10071) and stores nothing", async () => {
    const { stream, subject } = await makeStream()
    const a = lane(stream, subject, 'a', 1)
    for (let seq = 1; seq <= 3; seq++) a.l.send(seq, data(seq), undefined)
    await a.l.idle()
    a.l.close()
    // Another writer that believes the stream ends at 1: its event 2 expects last sequence 1.
    const b = lane(stream, subject, 'b', 2)
    b.l.send(2, data(2), undefined)
    await b.l.idle()
    b.l.close()
    expect(b.acked).toEqual([])
    expect(b.failures).toHaveLength(1)
    expect(b.failures[0]).toBeInstanceOf(PublishRefusedError)
    expect(b.failures[0]).toMatchObject({ seq: 2, errCode: 10071 })
    expect((await jetstreamManager(nc).then((j) => j.streams.info(stream))).state.last_seq).toBe(3)
  })

  it('a message refused without being asked about fails the next one that asks: the chain carries the refusal, nothing lands', async () => {
    const { stream, subject } = await makeStream()
    const a = lane(stream, subject, 'a', 1)
    for (let seq = 1; seq <= 3; seq++) a.l.send(seq, data(seq), seq === 1 ? undefined : `a:${seq - 1}`)
    await a.l.idle()
    a.l.close()
    // b's 2 (expects last sequence 1) is refused silently; its 3 and 4 chain on b:2 and b:3.
    const b = lane(stream, subject, 'b', 2)
    b.l.send(2, data(2), undefined)
    b.l.send(3, data(3), 'b:2')
    b.l.send(4, data(4), 'b:3')
    await b.l.idle()
    b.l.close()
    expect(b.acked).toEqual([])
    expect(b.failures).toHaveLength(1)
    expect(b.failures[0]).toMatchObject({ seq: 4, errCode: 10070 })
    const st = (await jetstreamManager(nc).then((j) => j.streams.info(stream))).state
    expect(st).toMatchObject({ last_seq: 3, messages: 3 })
    const jsm = await jetstreamManager(nc)
    expect((await jsm.streams.getMessage(stream, { seq: 3 }))?.header.get('Nats-Msg-Id')).toBe('a:3')
  })

  it('reports a wrong last msg id (err_code 10070): the chain fences a pipelined publish at the right sequence', async () => {
    const { stream, subject } = await makeStream()
    const a = lane(stream, subject, 'a', 1)
    a.l.send(1, data(1), undefined)
    await a.l.idle()
    a.l.close()
    const b = lane(stream, subject, 'b', 2)
    b.l.send(2, data(2), 'b:1')
    await b.l.idle()
    b.l.close()
    expect(b.failures[0]).toBeInstanceOf(PublishRefusedError)
    expect(b.failures[0]).toMatchObject({ seq: 2, errCode: 10070 })
    expect(b.acked).toEqual([])
  })

  it('fails with AckTimeoutError when no PubAck comes within the timeout, and idle() still resolves', async () => {
    // A subscriber that never answers stands in for a stream that took the message and lost the ack.
    const subject = `${newStream()}.silent`
    const silent = nc.subscribe(subject)
    await nc.flush()
    const { l, acked, failures } = lane('none', subject, 'e', 1, { timeoutMs: 200 })
    l.send(1, data(1), undefined)
    l.send(2, data(2), 'e:1')
    await l.idle()
    l.close()
    silent.unsubscribe()
    expect(acked).toEqual([])
    expect(failures).toHaveLength(1)
    expect(failures[0]).toBeInstanceOf(AckTimeoutError)
    expect(failures[0]).toMatchObject({ seq: 1 })
  })

  // Found by review: a publish the client refuses (over max_payload) after messages of the same
  // batch went out unasked left those waiting for an answer none of them asked for: idle() (and
  // so the pump's failure, and its 'stalled' report) waited out the whole ack timeout.
  it('a publish the client refuses mid-batch settles the unasked ones before it: idle() does not wait for the ack timeout', async () => {
    const { stream, subject } = await makeStream()
    const { l, acked, failures } = lane(stream, subject, 'e1', 1, { timeoutMs: 3_600_000 })
    const huge = new Uint8Array((nc.info?.max_payload ?? 1024 * 1024) + 1)
    l.send(1, data(1), undefined)
    l.send(2, data(2), 'e1:1')
    l.send(3, huge, 'e1:2')
    l.send(4, data(4), 'e1:3')
    const idle = await Promise.race([l.idle().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))])
    l.close()
    expect(idle).toBe(true)
    expect(l.inFlight).toBe(0)
    expect(acked).toEqual([])
    expect(failures).toHaveLength(1)
    expect(failures[0]).toBeInstanceOf(ReplicationError)
    expect(String(failures[0])).toMatch(/max_payload/)
  }, 60_000)

  it('fails with a ReplicationError when nothing takes the subject (no responders)', async () => {
    const { l, acked, failures } = lane('none', `${newStream()}.nobody`, 'e', 1)
    l.send(1, data(1), undefined)
    await l.idle()
    l.close()
    expect(acked).toEqual([])
    expect(failures[0]).toBeInstanceOf(ReplicationError)
  })
})

describe('primary with acks that time out', () => {
  it('retries after the timeout (reconcile) and the stream holds each event once', async () => {
    const stream = newStream()
    const p = await openReplicated({ dir: tmpDir(), durability: 'buffered', replication: { servers: nats.url, stream, role: 'primary', ackTimeoutMs: 300, window: 8, snapshots: false } })
    for (let i = 0; i < 50; i++) await p.put(`k${i}`, i)
    await p.replication.replicated(p.seq)
    // NATS away while writes go on: the publishes out wait for acks that never come, time out, and
    // the pump reconciles and publishes again once NATS is back.
    await nats.stop()
    const writes: Promise<unknown>[] = []
    for (let i = 50; i < 150; i++) writes.push(p.put(`k${i}`, i))
    await Promise.all(writes)
    await new Promise((r) => setTimeout(r, 700))
    await nats.start()
    await p.replication.replicated(p.seq)
    await expectStreamIsLog(nats.url, stream, p)
    await p.close()
  }, 60_000)
})

describe("ack: 'replicated' on a buffered WAL", () => {
  it('a gated write asks for the sync at once instead of waiting for the sync interval', async () => {
    const stream = newStream()
    // An interval no test waits for: without the early sync, the writes below settle only after it.
    const p = await openReplicated({ dir: tmpDir(), durability: 'buffered', syncIntervalMs: 3_600_000, replication: { servers: nats.url, stream, role: 'primary', ack: 'replicated', snapshots: false } })
    const writes = Promise.all(Array.from({ length: 300 }, (_, i) => p.put(`k${i}`, i)))
    const settled = await Promise.race([writes.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))])
    expect(settled).toBe(true)
    expect(p.stats().replication).toMatchObject({ appliedSeq: p.seq })
    await expectStreamIsLog(nats.url, stream, p)
    await p.close()
  }, 60_000)
})
