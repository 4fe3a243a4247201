// Review of the replica's restore from a snapshot: a NATS failure while looking for snapshots is
// a failure to retry, never "the bucket holds no snapshot" (which stalls the replica for good).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { Objm } from '@nats-io/obj'
import { resolveReplication } from '../../src/replication/options.js'
import { SnapshotBucket } from '../../src/replication/snapshots.js'
import { StreamLink } from '../../src/replication/streamLink.js'
import { startNats } from './natsServer.js'
import type { Nats } from './natsServer.js'

let nats: Nats
beforeAll(async () => {
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

describe('SnapshotBucket.list review', () => {
  it('rejects while NATS is unreachable instead of answering that there is no snapshot; no bucket is []', async () => {
    const stream = `R${process.pid}`
    const link = new StreamLink(resolveReplication({ servers: nats.url, stream, role: 'replica' }))
    try {
      expect(await new SnapshotBucket(link).list()).toEqual([])
      const nc = await connect({ servers: nats.url })
      const os = await new Objm(nc).create(`${stream}-snapshots`)
      await os.put({ name: 'ckpt-00000000000000000042' }, new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array([1, 2, 3])), c.close()) }))
      await nc.close()
      expect((await new SnapshotBucket(link).list()).map((s) => s.seq)).toEqual([42])
      await nats.stop()
      const got = await new SnapshotBucket(link).list().then(
        (v) => v,
        (e: unknown) => e,
      )
      expect(got).toBeInstanceOf(Error)
    } finally {
      await nats.start()
      await link.close()
    }
  })
})

describe('Applier review: stop() during a restore', () => {
  it('stop() settles while a restore waits on a download that does not progress (NATS away), and aborts it', async () => {
    const { Applier } = await import('../../src/replication/applier.js')
    const { open } = await import('../../src/index.js')
    const { tmpDir } = await import('../helpers/tmpdir.js')
    const { jetstream } = await import('@nats-io/jetstream')
    const stream = `A${process.pid}`
    const link = new StreamLink(resolveReplication({ servers: nats.url, stream, role: 'replica' }))
    await link.ensureStream()
    const js = jetstream(await link.connection())
    for (let i = 0; i < 10; i++) await js.publish(link.o.subject, new Uint8Array([i]))
    await (await link.jsm()).streams.purge(stream, { seq: 6 })
    const db = await open({ dir: tmpDir() })
    db.refuseWrites(undefined)
    let aborted = false
    // A download stuck as one is while NATS is away (its consumer waits for the server to return).
    const stuck = (signal?: AbortSignal): Promise<undefined> =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => {
          aborted = true
          reject(signal.reason)
        })
      })
    const a = new Applier(db, link, stuck)
    a.start()
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (a.state === 'restoring') {
          clearInterval(t)
          resolve()
        }
      }, 5)
    })
    const stopped = await Promise.race([a.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('timeout'), 3000).unref())])
    expect(stopped).toBe('stopped')
    expect(aborted).toBe(true)
    await db.close()
    await link.close()
  })
})

describe('SnapshotBucket.downloadTo review', () => {
  it('an abort stops a download and rejects; without one the file is whole', async () => {
    const fs = await import('node:fs')
    const path = await import('node:path')
    const { tmpDir } = await import('../helpers/tmpdir.js')
    const stream = `D${process.pid}`
    const link = new StreamLink(resolveReplication({ servers: nats.url, stream, role: 'replica' }))
    const nc = await connect({ servers: nats.url })
    const os = await new Objm(nc).create(`${stream}-snapshots`)
    const body = Buffer.alloc(8 * 1024 * 1024, 7)
    await os.put({ name: 'ckpt-00000000000000000009' }, new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(body)), c.close()) }))
    await nc.close()
    const bucket = new SnapshotBucket(link)
    const [snap] = await bucket.list()
    const file = path.join(tmpDir(), 'x.tmp')
    await bucket.downloadTo(snap!, file)
    expect(fs.statSync(file).size).toBe(body.length)
    const ctl = new AbortController()
    const p = bucket.downloadTo(snap!, file, ctl.signal)
    setTimeout(() => ctl.abort(new Error('stopped')), 1)
    await expect(p).rejects.toThrow('stopped')
    await link.close()
  })

  // Found by review: an open-time restore waited for NATS without limit when it went away in the
  // middle of the download, against "NATS not reachable within 5 s at open: it opens as it is".
  it('a download that makes no progress for idleMs (nats-server paused) rejects saying so', async () => {
    const path = await import('node:path')
    const { tmpDir } = await import('../helpers/tmpdir.js')
    const stream = `I${process.pid}`
    const link = new StreamLink(resolveReplication({ servers: nats.url, stream, role: 'replica' }))
    const nc = await connect({ servers: nats.url })
    const os = await new Objm(nc).create(`${stream}-snapshots`)
    const body = Buffer.alloc(1024 * 1024, 3)
    await os.put({ name: 'ckpt-00000000000000000009' }, new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(body)), c.close()) }))
    await nc.close()
    const bucket = new SnapshotBucket(link)
    const [snap] = await bucket.list()
    nats.signal('SIGSTOP')
    try {
      await expect(bucket.downloadTo(snap!, path.join(tmpDir(), 'x.tmp'), undefined, 300)).rejects.toThrow(/made no progress for 300 ms/)
    } finally {
      nats.signal('SIGCONT')
    }
    await link.close()
  })
})
