// A child process of the replication proof (proof.test.ts): one primary or one replica, on the
// built dist/ (argv: role, dist index.js, dir, NATS url, stream), driven over IPC by the test.
//
// Primary: { cmd: 'write', from, to } writes ops from..to-1 (the mixed schedule of opAt below,
// a window of them in flight), answers { type: 'wrote', seq }; { cmd: 'close' } waits until the
// stream holds every write, answers { type: 'closed', seq }, closes and exits.
// Replica: reports { type: 'progress', seq, state } now and then; { cmd: 'close', seq } waits
// until it applied seq, answers { type: 'closed', seq, stats }, closes and exits.
import { pathToFileURL } from 'node:url'
import path from 'node:path'

const [role, entry, dir, url, stream] = process.argv.slice(2)
const { openReplicated } = await import(pathToFileURL(path.join(path.dirname(entry), 'replication', 'index.js')).href)

const send = (m) => new Promise((resolve) => process.send(m, resolve))
// The test ends a child only by message; a vanished parent ends it too (never left running).
process.on('disconnect', () => process.exit(3))

// Own checkpoints every ~256 KiB of WAL (replicas restart from them), small segments, and every
// segment kept (history.retainSegments) so that `islab dump` shows the whole log of each copy.
const common = {
  dir,
  durability: 'buffered',
  segmentBytes: 512 * 1024,
  checkpoint: { walBytes: 256 * 1024, keep: 2 },
  history: { retainSegments: 1_000_000 },
}

/** Write i of the schedule: puts of assorted value types (some compressed), deletes, batches, entangles. */
function opAt(db, i) {
  const k = `k:${i % 5003}`
  if (i % 19 === 4) {
    return db.batch([
      { type: 'put', key: `b:${i % 211}`, value: { i, at: new Date(1_700_000_000_000 + i) } },
      { type: 'put', key: `k:${(i * 7) % 5003}`, value: BigInt(i) * 1_000_000_007n },
      { type: 'del', key: `k:${(i + 11) % 5003}` },
    ])
  }
  if (i % 7 === 5) return db.delete(k)
  if (i % 997 === 13) return db.entangle(k, [`k:${(i + 1) % 5003}`])
  switch (i % 5) {
    case 0:
      return db.put(k, { i, name: `n${i}`, tags: ['a', i % 3] })
    case 1:
      return db.put(k, i * 1.5)
    case 2:
      return db.put(k, Buffer.from(`bytes-${i}`))
    case 3:
      // Past the 1 KiB compress threshold now and then: LZ4 records on the way.
      return db.put(k, i % 13 === 0 ? `long-${i}-`.repeat(200) : `s${i}`)
    default:
      return db.put(k, new Map([['i', i], ['set', new Set([i, i + 1])]]))
  }
}

if (role === 'primary') {
  const db = await openReplicated({ ...common, replication: { servers: url, stream, role: 'primary', snapshots: false } })
  let fenced
  db.replication.on('fenced', (e) => (fenced = e))
  process.on('message', async (m) => {
    if (m.cmd === 'write') {
      const pending = []
      for (let i = m.from; i < m.to; i++) {
        pending.push(opAt(db, i))
        if (pending.length >= 256) await Promise.all(pending.splice(0))
      }
      await Promise.all(pending)
      await send({ type: 'wrote', seq: db.seq })
    } else if (m.cmd === 'close') {
      await db.flush()
      await db.replication.replicated(db.seq)
      const seq = db.seq
      const stats = db.stats().replication
      await db.close()
      await send({ type: 'closed', seq, stats, fenced: fenced?.code })
      process.exit(0)
    }
  })
  await send({ type: 'ready', seq: db.seq })
} else {
  const db = await openReplicated({ ...common, replication: { servers: url, stream, role: 'replica' } })
  let stalled
  db.replication.on('stalled', (e) => (stalled = String(e)))
  const timer = setInterval(() => {
    const r = db.stats().replication
    process.send({ type: 'progress', seq: db.seq, state: r?.state, stalled })
  }, 250)
  process.on('message', async (m) => {
    if (m.cmd === 'close') {
      await db.waitForSeq(m.seq)
      clearInterval(timer)
      const seq = db.seq
      const stats = db.stats().replication
      await db.close()
      await send({ type: 'closed', seq, stats, stalled })
      process.exit(0)
    }
  })
  await send({ type: 'ready', seq: db.seq, state: db.stats().replication?.state })
}
