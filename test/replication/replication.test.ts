// Replication through a real nats-server (JetStream, Debian's 2.9.10 or newer): a primary
// publishes, replicas apply, NATS goes away and comes back, a replica is promoted and the old
// primary is fenced. No mocks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openReplicated } from '../../src/replication/index.js'
import type { ReplicatedDatabase } from '../../src/replication/index.js'
import type { Database } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from './natsServer.js'
import { expectStreamIsLog as streamIsLog, logRecords, stateOf, streamMessages as messagesOf, writeMix } from './helpers.js'
import type { Nats } from './natsServer.js'

let nats: Nats
let streams = 0
const newStream = () => `T${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

const expectStreamIsLog = (stream: string, db: Database) => streamIsLog(nats.url, stream, db)
const streamMessages = (stream: string) => messagesOf(nats.url, stream)

function primary(dir: string, stream: string, extra: Record<string, unknown> = {}): Promise<ReplicatedDatabase> {
  return openReplicated({ dir, durability: 'buffered', replication: { servers: nats.url, stream, role: 'primary', ...extra } })
}
function replica(dir: string, stream: string): Promise<ReplicatedDatabase> {
  return openReplicated({ dir, durability: 'buffered', replication: { servers: nats.url, stream, role: 'replica' } })
}

describe('replication through NATS JetStream', () => {
  it('a primary publishes every event at stream seq = its seq; a replica converges to the same log and state', async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream)
    await writeMix(p, 6000, 'a')
    await p.replication.replicated(p.seq)
    expect(p.stats().replication).toMatchObject({ role: 'primary', appliedSeq: p.seq, primarySeq: p.seq, state: 'live' })
    await expectStreamIsLog(stream, p)
    const msgs = await streamMessages(stream)
    expect(new Set(msgs.map((m) => m.msgID!.split(':')[0])).size).toBe(1)
    expect(msgs.every((m) => m.msgID!.endsWith(`:${m.seq}`))).toBe(true)

    const r = await replica(tmpDir(), stream)
    await r.waitForSeq(p.seq)
    // Writes made while the replica follows arrive live.
    await writeMix(p, 2000, 'b')
    await r.waitForSeq(p.seq)
    expect(r.seq).toBe(p.seq)
    expect(await stateOf(r)).toEqual(await stateOf(p))
    expect(await logRecords(r)).toEqual(await logRecords(p))
    expect(r.quantumGet('a:3').entangled).toEqual(p.quantumGet('a:3').entangled)
    expect(r.stats().replication).toMatchObject({ role: 'replica', appliedSeq: p.seq, primarySeq: p.seq, lagMs: 0, state: 'live' })
    await r.close()
    await p.close()
  })

  it('a replica reads but refuses writes with ISLAB_READ_ONLY, serves getAt/history/changes, and restarts from its own disk', async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream)
    const dir = tmpDir()
    const r = await replica(dir, stream)
    const { seq: s1 } = await p.put('k', 1)
    await p.put('k', 2)
    await r.waitForSeq(p.seq)
    await expect(r.put('x', 1)).rejects.toMatchObject({ code: 'ISLAB_READ_ONLY' })
    await expect(r.batch([{ type: 'del', key: 'k' }])).rejects.toMatchObject({ code: 'ISLAB_READ_ONLY' })
    expect(r.get('k')).toBe(2)
    expect(await r.getAt('k', { seq: s1 })).toBe(1)
    const versions: unknown[] = []
    for await (const v of r.history('k')) versions.push(v.value)
    expect(versions).toEqual([1, 2])
    // A projection subscribed to the replica sees the primary's next writes.
    const changes = r.changes({ since: r.seq })[Symbol.asyncIterator]()
    const next = changes.next()
    await p.put('k', 3)
    expect((await next).value).toMatchObject({ key: 'k', value: 3, seq: p.seq })
    await changes.return!()
    await r.waitForSeq(p.seq)
    const at = r.seq
    await r.close()

    // While the replica is down the primary goes on; the replica reopens from its disk, with NATS away.
    await writeMix(p, 500, 'c')
    await p.replication.replicated(p.seq)
    await nats.stop()
    const again = await replica(dir, stream)
    expect(again.seq).toBe(at)
    expect(again.get('k')).toBe(3)
    await nats.start()
    await again.waitForSeq(p.seq)
    expect(await stateOf(again)).toEqual(await stateOf(p))
    expect(await logRecords(again)).toEqual(await logRecords(p))
    await again.close()
    await p.close()
  })

  it('a primary keeps writing while NATS is down and catches up from its WAL when it is back', async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream, { window: 64 })
    const r = await replica(tmpDir(), stream)
    await writeMix(p, 2000, 'd')
    await nats.stop()
    await writeMix(p, 3000, 'e')
    expect(p.stats().replication!.appliedSeq).toBeLessThan(p.seq)
    await nats.start()
    await p.replication.replicated(p.seq)
    await writeMix(p, 1000, 'f')
    await p.replication.replicated(p.seq)
    await expectStreamIsLog(stream, p)
    await r.waitForSeq(p.seq)
    expect(await stateOf(r)).toEqual(await stateOf(p))
    await r.close()
    await p.close()
  })

  it("ack: 'replicated' resolves a write only once the stream holds it", async () => {
    const stream = newStream()
    const p = await primary(tmpDir(), stream, { ack: 'replicated' })
    expect(await p.put('a', 1)).toEqual({ seq: 1 })
    await nats.stop()
    let settled = false
    const w = p.put('b', 2).then((r) => ((settled = true), r))
    // Applied and durable locally, not replicated: not acknowledged.
    await p.flush()
    await new Promise((r) => setTimeout(r, 300))
    expect(p.get('b')).toBe(2)
    expect(settled).toBe(false)
    await nats.start()
    expect(await w).toEqual({ seq: 2 })
    expect(p.stats().replication!.appliedSeq).toBeGreaterThanOrEqual(2)
    await expectStreamIsLog(stream, p)
    await p.close()
  })

  it('promote(): the replica becomes the primary, the old primary is fenced on its next write and reports its unpublished seqs', async () => {
    const stream = newStream()
    const oldDir = tmpDir()
    const p = await primary(oldDir, stream)
    const r = await replica(tmpDir(), stream)
    const r2 = await replica(tmpDir(), stream)
    await writeMix(p, 3000, 'g')
    await p.replication.replicated(p.seq)
    await r.waitForSeq(p.seq)
    const shared = p.seq

    await r.promote()
    expect(r.replication.role).toBe('primary')
    const fenced = new Promise<unknown>((resolve) => p.replication.once('fenced', resolve))
    // The new primary writes first: it takes seq shared + 1 in the stream.
    expect(await r.put('new', 'primary')).toEqual({ seq: shared + 1 })
    await r.replication.replicated(shared + 1)
    // The old primary acknowledges a write locally; publishing it is refused: fenced.
    expect(await p.put('old', 'lost')).toEqual({ seq: shared + 1 })
    const err = (await fenced) as { code: string; unpublishedFromSeq: number; unpublishedToSeq: number }
    expect(err).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: shared + 1, unpublishedToSeq: shared + 1 })
    await expect(p.put('old2', 1)).rejects.toMatchObject({ code: 'ISLAB_FENCED' })
    expect(p.stats().replication!.state).toBe('fenced')

    // The stream is one linear history: the new primary's.
    await writeMix(r, 500, 'h')
    await r.replication.replicated(r.seq)
    await expectStreamIsLog(stream, r)
    await r2.waitForSeq(r.seq)
    expect(await stateOf(r2)).toEqual(await stateOf(r))
    expect(r2.get('old')).toBeUndefined()
    await p.close()

    // Reopened as a primary, the old primary's log disagrees with the stream: fenced at once.
    const reopened = await primary(oldDir, stream)
    const again = await new Promise<unknown>((resolve) => reopened.replication.once('fenced', resolve))
    expect(again).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: shared + 1 })
    await expect(reopened.put('x', 1)).rejects.toMatchObject({ code: 'ISLAB_FENCED' })
    await reopened.close()
    await r2.close()
    await r.close()
  })

  it('checks its options', async () => {
    await expect(openReplicated({ dir: tmpDir(), replication: { servers: nats.url, stream: 'a.b', role: 'primary' } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(openReplicated({ dir: tmpDir(), replication: { servers: nats.url, stream: 'S', role: 'leader' as never } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
    await expect(openReplicated({ dir: tmpDir(), replication: { servers: nats.url, stream: 'S', role: 'primary', acks: 1 } as never })).rejects.toThrow(/replication.acks is not an option \(did you mean replication.ack\?\)/)
    await expect(openReplicated({ dir: tmpDir(), replication: { server: nats.url, stream: 'S', role: 'primary' } as never })).rejects.toThrow(/did you mean replication.servers\?/)
    // A misspelt `replication` (found by a new user's run: the message only said it must be an object).
    await expect(openReplicated({ dir: tmpDir(), replicaton: { servers: nats.url, stream: 'S', role: 'primary' } } as never)).rejects.toThrow(/found 'replicaton': did you mean 'replication'\?/)
    await expect(openReplicated({ dir: tmpDir(), durability: 'memory', replication: { servers: nats.url, stream: 'S', role: 'primary' } })).rejects.toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
  })
})
