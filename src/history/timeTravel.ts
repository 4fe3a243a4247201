// Reading the past: a key's value as of a seq or a time, and its list of versions. Exact within
// the retained log; outside it, ISLAB_HISTORY_GONE rather than a guess.
import { HistoryGoneError, InvalidOptionError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import { decodeValue } from '../events/valueCodec.js'
import { readRecordAt } from '../wal/recordAt.js'
import type { HistoryIndex, HistorySource, Version } from './historyIndex.js'

export type AsOf = { seq: number } | { time: number | Date }

export interface HistoryOptions {
  /** First seq to include (default: the oldest retained). */
  from?: number
  /** Last seq to include (default: the newest). */
  to?: number
  limit?: number
  /** Newest first. */
  reverse?: boolean
}

export interface HistoryEntry<V = unknown> {
  seq: number
  time: number
  type: 'put' | 'del'
  /** The value written (puts only). */
  value?: V
}

export async function getAt<V>(index: HistoryIndex, source: HistorySource, key: string, at: AsOf): Promise<V | undefined> {
  await index.ensure()
  const versions = index.of(key)
  let i: number
  if ('seq' in at) {
    if (!Number.isSafeInteger(at.seq) || at.seq < 0) throw new InvalidOptionError('getAt: seq must be a non-negative integer')
    i = lastWithSeqAtMost(versions, at.seq)
  } else {
    const t = at.time instanceof Date ? at.time.getTime() : at.time
    if (typeof t !== 'number' || Number.isNaN(t)) throw new InvalidOptionError('getAt: time must be a Date or milliseconds since the epoch')
    i = lastAtOrBefore(versions, (v) => v.time <= t)
  }
  if (i < 0) {
    // No version at or before the point: the key did not exist then — if the log reaches back to seq 1.
    const oldest = index.oldestSeq()
    if (oldest > 1) throw new HistoryGoneError('seq' in at ? at.seq : 0, oldest)
    return undefined
  }
  return (await valueOf(source, versions[i]!, key)) as V | undefined
}

export async function* history<V>(
  index: HistoryIndex,
  source: HistorySource,
  key: string,
  opts: HistoryOptions = {},
): AsyncGenerator<HistoryEntry<V>> {
  await index.ensure()
  const oldest = index.oldestSeq()
  if (opts.from !== undefined && opts.from < oldest && oldest > 1) throw new HistoryGoneError(opts.from, oldest)
  const from = opts.from ?? 0
  const to = opts.to ?? Infinity
  const limit = opts.limit ?? Infinity
  const picked = index.of(key).filter((v) => v.seq >= from && v.seq <= to)
  if (opts.reverse) picked.reverse()
  let n = 0
  for (const v of picked) {
    if (n++ >= limit) return
    const entry: HistoryEntry<V> = { seq: v.seq, time: v.time, type: v.deleted ? 'del' : 'put' }
    if (!v.deleted) entry.value = (await valueOf(source, v, key)) as V
    yield entry
  }
}

/** Index of the last version with seq ≤ `seq` (binary search: versions are in seq order). */
function lastWithSeqAtMost(versions: Version[], seq: number): number {
  let lo = 0
  let hi = versions.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (versions[mid]!.seq <= seq) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

/** Index of the last version satisfying `ok` (versions are in seq order; times follow but may step back). */
function lastAtOrBefore(versions: Version[], ok: (v: Version) => boolean): number {
  for (let i = versions.length - 1; i >= 0; i--) if (ok(versions[i]!)) return i
  return -1
}

async function valueOf(source: HistorySource, v: Version, key: string): Promise<unknown> {
  if (v.deleted) return undefined
  if (v.bytes !== undefined) return decodeValue(v.bytes)
  // A record still in the WAL writer's buffer is not on disk yet.
  if (v.seq > source.feed.durableSeq) await source.flush()
  const ev = readRecordAt(source.files!, source.dir, v.segment, v.offset)
  return decodeValue(opFor(ev, key, v.seq))
}

function opFor(ev: WalEvent, key: string, seq: number): Uint8Array {
  if (ev.seq !== seq) throw new Error(`history index points at seq ${ev.seq}, expected ${seq}`)
  if (ev.type === 'put' && ev.key === key) return ev.value
  if (ev.type === 'batch') {
    for (let i = ev.ops.length - 1; i >= 0; i--) {
      const op = ev.ops[i]!
      if (op.key === key && op.type === 'put') return op.value
    }
  }
  throw new Error(`record ${seq} holds no put of ${key}`)
}
