// Per-key index of every version in the retained log: seq, time and where its record sits, so
// reading the past costs one record read, not a log scan. It is built on first use — from the
// log on disk, with the log reader, which yields to the event loop — and then kept current from
// the change feed. In memory mode there is no log: versions keep their bytes, and history starts
// when the index was first used.
//
// Layout: one columnar log of versions in seq order (typed arrays, ~28 bytes a version, no object
// per version), each version linking back to the previous version of the same key, and a Map from
// key to its newest version. Versions are numbered by a logical position that never changes;
// `shift` maps it to the arrays. Trimming drops a prefix of the log (every version older than the
// oldest retained segment, for all keys at once) and compacts the arrays.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Subscription } from 'rxjs'
import type { ChangeFeed } from '../changes/changeFeed.js'
import { ClosedError } from '../errors.js'
import type { Op, WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import type { WriteRequest } from '../pipeline/writeRequest.js'
import { LogReader, listSegments } from '../wal/logReader.js'
import type { ReadEnd } from '../wal/logReader.js'

/** A key's current entry in the state (the fields time travel needs). */
export interface CurrentEntry {
  readonly seq: number
  readonly time: number
  readonly bytes: Uint8Array
}

export interface HistorySource {
  files: FileLayer | undefined
  dir: string
  feed: ChangeFeed
  seq(): number
  flush(): Promise<void>
  /**
   * The key's entry in the state now. Called in the same synchronous step as the index is read:
   * every applied write is in both by then (the pipeline applies and publishes in one pass).
   */
  current(key: string): CurrentEntry | undefined
}

/** One version, copied out of the columns (positions may be trimmed while a read awaits I/O). */
export interface Version {
  seq: number
  time: number
  deleted: boolean
  /** First seq of the segment holding the record (-1 in memory mode). */
  segment: number
  offset: number
  /** Memory mode: the value written (puts only). */
  bytes: Uint8Array | undefined
}

/** Work per slice of a sweep of the key map before yielding to the event loop. */
const CHUNK_MS = 8
/** Memory mode keeps at most this many versions, and at most this many bytes of their values. */
export const MEMORY_MAX_VERSIONS = 1 << 20
export const MEMORY_MAX_VALUE_BYTES = 64 * 1024 * 1024
const MIN_CAPACITY = 1024
/** Up to this many keys, trimming sweeps the key map at once (a few ms). */
const SYNC_SWEEP_KEYS = 50_000

export class HistoryIndex {
  // Columns, indexed by logical position - shift.
  private seqs = new Float64Array(MIN_CAPACITY)
  private times = new Float64Array(MIN_CAPACITY)
  /** Byte offset of the record; a deletion stores -(offset + 1). */
  private where = new Float64Array(MIN_CAPACITY)
  /** Distance back to the previous version of the same key (0: none). */
  private back = new Uint32Array(MIN_CAPACITY)
  /** Memory mode only: the value bytes of puts. */
  private values: (Uint8Array | undefined)[] | undefined
  private valueBytes = 0
  private shift = 0
  /** Logical position of the oldest live version, and one past the newest. */
  private base = 0
  private end = 0
  /** Newest version of each key with a live version. */
  private readonly heads = new Map<string, number>()
  /** First seqs of the segments holding live versions, ascending. */
  private segments: number[] = []
  private oldest = 0
  private sub: Subscription | undefined
  private ready: Promise<void> | undefined
  private live = false
  private closed = false
  private sweeping = false
  private sweepAgain = false

  constructor(private readonly source: HistorySource) {
    if (source.files === undefined) this.values = []
  }

  /** Builds the index the first time it is needed. */
  ensure(): Promise<void> {
    this.ready ??= this.build().catch((err: unknown) => {
      // Let a later call try again rather than failing every read forever.
      this.sub?.unsubscribe()
      this.ready = undefined
      throw err
    })
    return this.ready
  }

  /**
   * F: every change with seq ≥ F is indexed (the first seq of the oldest retained segment; in
   * memory mode, the first seq after the index started or was last trimmed).
   */
  get from(): number {
    return this.oldest
  }

  /** Versions held, all keys together. */
  get versionCount(): number {
    return this.end - this.base
  }

  /** Keys with at least one version held. */
  get keyCount(): number {
    return this.heads.size
  }

  /** Seq of the key's oldest version held (Infinity when none). */
  firstSeqOf(key: string): number {
    let v = this.head(key)
    if (v < 0) return Infinity
    for (;;) {
      const d = this.back[v - this.shift]!
      if (d === 0 || v - d < this.base) return this.seqs[v - this.shift]!
      v -= d
    }
  }

  /** The key's newest version with seq ≤ `seq`. */
  lastAtMost(key: string, seq: number): Version | undefined {
    let v = this.head(key)
    while (v >= 0) {
      const i = v - this.shift
      if (this.seqs[i]! <= seq) return this.version(v)
      const d = this.back[i]!
      v = d === 0 || v - d < this.base ? -1 : v - d
    }
    return undefined
  }

  /** The key's versions held, oldest first. */
  versionsOf(key: string): Version[] {
    const out: Version[] = []
    let v = this.head(key)
    while (v >= 0) {
      out.push(this.version(v))
      const d = this.back[v - this.shift]!
      v = d === 0 || v - d < this.base ? -1 : v - d
    }
    return out.reverse()
  }

  /**
   * Seq of the newest version (of any key) written at or before `time`, or -1 when every version
   * held is later. Times follow seqs (both come from the sequencer), so this is a binary search.
   */
  lastSeqAtTime(time: number): number {
    let lo = this.base
    let hi = this.end
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2)
      if (this.times[mid - this.shift]! <= time) lo = mid + 1
      else hi = mid
    }
    return lo === this.base ? -1 : this.seqs[lo - 1 - this.shift]!
  }

  /** Forgets every version with seq < `seq`, for every key: the log before it was deleted. */
  trimBefore(seq: number): void {
    if (seq <= this.oldest) return
    this.oldest = seq
    let lo = this.base
    let hi = this.end
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2)
      if (this.seqs[mid - this.shift]! < seq) lo = mid + 1
      else hi = mid
    }
    if (this.values !== undefined) {
      for (let v = this.base; v < lo; v++) {
        this.valueBytes -= this.values[v - this.shift]?.length ?? 0
        this.values[v - this.shift] = undefined
      }
    }
    this.base = lo
    // Compact once at least half the columns are dead; until then the hole costs nothing but memory.
    if (2 * (this.base - this.shift) >= this.seqs.length) this.compact(this.end - this.base)
    this.sweepHeads()
    let s = 0
    while (s + 1 < this.segments.length && this.segments[s + 1]! <= seq) s++
    if (s > 0) this.segments = this.segments.slice(s)
  }

  /**
   * Drops the keys whose every version was trimmed. Reads already treat them as absent (a head
   * before `base` is no head); this gives their memory back. A large map is swept in slices
   * that yield to the event loop (a million keys take ~100 ms to walk, longer to delete from).
   */
  private sweepHeads(): void {
    if (this.heads.size <= SYNC_SWEEP_KEYS) {
      for (const [key, v] of this.heads) if (v < this.base) this.heads.delete(key)
      return
    }
    if (this.sweeping) {
      this.sweepAgain = true
      return
    }
    this.sweeping = true
    void this.sweepInSlices()
  }

  private async sweepInSlices(): Promise<void> {
    do {
      this.sweepAgain = false
      let slice = performance.now()
      let n = 0
      // A Map iterator stays valid across deletes and inserts; a key written again meanwhile
      // has a head ≥ base and is kept.
      for (const [key, v] of this.heads) {
        if (v < this.base) this.heads.delete(key)
        if ((++n & 1023) === 0 && performance.now() - slice > CHUNK_MS) {
          await nextTurn()
          if (this.closed) return
          slice = performance.now()
        }
      }
    } while (this.sweepAgain)
    this.sweeping = false
  }

  /** Trims to the log on disk: called after a checkpoint deleted segments. */
  trimToLog(): void {
    const { files, dir } = this.source
    if (files === undefined || this.ready === undefined) return
    const first = listSegments(files, dir)[0]
    this.trimBefore(first === undefined ? this.source.seq() + 1 : first.firstSeq)
  }

  close(): void {
    this.closed = true
    this.sub?.unsubscribe()
  }

  private head(key: string): number {
    const v = this.heads.get(key)
    return v === undefined || v < this.base ? -1 : v
  }

  private version(v: number): Version {
    const i = v - this.shift
    const w = this.where[i]!
    const seq = this.seqs[i]!
    return {
      seq,
      time: this.times[i]!,
      deleted: w < 0,
      segment: this.values === undefined ? this.segmentOf(seq) : -1,
      offset: this.values === undefined ? (w < 0 ? -w - 1 : w) : -1,
      bytes: this.values?.[i],
    }
  }

  /** The segment holding `seq`: the last one starting at or before it (segments are contiguous). */
  private segmentOf(seq: number): number {
    const s = this.segments
    let lo = 0
    let hi = s.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (s[mid]! <= seq) lo = mid + 1
      else hi = mid
    }
    return lo === 0 ? -1 : s[lo - 1]!
  }

  private noteSegment(first: number): void {
    const s = this.segments
    if (s.length === 0 || first > s[s.length - 1]!) s.push(first)
    else if (!s.includes(first)) s.splice(s.findIndex((x) => x > first), 0, first)
  }

  private async build(): Promise<void> {
    const { files, dir, feed } = this.source
    // Live first, queued; then make every earlier event readable on disk; then scan. Events the
    // scan also finds are skipped from the queue by seq, so none is lost or counted twice.
    const queued: WriteRequest[] = []
    this.live = false
    this.sub = feed.applied$.subscribe((req) =>
      this.live ? this.add(req, req.walSegment, req.walOffset) : queued.push(req),
    )
    if (files === undefined) {
      this.oldest = this.source.seq() + 1
      this.live = true
      return
    }
    await this.source.flush()
    // Everything up to here is on disk; what comes later is queued.
    const upTo = this.source.seq()
    this.oldest = Math.max(this.oldest, listSegments(files, dir)[0]?.firstSeq ?? upTo + 1)
    const reader = new LogReader(files, dir, {
      fromSeq: this.oldest,
      // Between the reader's slices (it yields a turn of the event loop after each).
      onSlice: () => {
        if (this.closed) throw new ClosedError()
      },
    })
    const visit = (ev: WalEvent, offset: number): void => this.add(ev, reader.segment, offset)
    for (let vanished = 0; ; ) {
      let end: ReadEnd
      try {
        end = await reader.read(visit, Infinity, upTo)
      } catch (err) {
        // A checkpoint deleted the segment being read: the versions in it are trimmed; the
        // reader finds the next seq afresh.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && ++vanished < 100) {
          reader.seek(Math.max(reader.nextSeq, this.oldest))
          continue
        }
        throw err
      }
      if (this.closed) throw new ClosedError()
      // Damage (in segments a checkpoint covers, which recovery does not check): go on after it.
      if (end === 'problem' && reader.skipSegment()) continue
      break
    }
    const last = reader.lastSeq
    for (const req of queued) if (req.seq > last) this.add(req, req.walSegment, req.walOffset)
    this.live = true
  }

  /**
   * A failed commit's writes were undone in memory (sync mode): forget their versions, the newest
   * in the columns. Rare (the database stops writing after it), so heads are fixed by one sweep.
   */
  forgetAfter(seq: number): void {
    const before = this.end
    while (this.end > this.base && this.seqs[this.end - 1 - this.shift]! > seq) {
      if (this.values !== undefined) this.setValue(this.end - 1 - this.shift, undefined)
      this.end--
    }
    if (this.end === before) return
    for (const [key, v] of this.heads) {
      let h = v
      while (h >= this.end) {
        const back = this.back[h - this.shift]!
        h = back === 0 ? -1 : h - back
      }
      if (h < this.base) this.heads.delete(key)
      else if (h !== v) this.heads.set(key, h)
    }
  }

  private add(ev: WalEvent, segment: number, offset: number): void {
    if (ev.seq < this.oldest) return
    if (this.values === undefined) {
      const s = this.segments
      if (s.length === 0 || s[s.length - 1] !== segment) this.noteSegment(segment)
    } else {
      offset = 0 // no log: the sign of `where` still tells deletions
    }
    if (ev.type === 'batch') for (const op of ev.ops) this.addOp(op, ev.seq, ev.time, offset)
    else if (ev.type !== 'entangle') this.addOp(ev, ev.seq, ev.time, offset)
    if (this.values !== undefined && (this.end - this.base > MEMORY_MAX_VERSIONS || this.valueBytes > MEMORY_MAX_VALUE_BYTES)) {
      // Memory mode has no log to fall back on: keep the newest three quarters.
      this.trimBefore(this.seqs[this.base + ((this.end - this.base) >>> 2) - this.shift]! + 1)
    }
  }

  private addOp(op: Op, seq: number, time: number, offset: number): void {
    const key = op.key
    const h = this.head(key)
    const deleted = op.type === 'del'
    const bytes = this.values !== undefined && op.type === 'put' ? op.value : undefined
    if (h >= 0 && this.seqs[h - this.shift] === seq) {
      // A batch that writes a key twice leaves one version: its last op.
      this.where[h - this.shift] = deleted ? -offset - 1 : offset
      if (this.values !== undefined) this.setValue(h - this.shift, bytes)
      return
    }
    if (this.end - this.shift === this.seqs.length) this.compact(this.end - this.base + 1)
    const v = this.end++
    const i = v - this.shift
    this.seqs[i] = seq
    this.times[i] = time
    this.where[i] = deleted ? -offset - 1 : offset
    this.back[i] = h >= 0 ? v - h : 0
    if (this.values !== undefined) this.setValue(i, bytes)
    this.heads.set(key, v)
  }

  private setValue(i: number, bytes: Uint8Array | undefined): void {
    const values = this.values!
    this.valueBytes += (bytes?.length ?? 0) - (values[i]?.length ?? 0)
    values[i] = bytes
  }

  /** Moves the live versions to the start of the columns, sized for `want` (grown or shrunk). */
  private compact(want: number): void {
    const live = this.end - this.base
    const from = this.base - this.shift
    const cap = this.seqs.length
    // Grow by half (memory over copying: the columns are most of the index), shrink when a trim left them mostly empty.
    const size = want > cap ? Math.max(want, cap + (cap >>> 1)) : cap > 4 * Math.max(live, MIN_CAPACITY) ? Math.max(2 * live, MIN_CAPACITY) : cap
    if (size === cap) {
      if (from > 0) {
        this.seqs.copyWithin(0, from, from + live)
        this.times.copyWithin(0, from, from + live)
        this.where.copyWithin(0, from, from + live)
        this.back.copyWithin(0, from, from + live)
      }
    } else {
      this.seqs = resized(this.seqs, new Float64Array(size), from, live)
      this.times = resized(this.times, new Float64Array(size), from, live)
      this.where = resized(this.where, new Float64Array(size), from, live)
      this.back = resized(this.back, new Uint32Array(size), from, live)
    }
    if (this.values !== undefined && from > 0) this.values = this.values.slice(from, from + live)
    this.shift = this.base
  }
}

function resized<T extends Float64Array | Uint32Array>(old: T, next: T, from: number, live: number): T {
  next.set(old.subarray(from, from + live) as never)
  return next
}
