// Shared by the replication tests: a mixed workload, a database's log and state in comparable
// form, and the stream read back with a consumer of the test's own.
import { connect } from '@nats-io/transport-node'
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { expect } from 'vitest'
import { decodeEvent, encodeEvent } from '../../src/index.js'
import type { Database } from '../../src/index.js'

/** A mixed workload: puts (some unawaited), overwrites, deletes, batches and entangles. */
export async function writeMix(db: Database, n: number, tag: string): Promise<void> {
  const pending: Promise<unknown>[] = []
  for (let i = 0; i < n; i++) {
    const k = `${tag}:${i % 997}`
    if (i % 50 === 7) pending.push(db.batch([{ type: 'put', key: `${k}:b`, value: { i, tag } }, { type: 'del', key: `${tag}:${(i + 3) % 997}` }]))
    else if (i % 31 === 5) pending.push(db.delete(k))
    else if (i % 211 === 3) pending.push(db.entangle(k, [`${tag}:${(i + 1) % 997}`]))
    else pending.push(db.put(k, { i, tag, big: i % 97 === 0 ? 'x'.repeat(3000) : undefined }))
    if (pending.length >= 200) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
}

/** Every event of the log, as shipped records: two databases with the same history give the same list. */
export async function logRecords(db: Database): Promise<Buffer[]> {
  await db.flush()
  const out: Buffer[] = []
  for await (const ev of db.events({ since: 0, live: false })) out.push(encodeEvent(ev))
  return out
}

export async function stateOf(db: Database): Promise<[string, unknown, number, number][]> {
  const out: [string, unknown, number, number][] = []
  for await (const [key, value] of db.range()) {
    const e = db.getEntry(key)!
    out.push([key, value, e.seq, e.time])
  }
  return out
}

/** The stream read from seq 1 with a consumer of our own: each message's seq, its event's seq, its msgID. */
export async function streamMessages(url: string, stream: string): Promise<{ seq: number; eventSeq: number; msgID: string | undefined; data: Uint8Array }[]> {
  const nc = await connect({ servers: url })
  try {
    const jsm = await jetstreamManager(nc)
    const last = (await jsm.streams.info(stream)).state.last_seq
    const out: { seq: number; eventSeq: number; msgID: string | undefined; data: Uint8Array }[] = []
    if (last === 0) return out
    const c = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All })
    const msgs = await c.consume()
    for await (const m of msgs) {
      out.push({ seq: m.seq, eventSeq: decodeEvent(m.data).seq, msgID: m.headers?.get('Nats-Msg-Id'), data: m.data })
      if (m.seq >= last) break
    }
    await msgs.close()
    return out
  } finally {
    await nc.close()
  }
}

export async function expectStreamIsLog(url: string, stream: string, db: Database): Promise<void> {
  const msgs = await streamMessages(url, stream)
  const log = await logRecords(db)
  expect(msgs.length).toBe(log.length)
  for (let i = 0; i < msgs.length; i++) {
    // No gap, no duplicate: message i is at stream seq i + 1 and holds event i + 1, byte for byte.
    if (msgs[i]!.seq !== i + 1 || msgs[i]!.eventSeq !== i + 1 || Buffer.compare(Buffer.from(msgs[i]!.data), log[i]!) !== 0) {
      expect({ at: i + 1, seq: msgs[i]!.seq, eventSeq: msgs[i]!.eventSeq, same: false }).toEqual({ at: i + 1, seq: i + 1, eventSeq: i + 1, same: true })
    }
  }
}

