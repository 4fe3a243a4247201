// A database whose log holds nothing at its own seq — a replica restored from a snapshot with no
// event after it, or a primary whose idle checkpoint let the log below it go — opened as the
// primary of the stream it came from: reconcile cannot compare the event at that seq byte for
// byte (there is none in the log), so it compares the stream's event with the state instead. It
// must accept the stream it matches and still fence one it does not.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { open as openCore } from '../../src/index.js'
import { openReplicated } from '../../src/replication/index.js'
import type { ReplicatedDatabase } from '../../src/replication/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'
import { stateOf, streamMessages, writeMix } from './helpers.js'

let nats: Nats
let streams = 0
const newStream = () => `RP${++streams}_${process.pid}`

beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

function open(dir: string, stream: string, role: 'primary' | 'replica', extra: Record<string, unknown> = {}): Promise<ReplicatedDatabase> {
  return openReplicated({
    dir,
    durability: 'buffered',
    checkpoint: { auto: false, keep: 1 },
    replication: { servers: nats.url, stream, role, snapshots: { keepEvents: 0 }, ...extra },
  })
}

/** Resolves with the first 'fenced' error, or 'not fenced' once `write`'s event is in the stream. */
async function fencedOrPublishes(p: ReplicatedDatabase, write: () => Promise<unknown>): Promise<unknown> {
  const fenced = new Promise<unknown>((resolve) => p.replication.once('fenced', resolve))
  const published = (async () => {
    const r = (await write()) as { seq: number }
    await p.replication.replicated(r.seq)
    return 'not fenced'
  })().catch((err: unknown) => err)
  return Promise.race([fenced, published])
}

async function lastWriteIs(db: ReplicatedDatabase, kind: 'put' | 'del'): Promise<void> {
  // The snapshot's own event decides what reconcile compares: test both kinds.
  if (kind === 'put') await db.put('last', { kind })
  else await db.delete('a:5')
}

/** A primary that published its events, the last one `put k`, checkpointed (its log let them go) and closed. */
async function publishedThenCheckpointed(prefix: string): Promise<{ stream: string; dir: string; published: number }> {
  const stream = newStream()
  const dir = tmpDir()
  const p = await open(dir, stream, 'primary', { snapshots: false })
  await writeMix(p, 300, prefix)
  await p.put('k', 'published')
  await p.replication.replicated(p.seq)
  await p.checkpoint()
  const published = p.seq
  await p.close()
  return { stream, dir, published }
}

