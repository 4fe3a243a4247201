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
