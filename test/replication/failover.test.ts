// Failover with the old primary still running, through a real nats-server: whichever of the two
// primaries publishes the next seq first keeps the stream, the other is fenced at its next write,
// turns read-only and reports exactly the writes it acknowledged locally that never reached the
// stream; nothing the winner acknowledged is lost and every replica follows the winner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openReplicated } from '../../src/replication/index.js'
import type { ReplicatedDatabase } from '../../src/replication/index.js'
import type { FencedError } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'
import { expectStreamIsLog, logRecords, stateOf, streamMessages, writeMix } from './helpers.js'

let nats: Nats
let streams = 0
const newStream = () => `F${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

function node(role: 'primary' | 'replica', stream: string, extra: Record<string, unknown> = {}, dir = tmpDir()): Promise<ReplicatedDatabase> {
  return openReplicated({ dir, durability: 'buffered', replication: { servers: nats.url, stream, role, snapshots: false, ...extra } })
}

const fencedOf = (db: ReplicatedDatabase) => new Promise<FencedError>((resolve) => db.replication.once('fenced', resolve))

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10))
}

describe('failover while the old primary still runs', () => {
  it('the old primary is fenced, reports exactly its unpublished acknowledged seqs, and loses nothing the new primary acknowledged', async () => {
    const stream = newStream()
    const p = await node('primary', stream, { window: 8 })
    const r = await node('replica', stream, { ack: 'replicated' })
    const r2 = await node('replica', stream)
    await writeMix(p, 1500, 'a')
    await p.replication.replicated(p.seq)
    await r.waitForSeq(p.seq)
    const shared = p.seq

    await r.promote()
    expect(r.stats().replication).toMatchObject({ role: 'primary', appliedSeq: shared })
    // The new primary takes shared + 1 first ('replicated': resolved means stored).
    expect(await r.put('new:0', 0)).toEqual({ seq: shared + 1 })
    const fenced = fencedOf(p)

    // Both write at once now: the old primary 30 unawaited writes (acknowledged locally), the new one 300.
    const oldAcks: number[] = []
    const oldRefused: string[] = []
    const oldWrites = Array.from({ length: 30 }, (_, i) =>
      (i % 7 === 3 ? p.batch([{ type: 'put', key: `old:${i}`, value: i }, { type: 'del', key: 'a:1' }]) : p.put(`old:${i}`, i)).then(
        (w) => void oldAcks.push(w.seq),
        (err: { code: string }) => void oldRefused.push(err.code),
      ),
    )
    const newAcks = (await Promise.all(Array.from({ length: 300 }, (_, i) => r.put(`new:${i + 1}`, i + 1)))).map((w) => w.seq)
    await Promise.all(oldWrites)
    const err = await fenced

    // Every write the old primary acknowledged is in the reported range, and the range holds nothing else.
    expect(oldAcks.length).toBeGreaterThan(0)
    expect(oldRefused.every((c) => c === 'ISLAB_FENCED')).toBe(true)
    expect(err).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: shared + 1 })
    const reported = Array.from({ length: err.unpublishedToSeq! - err.unpublishedFromSeq! + 1 }, (_, i) => err.unpublishedFromSeq! + i)
    expect(oldAcks.sort((x, y) => x - y)).toEqual(reported)
    expect(err.message).toContain(`${shared + 1}..${err.unpublishedToSeq}`)

    // Turned read-only: writes refused, reads still served (its own unreplicated writes included).
    await expect(p.put('late', 1)).rejects.toMatchObject({ code: 'ISLAB_FENCED' })
    await expect(p.delete('a:2')).rejects.toMatchObject({ code: 'ISLAB_FENCED' })
    expect(p.stats().replication).toMatchObject({ role: 'primary', state: 'fenced' })
    expect(p.get('old:0')).toBe(0)
    expect(p.get('new:1')).toBeUndefined()

    // The stream is the new primary's history: every write it acknowledged is there, none of the old one's.
    await expectStreamIsLog(nats.url, stream, r)
    expect(newAcks).toEqual(Array.from({ length: 300 }, (_, i) => shared + 2 + i))
    const msgs = await streamMessages(nats.url, stream)
    const epochOf = (m: { msgID: string | undefined }) => m.msgID!.split(':')[0]
    expect(new Set(msgs.slice(shared).map(epochOf)).size).toBe(1)
    expect(epochOf(msgs[shared]!)).not.toBe(epochOf(msgs[shared - 1]!))

    // Replicas follow the new primary: the one that was running, and a new one.
    const r3 = await node('replica', stream)
    await r2.waitForSeq(r.seq)
    await r3.waitForSeq(r.seq)
    for (const x of [r2, r3]) {
      expect(await stateOf(x)).toEqual(await stateOf(r))
      expect(await logRecords(x)).toEqual(await logRecords(r))
      expect(x.get('old:0')).toBeUndefined()
    }
    // The old primary's log is the stream up to the fork.
    expect((await logRecords(p)).slice(0, shared)).toEqual((await logRecords(r)).slice(0, shared))
    for (const x of [p, r, r2, r3]) await x.close()
  })

  it("an old primary in ack: 'replicated' mode never acknowledges a write the new primary's stream refused", async () => {
    const stream = newStream()
    const p = await node('primary', stream, { ack: 'replicated' })
    const r = await node('replica', stream, { ack: 'replicated' })
    await writeMix(p, 300, 'b')
    await r.waitForSeq(p.seq)
    const shared = p.seq
    await r.promote()
    await r.put('new', 1)
    const fenced = fencedOf(p)
    const settled = await Promise.allSettled([p.put('old:1', 1), p.put('old:2', 2), p.batch([{ type: 'del', key: 'b:3' }])])
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected'])
    for (const s of settled) expect((s as PromiseRejectedResult).reason).toMatchObject({ code: 'ISLAB_FENCED' })
    // Applied locally (reads show them), reported as unreplicated, and not in the stream.
    expect(await fenced).toMatchObject({ unpublishedFromSeq: shared + 1, unpublishedToSeq: shared + 3 })
    expect(p.get('old:2')).toBe(2)
    await r.replication.replicated(r.seq)
    await expectStreamIsLog(nats.url, stream, r)
    await p.close()
    await r.close()
  })

  it('when the old primary publishes first, the promoted replica is the one fenced and replicas follow the old primary', async () => {
    const stream = newStream()
    const p = await node('primary', stream)
    const r = await node('replica', stream)
    const r2 = await node('replica', stream)
    await writeMix(p, 500, 'c')
    await p.replication.replicated(p.seq)
    await r.waitForSeq(p.seq)
    const shared = p.seq
    await r.promote()
    // The promoted replica's publisher has reconciled (the stream held nothing beyond it) and waits.
    await until(() => r.stats().replication!.state === 'live')
    const fenced = fencedOf(r)
    await p.put('old:wins', 1)
    await p.replication.replicated(p.seq)
    expect(await r.put('promoted:loses', 1)).toEqual({ seq: shared + 1 })
    expect(await fenced).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: shared + 1, unpublishedToSeq: shared + 1 })
    await expect(r.put('again', 1)).rejects.toMatchObject({ code: 'ISLAB_FENCED' })

    // The old primary goes on, unfenced; the stream and the other replica are its history.
    await writeMix(p, 300, 'd')
    await p.replication.replicated(p.seq)
    expect(p.stats().replication!.state).toBe('live')
    await expectStreamIsLog(nats.url, stream, p)
    await r2.waitForSeq(p.seq)
    expect(await logRecords(r2)).toEqual(await logRecords(p))
    expect(r2.get('promoted:loses')).toBeUndefined()
    for (const x of [p, r, r2]) await x.close()
  })
})
