// The publish path at its edges, against a real nats-server: event 1 on an empty stream with two
// writers, an event larger than the server's max_payload, and ack: 'replicated' writes when the
// WAL fails for good.
import { randomBytes } from 'node:crypto'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { InvalidOptionError } from '../../src/index.js'
import type { AppendFile, FileLayer } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { openReplicated } from '../../src/replication/index.js'
import type { ReplicatedDatabase } from '../../src/replication/index.js'
import { resolveReplication } from '../../src/replication/options.js'
import { AckTimeoutError, PublishLane, PublishRefusedError } from '../../src/replication/publishLane.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { expectStreamIsLog } from './helpers.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'

let nats: Nats
let nc: NatsConnection
let streams = 0
const newStream = () => `E${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
  nc = await connect({ servers: nats.url })
})
afterAll(async () => {
  await nc?.close()
  await nats?.destroy()
})

async function lastSeq(stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq
}

/** Resolves with `what` once `p` settles, or with 'still pending' after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'still pending'> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<'still pending'>((r) => (timer = setTimeout(() => r('still pending'), ms)))]).finally(() => clearTimeout(timer))
}

async function untilLive(db: ReplicatedDatabase): Promise<void> {
  for (let i = 0; i < 400 && db.stats().replication?.state !== 'live'; i++) await new Promise((r) => setTimeout(r, 25))
  expect(db.stats().replication?.state).toBe('live')
}

describe('event 1 on an empty stream', () => {
  it('two lanes publishing event 1 (expected last sequence 0): one is stored, the other refused', async () => {
    const stream = newStream()
    const subject = `${stream}.events`
    await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [subject], storage: StorageType.File })
    const outcomes: string[] = []
    const lanes = ['a', 'b'].map(
      (epoch) =>
        new PublishLane(nc, stream, subject, epoch, 5000, 4, 1, {
          acked: (seq) => outcomes.push(`${epoch} acked ${seq}`),
          failed: (err) => outcomes.push(`${epoch} ${err instanceof PublishRefusedError ? 'refused' : String(err)}`),
          settled: () => undefined,
        }),
    )
    for (const l of lanes) l.send(1, new TextEncoder().encode('event 1'), undefined)
    for (const l of lanes) await l.idle()
    for (const l of lanes) l.close()
    // Expected last sequence 0 is checked too (servers before 2.9 skipped a 0): event 1 is fenced like any other.
    expect(outcomes.sort()).toEqual(['a acked 1', 'b refused'])
    expect(await lastSeq(stream)).toBe(1)
  })

  it("two primaries opened on a fresh stream, ack: 'replicated': one wins seq 1, the other is fenced, the stream is one history", async () => {
    const stream = newStream()
    const opts = (dir: string) => ({ dir, durability: 'buffered' as const, replication: { servers: nats.url, stream, role: 'primary' as const, ack: 'replicated' as const, snapshots: false as const } })
    const a = await openReplicated(opts(tmpDir()))
    const b = await openReplicated(opts(tmpDir()))
    await untilLive(a)
    await untilLive(b)
    const results = await Promise.allSettled([a.put('from', 'a'), b.put('from', 'b')])
    const won = results.map((r) => r.status === 'fulfilled')
    expect(won.filter(Boolean)).toHaveLength(1)
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(loser.reason).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: 1, unpublishedToSeq: 1 })
    expect(await lastSeq(stream)).toBe(1)
    const winner = won[0] ? a : b
    await expectStreamIsLog(nats.url, stream, winner)
    await a.close().catch(() => undefined)
    await b.close().catch(() => undefined)
  }, 60_000)
})

describe("an event over the server's max_payload", () => {
  it("is reported ('stalled', ISLAB_REPLICATION naming max_payload), not retried in silence as a NATS outage", async () => {
    const stream = newStream()
    const p = await openReplicated({ dir: tmpDir(), durability: 'buffered', replication: { servers: nats.url, stream, role: 'primary', snapshots: false } })
    await p.put('small', 1)
    await p.replication.replicated(p.seq)
    const stalled = new Promise<unknown>((resolve) => p.replication.once('stalled', resolve))
    // Random bytes do not compress: the event is over the default max_payload of 1 MiB.
    await p.put('big', randomBytes(1_200_000))
    const err = await within(stalled, 20_000)
    expect(err).toMatchObject({ code: 'ISLAB_REPLICATION', message: expect.stringMatching(/max_payload/) })
    expect(p.stats().replication?.state).toBe('stalled')
    // What came before it is in the stream, nothing after.
    expect(await lastSeq(stream)).toBe(1)
    await p.close()
  }, 60_000)
})

/** The real fs, except that appends fail with EIO once armed. */
function failingLayer(): { layer: FileLayer; arm(): void } {
  let armed = false
  const layer: FileLayer = {
    ...nodeFileLayer,
    openAppend(p): AppendFile {
      const f = nodeFileLayer.openAppend(p)
      return {
        ...f,
        write: async (data) => {
          if (!armed) return f.write(data)
          throw Object.assign(new Error('EIO: simulated'), { code: 'EIO' })
        },
        datasync: () => f.datasync(),
        truncate: (n) => f.truncate(n),
        close: () => f.close(),
      }
    },
  }
  return { layer, arm: () => (armed = true) }
}

describe("ack: 'replicated' when the WAL fails", () => {
  it("a gated write that can never be published rejects with the WAL failure instead of waiting until close; the state is 'stalled', not 'disconnected'", async () => {
    const stream = newStream()
    const { layer, arm } = failingLayer()
    const p = await openReplicated({
      dir: tmpDir(),
      durability: 'buffered',
      syncIntervalMs: 3_600_000,
      fileLayer: layer,
      replication: { servers: nats.url, stream, role: 'primary', ack: 'replicated', snapshots: false },
    })
    await p.put('a', 1)
    arm()
    const write = p.put('b', 2).then(
      () => 'resolved',
      (err: { code?: string }) => err.code,
    )
    // An application waiting on replicated(seq) for it is told too.
    const waiting = p.replication.replicated(2).then(
      () => 'resolved',
      (err: { code?: string }) => err.code,
    )
    expect(await within(write, 15_000)).toBe('ISLAB_WAL_FAILED')
    expect(await within(waiting, 5_000)).toBe('ISLAB_WAL_FAILED')
    // The durable write before the failure stays replicated.
    expect(await lastSeq(stream)).toBe(1)
    // NATS is fine: the publisher says it cannot go on ('stalled'), not 'disconnected'.
    for (let i = 0; i < 200 && p.stats().replication?.state === 'live'; i++) await new Promise((r) => setTimeout(r, 25))
    expect(p.stats().replication?.state).toBe('stalled')
    await p.close().catch(() => undefined)
  }, 60_000)
})

describe('replication.subject', () => {
  it('refuses a subject with an empty token, which the server would refuse at every publish', () => {
    for (const subject of ['a..b', '.a', 'a.', 'a b', 'a.*', 'a.>']) {
      expect(() => resolveReplication({ servers: 'nats://127.0.0.1:1', stream: 'S', role: 'primary', subject }), subject).toThrow(InvalidOptionError)
    }
    expect(resolveReplication({ servers: 'nats://127.0.0.1:1', stream: 'S', role: 'primary', subject: 'S.db-1.events' }).subject).toBe('S.db-1.events')
  })
})

describe('the ack timeout', () => {
  it('fires after ackTimeoutMs even when the wall clock steps back meanwhile (NTP)', async () => {
    // A subscriber that never answers stands in for a stream whose ack was lost.
    const subject = `${newStream()}.silent`
    const silent = nc.subscribe(subject)
    await nc.flush()
    const failures: unknown[] = []
    const l = new PublishLane(nc, 'none', subject, 'e', 200, 4, 1, { acked: () => undefined, failed: (err) => failures.push(err), settled: () => undefined })
    l.send(1, new TextEncoder().encode('event 1'), undefined)
    // Only Date is faked: timers stay real. The wall clock steps back one hour.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() - 3_600_000)
      expect(await within(l.idle().then(() => 'idle'), 5_000)).toBe('idle')
    } finally {
      vi.useRealTimers()
      l.close()
      silent.unsubscribe()
    }
    expect(failures).toHaveLength(1)
    expect(failures[0]).toBeInstanceOf(AckTimeoutError)
  })
})
