// Reading the past: a key's value as of a seq or a time, and its list of versions. Exact within
// the retained log, pruned or not; a point nothing retained can answer is ISLAB_HISTORY_GONE,
// never a guess.
//
// What is known, for one key k (F = first seq of the oldest retained segment, N = db.seq):
//   - the log: every change of k with seq ≥ F (the history index);
//   - snapshots: k's entry (value, seq and time of its last write) as of some seq C — the state
//     now (C = N), each checkpoint on disk, and seq 0 (nothing existed yet).
// The value at s is then, in order:
//   1. k's newest version in the log with seq ≤ s, if there is one;
//   2. for s ≥ F-1, with no version ≤ s: k did not change in [F-1, v1-1] (v1: its first version
//      in the log, or ∞), so any snapshot taken in that range holds the value at s;
//   3. for s < F-1: the log cannot say what changed in (s, F-1]; the first snapshot C ≥ s does,
//      when it holds an entry last written at or before s (nothing changed in (entry, C]), or
//      when C = s.
import { CheckpointDamage, lookupCheckpointEntry } from '../checkpoint/checkpointReader.js'
import { listCheckpoints } from '../checkpoint/checkpointStore.js'
import { CHECKPOINT_HEADER_BYTES, decodeCheckpointHeader } from '../checkpoint/format.js'
import { CorruptionError, HistoryGoneError, InvalidOptionError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import { decodeValue } from '../events/valueCodec.js'
import { readRecordAt } from '../wal/logReader.js'
import type { CurrentEntry, HistoryIndex, HistorySource, Version } from './historyIndex.js'

export type AsOf = { seq: number } | { time: number | Date }

export interface HistoryOptions {
  /**
   * First seq to include (default: where the known history of the key starts, see
   * HistoryStart). A seq before that rejects with ISLAB_HISTORY_GONE.
   */
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

/** Where a history listing starts. */
export interface HistoryStart {
  /**
   * Every change of the key with seq ≥ `from` is listed (up to `to` and `limit`). When the log
   * before the oldest retained segment is gone, the listing starts with the key's last write
   * before that segment if a checkpoint (or the state) still holds it, else at the segment.
   */
  from: number
  /** True when nothing of the key's history was ever pruned: its first entry is its first write. */
  complete: boolean
}

/** A key's versions, oldest first (or newest first with `reverse`), and where they start. */
export class KeyHistory<V = unknown> implements AsyncIterable<HistoryEntry<V>> {
  private plan: Promise<{ start: HistoryStart; versions: Known[] }> | undefined

  constructor(
    private readonly index: HistoryIndex,
    private readonly source: HistorySource,
    private readonly key: string,
    private readonly opts: HistoryOptions,
  ) {}

  /** Where the listing starts (rejects with ISLAB_HISTORY_GONE as iterating would). */
  async start(): Promise<HistoryStart> {
    return (await this.planned()).start
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<HistoryEntry<V>> {
    const { versions } = await this.planned()
    const limit = this.opts.limit ?? Infinity
    let n = 0
    for (const v of versions) {
      if (n++ >= limit) return
      const entry: HistoryEntry<V> = { seq: v.seq, time: v.time, type: v.deleted ? 'del' : 'put' }
      if (!v.deleted) entry.value = (await bytesOf(this.source, this.index, v, this.key).then(decodeValue)) as V
      yield entry
    }
  }

  private planned(): Promise<{ start: HistoryStart; versions: Known[] }> {
    this.plan ??= planHistory(this.index, this.source, this.key, this.opts)
    return this.plan
  }
}

/** The value of `key` as of a seq or a time; ISLAB_HISTORY_GONE when nothing retained knows it. */
export async function getAt<V>(index: HistoryIndex, source: HistorySource, key: string, at: AsOf): Promise<V | undefined> {
  let seq: number | undefined
  let time: number | undefined
  if ('seq' in at) {
    if (!Number.isSafeInteger(at.seq) || at.seq < 0) throw new InvalidOptionError('getAt: seq must be a non-negative integer')
    seq = at.seq
  } else {
    time = at.time instanceof Date ? at.time.getTime() : at.time
    if (typeof time !== 'number' || Number.isNaN(time)) throw new InvalidOptionError('getAt: time must be a Date or milliseconds since the epoch')
  }
  await index.ensure()
  const ctx = new Context(index, source)
  const found = seq !== undefined ? await ctx.atSeq(key, seq) : await ctx.atTime(key, time!)
  if (found === undefined) {
    const oldest = await ctx.answerableFrom(key)
    throw new HistoryGoneError(seq, oldest, { key, time })
  }
  if (found.value === undefined || found.value.deleted) return undefined
  return decodeValue(await bytesOf(source, index, found.value, key)) as V
}

async function planHistory(
  index: HistoryIndex,
  source: HistorySource,
  key: string,
  opts: HistoryOptions,
): Promise<{ start: HistoryStart; versions: Known[] }> {
  await index.ensure()
  const ctx = new Context(index, source)
  const F = index.from
  const inLog = index.versionsOf(key)
  const complete = F <= 1
  let known = complete ? 0 : F
  let lead: Known | undefined
  // Before the log: the key's last write before F, when a snapshot still holds it.
  if (!complete && (opts.from === undefined || opts.from < F)) {
    const found = await ctx.atSeq(key, F - 1, inLog)
    if (found?.value !== undefined && !found.value.deleted) {
      lead = found.value
      known = lead.seq
    }
  }
  if (opts.from !== undefined && opts.from < known) throw new HistoryGoneError(opts.from, known, { key })
  const from = opts.from ?? known
  const to = opts.to ?? Infinity
  const versions = (lead === undefined ? inLog : [lead, ...inLog]).filter((v) => v.seq >= from && v.seq <= to)
  if (opts.reverse) versions.reverse()
  return { start: { from, complete }, versions }
}

/** A version whose value is known: in the log (index), or an entry of a snapshot (bytes held). */
type Known = Version

/** What answered a point: the version in force there (undefined: the key did not exist), and the lowest seq the same answer holds from. */
interface Found {
  value: Known | undefined
  validFrom: number
}

interface Snapshot {
  seq: number
  /** When it was taken (checkpoints: the header's time; the state: now; seq 0: never). */
  time: number
  lookup(key: string): Promise<Known | undefined>
}

/** One read's view: the index, the state, and the checkpoints on disk (listed when first needed). */
class Context {
  private checkpoints: Snapshot[] | undefined

  constructor(
    private readonly index: HistoryIndex,
    private readonly source: HistorySource,
  ) {}

  /** The value at `s`, by the three rules at the top of this file; undefined when unknowable. */
  async atSeq(key: string, s: number, inLog?: Version[]): Promise<Found | undefined> {
    const F = this.index.from
    // Index and state are read in one synchronous step, so they agree.
    const v = inLog === undefined ? this.index.lastAtMost(key, s) : lastAtMost(inLog, s)
    if (v !== undefined) return { value: v, validFrom: v.seq }
    const v1 = inLog === undefined ? this.index.firstSeqOf(key) : (inLog[0]?.seq ?? Infinity)
    const now = v1 === Infinity ? this.source.current(key) : undefined
    if (now !== undefined && now.seq <= s) return { value: known(now), validFrom: now.seq }
    if (v1 === Infinity && now === undefined && s >= F - 1) return { value: undefined, validFrom: Math.max(F - 1, 0) }
    const snaps = this.snapshots().filter((c) => c.seq < v1)
    if (s >= F - 1) {
      const c = snaps.find((c) => c.seq >= F - 1)
      if (c === undefined) return undefined
      const e = await c.lookup(key)
      return { value: e, validFrom: e === undefined ? Math.max(F - 1, 0) : e.seq }
    }
    const c = snaps.find((c) => c.seq >= s)
    if (c === undefined) return undefined
    const e = await c.lookup(key)
    if (e !== undefined && e.seq <= s) return { value: e, validFrom: e.seq }
    if (e === undefined && c.seq === s) return { value: undefined, validFrom: s }
    return undefined
  }

  /**
   * The value at time `t`: as of the newest event written at or before it. Times follow seqs
   * (the sequencer stamps both), which is what lets a time be turned into a seq.
   */
  async atTime(key: string, t: number): Promise<Found | undefined> {
    const s = this.index.lastSeqAtTime(t)
    if (s >= 0) return this.atSeq(key, s)
    // t is before every version in the log: the seq it stands for is below the first one.
    const F = this.index.from
    const v1 = this.index.firstSeqOf(key)
    const now = v1 === Infinity ? this.source.current(key) : undefined
    if (now !== undefined && now.time <= t) return { value: known(now), validFrom: now.seq }
    // A snapshot at C ≥ F-1 taken at or before t puts that seq in [C, first version - 1].
    const all = [...this.snapshots(), { seq: this.source.seq(), time: Date.now(), lookup: async () => undefined }]
    if (all.some((c) => c.seq >= F - 1 && c.time <= t)) return this.atSeq(key, Math.max(F - 1, 0))
    // The first checkpoint taken after t: events after it are later than t too.
    const c = this.snapshots().find((c) => c.time > t)
    if (c === undefined) return undefined
    const e = await c.lookup(key)
    if (e !== undefined && e.time <= t) return { value: e, validFrom: e.seq }
    // The seq t stands for lies between the newest snapshot taken at or before t (seq 0, the
    // empty database, at the least) and the key's entry in c (written after t) or c itself:
    // when the key had one value over that whole range, that value is the answer (a key first
    // written after t, say, was absent). Otherwise nothing retained can tell.
    let lower = 0
    for (const x of this.snapshots()) if (x.time <= t && x.seq > lower) lower = x.seq
    const found = await this.atSeq(key, e !== undefined ? e.seq - 1 : c.seq)
    return found !== undefined && found.validFrom <= lower ? found : undefined
  }

  /** The oldest seq from which on every seq has a known value of `key`. */
  async answerableFrom(key: string): Promise<number> {
    const v1 = this.index.firstSeqOf(key)
    let x = v1 === Infinity ? this.source.seq() + 1 : v1
    // Each step either fails or lands on an earlier snapshot's entry: bounded by their number.
    for (let steps = this.snapshots().length + 2; x > 0 && steps > 0; steps--) {
      const found = await this.atSeq(key, x - 1)
      if (found === undefined) break
      x = Math.min(x - 1, found.validFrom)
    }
    return x
  }

  /** Checkpoints on disk and seq 0, ascending by seq. */
  private snapshots(): Snapshot[] {
    if (this.checkpoints !== undefined) return this.checkpoints
    const empty: Snapshot = { seq: 0, time: -Infinity, lookup: async () => undefined }
    const { files, dir } = this.source
    if (files === undefined) return (this.checkpoints = [empty])
    const list = listCheckpoints(files, dir)
      .reverse()
      .map((cp): Snapshot => {
        let time: number | undefined
        return {
          seq: cp.seq,
          // The header's time, read when a time-based read first needs it (NaN if it vanished).
          get time() {
            if (time === undefined) {
              try {
                const h = decodeCheckpointHeader(files.readRange(cp.path, 0, CHECKPOINT_HEADER_BYTES))
                time = typeof h === 'string' ? NaN : h.time
              } catch {
                time = NaN
              }
            }
            return time
          },
          lookup: async (key) => {
            try {
              const e = await lookupCheckpointEntry(files, cp.path, key, cp.seq)
              return e === undefined ? undefined : { seq: e.seq, time: e.time, deleted: false, segment: -1, offset: -1, bytes: e.value }
            } catch (err) {
              if (err instanceof CheckpointDamage) throw new CorruptionError(`${err.message}; run \`islab verify ${dir}\``, { file: err.file, offset: err.offset })
              // Deleted by a newer checkpoint while this read waited.
              if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HistoryGoneError(undefined, this.index.from, { key })
              throw err
            }
          },
        }
      })
    return (this.checkpoints = [empty, ...list])
  }
}

function known(e: CurrentEntry): Known {
  return { seq: e.seq, time: e.time, deleted: false, segment: -1, offset: -1, bytes: e.bytes }
}

function lastAtMost(versions: Version[], seq: number): Version | undefined {
  let lo = 0
  let hi = versions.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (versions[mid]!.seq <= seq) lo = mid + 1
    else hi = mid
  }
  return versions[lo - 1]
}

/** The value bytes of a put version: held, or read from its record in the log. */
async function bytesOf(source: HistorySource, index: HistoryIndex, v: Known, key: string): Promise<Uint8Array> {
  if (v.bytes !== undefined) return v.bytes
  // A record still in the WAL writer's buffer is not on disk yet.
  if (v.seq > source.feed.durableSeq) await source.flush()
  let ev: WalEvent
  try {
    ev = await readRecordAt(source.files!, source.dir, v.segment, v.offset, v.seq)
  } catch (err) {
    // Its segment was deleted by a checkpoint while this read waited.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HistoryGoneError(v.seq, index.from, { key })
    throw err
  }
  return opFor(ev, key, v.seq)
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
