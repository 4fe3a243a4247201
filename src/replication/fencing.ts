// Where a primary stands against its stream, decided before it publishes (at start and after any
// failed publish): which of its events the stream holds (`acked`), or that another primary has
// written there (FencedError), or that the stream lost what it had stored (ReplicationError).
//
// The rule is one comparison: the stream's message at seq s must be byte for byte this
// database's event s (encodeEvent is deterministic). Msg IDs are not enough: a retried publish
// whose ack was lost is ours although nothing told us, and a new primary's event at the same seq
// is not ours whatever its ID says.
import { isDeepStrictEqual } from 'node:util'
import { decodeEvent, decodeValue, encodeEvent, FencedError, HistoryGoneError, ReplicationError } from '../index.js'
import type { Database, LogOp, Snapshot } from '../index.js'
import type { StreamLink } from './streamLink.js'

/** How far back a starting primary looks for the last event it shares with the stream. */
const MAX_WALK_BACK = 10_000

export interface Standing {
  /** Highest seq the stream holds from this database (every seq up to it). */
  acked: number
  /** The stream's last seq. */
  streamSeq: number
}

/**
 * `acked`: what this primary knew the stream held before (undefined at start); `atStart`: the
 * state as the database opened (writes may come in while this runs). Reads the stream's
 * state and the messages after `acked`, compares them with the local log, and returns the new
 * standing; throws FencedError when the stream went on without this database.
 */
export async function reconcile(db: Database, link: StreamLink, acked: number | undefined, atStart?: Snapshot): Promise<Standing> {
  const stream = link.o.stream
  const { lastSeq, firstSeq } = await link.ensureStream()
  // Only durable events are ever published, so only they can be in the stream.
  const local = db.durableSeq
  if (acked !== undefined && lastSeq < acked) {
    throw new ReplicationError(stream, `the stream ends at seq ${lastSeq} but had stored ${acked} from this primary: it was purged or recreated; publish to a new stream`)
  }
  const unpublishedFrom = (seq: number) => (seq <= db.seq ? { fromSeq: seq, toSeq: db.seq } : undefined)
  if (acked === undefined) {
    if (lastSeq === 0) return { acked: 0, streamSeq: 0 }
    const top = Math.min(lastSeq, local)
    if (top === 0 || top < firstSeq) {
      throw new FencedError(stream, `the stream holds events up to seq ${lastSeq} and this database none of them`, unpublishedFrom(top + 1))
    }
    const verdict = await compare(db, link, top)
    if (verdict === 'not in log') {
      // Restored from a snapshot with no event after it, or a checkpoint let the log below it go
      // (its own later writes, unpublished, may follow it in the log): no record to compare, so
      // the stream's event is checked against the state as opened instead. A key the event put
      // still holds that version unless a later write replaced it (then the check fails: fenced,
      // never accepted wrongly).
      if (atStart === undefined || top > atStart.seq || !(await stateHolds(atStart, link, top))) {
        // Its own event `top` may be the one that differs: reported with the rest.
        throw new FencedError(stream, `this database's log does not hold seq ${top} (it starts after a checkpoint) and its state does not show that the stream's event ${top} is its own (an event that puts nothing cannot show it); if this database is a copy of the stream, open it as a replica and promote() it`, unpublishedFrom(top))
      }
      // Its own events after `top` are published from the log: when a checkpoint let the first of
      // them go before it was published (compacted while NATS was away), no publish can ever
      // follow the stream's last. Reported now, not retried forever.
      if (local > top && (await localRecords(db, top + 1, top + 1)).length === 0) {
        throw new FencedError(stream, `this database's events from seq ${top + 1} were never published and its log no longer holds seq ${top + 1} (a checkpoint let it go): they cannot be published to this stream; keep this database's data apart, and open a copy of the stream as a replica and promote() it`, unpublishedFrom(top + 1))
      }
    } else if (verdict === 'differs') {
      const shared = await lastShared(db, link, top - 1, Math.max(firstSeq, top - MAX_WALK_BACK))
      throw new FencedError(stream, `the stream's event ${shared + 1} differs from this database's`, unpublishedFrom(shared + 1))
    }
    if (lastSeq > local) throw new FencedError(stream, `the stream holds events up to seq ${lastSeq}, this database only up to ${local}`, unpublishedFrom(local + 1))
    return { acked: top, streamSeq: lastSeq }
  }
  let s = acked
  const to = Math.min(lastSeq, local)
  if (to > s) {
    const mine = await localRecords(db, s + 1, to)
    for (let seq = s + 1; seq <= to; seq++) {
      const theirs = await link.messageAt(seq)
      if (theirs === undefined) throw new ReplicationError(stream, `the stream lost seq ${seq} (its last is ${lastSeq})`)
      if (Buffer.compare(Buffer.from(theirs), mine[seq - s - 1]!) !== 0) {
        throw new FencedError(stream, `seq ${seq} in the stream was written by another primary`, unpublishedFrom(seq))
      }
    }
    s = to
  }
  if (lastSeq > s) throw new FencedError(stream, `the stream holds events up to seq ${lastSeq} that this database did not write`, unpublishedFrom(s + 1))
  return { acked: s, streamSeq: lastSeq }
}