describe('opening as primary a database whose log does not hold its own seq', () => {
  for (const kind of ['put', 'del'] as const) {
    const what = kind === 'put' ? 'is accepted as primary and publishes after it' : 'is fenced at once with its seq reported (nothing proves the event is its own); as a replica it promotes'
    it(`a replica restored from a snapshot with no later event (the snapshot's event: ${kind}) ${what}`, async () => {
      const stream = newStream()
      const p = await open(tmpDir(), stream, 'primary')
      await writeMix(p, 700, 'a')
      await lastWriteIs(p, kind)
      const info = await p.checkpoint()
      await vi.waitFor(() => expect(p.replication.snapshots.shippedSeq).toBe(info!.seq), { timeout: 15_000, interval: 20 })
      const snapSeq = info!.seq
      expect(snapSeq).toBe(p.seq)
      const before = await stateOf(p)
      await p.close()

      const dir = tmpDir()
      const r = await open(dir, stream, 'replica')
      expect(r.replication.restoredFrom?.seq).toBe(snapSeq)
      expect(r.seq).toBe(snapSeq)
      await r.close()

      // The restored directory now opens as the primary (the old primary's directory is gone).
      if (kind === 'del') {
        // A delete of a key the state lacks looks the same whoever wrote it: no proof, so fenced
        // (promptly, not retried forever), reporting the seq it could not prove; promote() works.
        const f = await open(dir, stream, 'primary')
        const fenced = await Promise.race([new Promise((resolve) => f.replication.once('fenced', resolve)), new Promise((resolve) => setTimeout(() => resolve('not fenced'), 15_000))])
        expect(fenced).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: snapSeq, unpublishedToSeq: snapSeq })
        await f.close()
        const asReplica = await open(dir, stream, 'replica')
        await asReplica.promote()
        expect(await asReplica.put('after', 1)).toEqual({ seq: snapSeq + 1 })
        await asReplica.replication.replicated(snapSeq + 1)
        await asReplica.close()
        return
      }
      const n = await open(dir, stream, 'primary')
      expect(await fencedOrPublishes(n, () => n.put('after', 1))).toBe('not fenced')
      expect(n.seq).toBe(snapSeq + 1)
      expect((await stateOf(n)).filter(([k]) => k !== 'after')).toEqual(before)
      expect(n.getEntry('after')).toMatchObject({ value: 1, seq: snapSeq + 1 })
      expect(n.stats().replication).toMatchObject({ role: 'primary', appliedSeq: snapSeq + 1, state: 'live' })
      const msgs = await streamMessages(nats.url, stream)
      expect(msgs.map((m) => [m.seq, m.eventSeq])).toEqual([
        [snapSeq, snapSeq],
        [snapSeq + 1, snapSeq + 1],
      ])
      await n.close()
    })
  }

  it('a primary reopened after an idle checkpoint pruned the log below its seq goes on publishing', async () => {
    const stream = newStream()
    const dir = tmpDir()
    const p = await open(dir, stream, 'primary', { snapshots: false })
    await writeMix(p, 500, 'b')
    await p.replication.replicated(p.seq)
    await p.checkpoint()
    const at = p.seq
    await p.close()
    const again = await open(dir, stream, 'primary', { snapshots: false })
    expect(again.seq).toBe(at)
    expect(await fencedOrPublishes(again, () => again.put('more', 1))).toBe('not fenced')
    await again.close()
  })

  // Found by a new user's run (islab serve, islab compact, a write while NATS was down): the
  // state was compared only when the database's seq was the stream's last, so these unpublished
  // writes after the checkpoint fenced a primary no other had replaced.
  it('a primary whose log starts after a checkpoint at the stream\'s last seq, with its own unpublished writes after it, publishes them', async () => {
    const { stream, dir, published } = await publishedThenCheckpointed('u')
    // Written without replication (as while NATS is away): in the log after the checkpoint, not in the stream.
    const local = await openCore({ dir, durability: 'buffered', checkpoint: { auto: false, keep: 1 } })
    await local.put('new:1', 'unpublished')
    await local.put('new:2', 'unpublished too')
    await local.close()
    const again = await open(dir, stream, 'primary', { snapshots: false })
    expect(again.seq).toBe(published + 2)
    expect(await fencedOrPublishes(again, () => again.put('more', 1))).toBe('not fenced')
    expect((await streamMessages(nats.url, stream)).length).toBe(published + 3)
    await again.close()
  })

  it('…but when its later writes replaced a key of the stream\'s last event, nothing shows that event is its own: fenced, its seqs reported', async () => {
    const { stream, dir, published } = await publishedThenCheckpointed('w')
    const local = await openCore({ dir, durability: 'buffered', checkpoint: { auto: false, keep: 1 } })
    await local.put('k', 'rewritten')
    await local.close()
    const again = await open(dir, stream, 'primary', { snapshots: false })
    const err = await fencedOrPublishes(again, () => again.put('more', 1))
    expect(err).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: published })
    await again.close()
  })

  it('the same restored directory opened as primary of a stream whose event at its seq differs is fenced', async () => {
    const stream = newStream()
    const p = await open(tmpDir(), stream, 'primary')
    await writeMix(p, 300, 'c')
    await p.put('last', 'ours')
    const info = await p.checkpoint()
    await vi.waitFor(() => expect(p.replication.snapshots.shippedSeq).toBe(info!.seq), { timeout: 15_000, interval: 20 })
    await p.close()
    const dir = tmpDir()
    const r = await open(dir, stream, 'replica')
    expect(r.replication.restoredFrom?.seq).toBe(info!.seq)
    await r.close()

    // Another stream with as many events, the same history but a different last one.
    const other = newStream()
    const q = await open(tmpDir(), other, 'primary', { snapshots: false })
    await writeMix(q, 300, 'c')
    await q.put('last', 'theirs')
    expect(q.seq).toBe(info!.seq)
    await q.replication.replicated(q.seq)
    await q.close()
    const n = await open(dir, other, 'primary', { snapshots: false })
    const err = await fencedOrPublishes(n, () => n.put('x', 1))
    expect(err).toMatchObject({ code: 'ISLAB_FENCED', unpublishedFromSeq: info!.seq })
    await n.close()
  })
})
