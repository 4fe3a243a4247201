// The change log read as a Redis stream: `__changes__` (every key) and `__changes__:<prefix>`.
// An entry is one operation of one event: its ID is `<seq>-<n>`, n the operation's index within
// the event (0 for a put or delete, 0… for the members of a batch), so an ID names the same
// change in every stream, filtered or not. Entries are read with db.changes(): only durable ones
// (a reader never sees an entry a crash could undo, so an ID it resumes from always exists),
// from the retained log (history retention decides how far back that goes).
import { HistoryGoneError } from '../index.js'
import type { Change, Database } from '../index.js'
import type { Reply } from './resp/reply.js'
import { ErrorReply } from './resp/reply.js'
import { stringBytes, typeOf } from './values.js'

export const CHANGES_KEY = '__changes__'
const PREFIXED = '__changes__:'

/** The answer to a write of a change-log key (XADD, SET, DEL, RENAME onto it, ...). */
export const CHANGE_LOG_READ_ONLY = new ErrorReply(
  'ERR __changes__ is the change log of IsLabDB, a read-only stream: write to the keys themselves and the log records it (XRANGE, XREAD read it)',
)

/** The prefix a change-log stream key stands for ('' for all keys); undefined: not one. */
export function changeLogPrefix(key: string): string | undefined {
  if (key === CHANGES_KEY) return ''
  return key.startsWith(PREFIXED) ? key.slice(PREFIXED.length) : undefined
}

/** True for `__changes__` and `__changes__:…`: keys a client may read as streams and never write. */
export function isChangeLogKey(key: string): boolean {
  return key.startsWith(CHANGES_KEY) && (key.length === CHANGES_KEY.length || key.charCodeAt(CHANGES_KEY.length) === 58)
}

/** A stream ID: seq and op index. Redis IDs are two u64; ours never pass 2^53, larger ones compare as such. */
export interface StreamId {
  seq: number
  n: number
}

export const MIN_ID: StreamId = { seq: 0, n: 0 }
export const MAX_ID: StreamId = { seq: Number.MAX_VALUE, n: Number.MAX_VALUE }

export function compareIds(a: StreamId, b: StreamId): number {
  return a.seq !== b.seq ? (a.seq < b.seq ? -1 : 1) : a.n === b.n ? 0 : a.n < b.n ? -1 : 1
}

export function formatId(id: StreamId): string {
  return `${id.seq}-${id.n}`
}

/** One entry of a change-log stream. */
export interface StreamEntry {
  id: StreamId
  change: Change
}

/**
 * An entry as Redis replies it: [id, [field, value, ...]]. Fields: `type` (put|del), `key`,
 * `value` (the bytes GET would answer) or, for a value GET cannot answer, `value-type` (hash,
 * islab-value); `expires-at` (ms) for a put with a deadline; `expired 1` for an expiry; `time`
 * (ms when the event was written).
 */
export function entryReply(e: StreamEntry): Reply {
  const c = e.change
  const fields: Reply[] = ['type', c.type, 'key', c.key]
  if (c.type === 'put') {
    const bytes = typeof c.value === 'string' ? c.value : stringBytes(c.value)
    if (bytes !== undefined) fields.push('value', bytes)
    else fields.push('value-type', typeOf(c.value))
    if (c.expiresAt !== undefined) fields.push('expires-at', String(c.expiresAt))
  } else if (c.expired === true) fields.push('expired', '1')
  fields.push('time', String(c.time))
  return [formatId(e.id), fields]
}

export interface ReadOptions {
  /** Entries with an ID above this (exclusive). */
  after: StreamId
  /** Entries with an ID up to this (inclusive). Default: no bound. */
  until?: StreamId
  /** At most this many. Default: no bound. */
  count?: number
  /** Keep waiting for new changes once caught up; resolves once at least one entry came. */
  live?: boolean
  /** Stops a live read (client gone, BLOCK timeout): resolves with what was read. */
  signal?: AbortSignal
}