/** Whether the stream's message at `seq` is this database's event `seq`. */
async function same(db: Database, link: StreamLink, seq: number): Promise<boolean> {
  return (await compare(db, link, seq)) === 'same'
}

async function compare(db: Database, link: StreamLink, seq: number): Promise<'same' | 'differs' | 'not in log'> {
  const mine = await localRecords(db, seq, seq)
  if (mine.length === 0) return 'not in log'
  const theirs = await link.messageAt(seq)
  return theirs !== undefined && Buffer.compare(Buffer.from(theirs), mine[0]!) === 0 ? 'same' : 'differs'
}

/**
 * Whether the state `snap` (as of `seq` or later) shows the stream's event `seq` applied: every
 * key it puts holds exactly that version (seq, time, deadline and value: another writer's event
 * at the same seq may carry the same millisecond), and every key it deletes is absent or
 * holds a version written after it. An event that puts nothing proves nothing (a delete of an
 * absent key looks the same whoever wrote it): false. A later write replacing a key it put
 * makes it false too (fenced, never accepted wrongly).
 */
async function stateHolds(snap: Snapshot, link: StreamLink, seq: number): Promise<boolean> {
  const data = await link.messageAt(seq)
  if (data === undefined) return false
  const ev = decodeEvent(data)
  if (ev.seq !== seq || ev.type === 'entangle') return false
  // A batch may write one key several times: its last op is what the state shows.
  const last = new Map<string, LogOp>()
  for (const op of ev.type === 'batch' ? ev.ops : [ev]) last.set(op.key, op)
  let puts = 0
  for (const op of last.values()) {
    const e = snap.getEntry(op.key)
    if (op.type === 'del') {
      // A version from `seq` or before: this database's event `seq` did not delete the key.
      if (e !== undefined && e.seq <= seq) return false
      continue
    }
    if (e === undefined || e.seq !== seq || e.time !== ev.time || e.expiresAt !== op.expiresAt) return false
    if (!isDeepStrictEqual(e.value, decodeValue(op.value))) return false
    puts++
  }
  return puts > 0
}

/** The highest seq in [low, from] where stream and log agree, walking down; low - 1 when none does. */
async function lastShared(db: Database, link: StreamLink, from: number, low: number): Promise<number> {
  for (let seq = from; seq >= low && seq >= 1; seq--) if (await same(db, link, seq)) return seq
  return low - 1
}

/** This database's events from..to as shipped records (fewer when the log no longer holds them). */
export async function localRecords(db: Database, from: number, to: number): Promise<Buffer[]> {
  const out: Buffer[] = []
  const it = db.events({ since: from - 1, live: false })[Symbol.asyncIterator]()
  try {
    for (;;) {
      // The log begins after `from` (a checkpoint let it go): none of them.
      const r = await it.next().catch((err: unknown) => {
        if (err instanceof HistoryGoneError) return { done: true as const, value: undefined }
        throw err
      })
      if (r.done || r.value.seq > to) break
      if (r.value.seq !== from + out.length) break
      out.push(encodeEvent(r.value))
      if (r.value.seq === to) break
    }
  } finally {
    await it.return?.()
  }
  return out
}