/**
 * Reads entries of the stream for `prefix` in ID order. Throws HistoryGoneError when entries
 * after `after` are no longer retained (the caller decides: an error, or start at the oldest).
 */
export async function readEntries(db: Database, prefix: string, o: ReadOptions): Promise<StreamEntry[]> {
  const out: StreamEntry[] = []
  const count = o.count ?? Infinity
  if (count <= 0) return out
  // Changes of seq `after.seq` itself may still follow (a batch's later ops): start just before it,
  // unless `after` is known to be the end of its event.
  const since = Math.min(Math.max(0, o.after.n === Number.MAX_VALUE ? o.after.seq : o.after.seq - 1), db.seq)
  if (o.signal?.aborted) return out
  const it = db.changes({ since, live: o.live ?? false })[Symbol.asyncIterator]()
  const stop = (): void => void it.return?.()
  o.signal?.addEventListener('abort', stop)
  let seq = -1
  let n = 0
  try {
    for (;;) {
      // Once a live read has something, it takes what is already there and no more.
      const r = o.live === true && out.length > 0 ? await nextIfReady(it) : await it.next()
      if (r === undefined || r.done === true) break
      const c = r.value
      // No key filter in db.changes: the op index counts every op of the event, delivered or not.
      if (c.seq !== seq) {
        seq = c.seq
        n = 0
      } else n++
      if (o.until !== undefined && (seq > o.until.seq || (seq === o.until.seq && n > o.until.n))) break
      if (seq < o.after.seq || (seq === o.after.seq && n <= o.after.n)) continue
      if (prefix !== '' && !c.key.startsWith(prefix)) continue
      out.push({ id: { seq, n }, change: c })
      if (out.length >= count) break
    }
  } finally {
    o.signal?.removeEventListener('abort', stop)
    await it.return?.()
  }
  return out
}

/** The iterator's next result if it comes before the event loop turns; undefined otherwise. */
function nextIfReady<T>(it: AsyncIterator<T>): Promise<IteratorResult<T> | undefined> {
  return new Promise((resolve) => {
    let settled = false
    const timer = setImmediate(() => {
      settled = true
      resolve(undefined)
    })
    it.next().then(
      (r) => {
        if (settled) return
        clearImmediate(timer)
        resolve(r)
      },
      () => {
        if (settled) return
        clearImmediate(timer)
        resolve(undefined)
      },
    )
  })
}

/**
 * A range read that starts at the oldest retained entry when the log before `after` is gone
 * (XRANGE, XREVRANGE, XLEN: as a trimmed Redis stream, older entries are simply not there).
 */
export async function readRetained(db: Database, prefix: string, o: ReadOptions): Promise<StreamEntry[]> {
  try {
    return await readEntries(db, prefix, o)
  } catch (err) {
    if (!(err instanceof HistoryGoneError)) throw err
    const from = err.oldestSeq - 1
    if (from <= o.after.seq) throw err
    if (from >= db.seq) return []
    return readEntries(db, prefix, { ...o, after: { seq: from, n: Number.MAX_VALUE } })
  }
}

/**
 * The last `count` entries up to `until` and from `after` on (XREVRANGE), newest first: windows
 * of the log read forward, each twice as long as the one before, from the end backwards.
 */
export async function readLast(db: Database, prefix: string, after: StreamId, until: StreamId, count: number): Promise<StreamEntry[]> {
  const top = Math.min(until.seq, db.durableSeq)
  let span = Math.max(16, count)
  let found: StreamEntry[] = []
  for (;;) {
    const from = Math.max(after.seq, top - span)
    const startAfter = from === after.seq ? after : { seq: from, n: Number.MAX_VALUE }
    found = await readRetained(db, prefix, { after: startAfter, until })
    if (found.length >= count || from === after.seq) break
    span *= 2
  }
  return found.slice(Math.max(0, found.length - count)).reverse()
}
