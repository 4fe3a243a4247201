// What open snapshots need of the past: for each key written since the oldest open snapshot was
// taken, the versions those writes replaced (MVCC, as in a database's undo log, but in memory).
// A snapshot is a pinned seq; it reads a key as the first retained version replaced after its
// seq, or the key's current entry when nothing replaced it since. Taking a snapshot costs O(1),
// the state pays on writes only while one is open, and closing the last one drops everything.
//
// What is kept grows with keys and open snapshots, not with writes: a version is read by the pins
// between the write that made it current and the write that replaced it, so a write keeps what it
// replaces only when some pin is at or after the previous write of that key (one open snapshot
// and one key overwritten 200k times: one version). Pins only come after every write applied so
// far, so a version no pin needed when it was replaced is never needed.
//
// Invariant: while a snapshot pinned at S is open, the first write of each key with seq > S has
// left a version here (the state calls `superseded` for every event it applies while this object
// exists), and a version is only dropped once no open pin reads it.
//
// A version keeps its deadline (the state's deadline table only knows current versions): a
// snapshot hides a version whose deadline has passed, as db.get does.
//
// A sync-mode commit that fails undoes its writes in the state (revert). Snapshots taken before
// that saw them, and must go on seeing them: the undo is retained as if it were a write with a
// seq past every pin and every version here (`reverted`), and snapshots taken afterwards pin that
// seq (pinAt), so they read the state as undone. The database takes no write after such a failure.
import btree from 'sorted-btree'
import type { WalEvent } from '../events/types.js'
import type { Deadline, Deadlines } from './deadlines.js'
import type { Entry } from './entry.js'

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

// sorted-btree is CommonJS with its class on module.exports.default (see orderedIndex.ts).
const BTree: typeof btree.default = (btree as { default?: typeof btree.default }).default ?? (btree as unknown as typeof btree.default)

/** A replaced version: the entry a write with seq `until` replaced (undefined: the key was absent). */
export interface Version {
  readonly until: number
  readonly entry: Entry | undefined
  /** When `entry` expires (undefined: never). */
  readonly at: number | undefined
}

/** The deadline records a write replaced: one for a put, one per op for a batch (see MemoryState.apply). */
export type Displaced = Deadline | undefined | readonly (Deadline | undefined)[]

/** Returned by asOf when no write replaced the key after the seq: its current entry is the answer. */
export const CURRENT: unique symbol = Symbol('current')

export class RetainedVersions {
  /** Key → versions replaced since the oldest pin, oldest first (a batch may add several with one seq). */
  private readonly versions = new BTree<string, Version[]>(undefined, compare)
  /** Pinned seq → how many snapshots pin it. */
  private readonly pins = new Map<number, number>()
  private oldest = Infinity
  private newest = -Infinity
  private count = 0
  /** Versions left by the last prune: an unpin prunes again once there are twice as many (see unpin). */
  private kept = 0
  /** Versions held that have a deadline (0: snapshot reads need not look for one). */
  private timed = 0
  /** The highest seq pinned or retained so far: a revert's seq goes past it. */
  private top = 0
  /** Set by the last revert: snapshots taken since pin this seq (see the header). */
  private floor = 0

  /** Number of versions held (for tests and stats). */
  get size(): number {
    return this.count
  }

  /** Number of open pins. */
  get pinned(): number {
    let n = 0
    for (const c of this.pins.values()) n += c
    return n
  }

  /** Whether some version held has a deadline. */
  get hasDeadlines(): boolean {
    return this.timed !== 0
  }

  /** The seq a snapshot taken now at `seq` (the database's seq) pins: past a revert's, if one came (see the header). */
  pinAt(seq: number): number {
    return seq > this.floor ? seq : this.floor
  }

  pin(seq: number): void {
    this.pins.set(seq, (this.pins.get(seq) ?? 0) + 1)
    if (seq < this.oldest) this.oldest = seq
    if (seq > this.newest) this.newest = seq
    if (seq > this.top) this.top = seq
  }

  /**
   * Releases one pin of `seq`; returns how many pins are left. The last pin drops every version
   * (whoever still holds this object, e.g. a range being read, holds nothing). Releasing the oldest
   * drops the versions no remaining pin reads; releasing another does so once the versions held
   * have doubled since the last prune (a prune walks them all: short-lived snapshots, one per
   * level iterator, would otherwise each pay a walk under a long-lived one).
   */
  unpin(seq: number): number {
    const c = this.pins.get(seq)
    if (c === undefined) return this.pins.size
    if (c > 1) {
      this.pins.set(seq, c - 1)
      return this.pins.size
    }
    this.pins.delete(seq)
    if (this.pins.size === 0) {
      this.versions.clear()
      this.count = this.kept = this.timed = 0
      this.oldest = Infinity
      this.newest = -Infinity
      return 0
    }
    if (seq === this.newest) this.newest = Math.max(...this.pins.keys())
    if (seq === this.oldest) this.oldest = Math.min(...this.pins.keys())
    else if (this.count < 2 * this.kept + PRUNE_SLACK) return this.pins.size
    this.prune()
    return this.pins.size
  }

  /**
   * Records what `ev` replaced, given what the state's apply() returned for it, the deadline
   * records its puts replaced, and the table after it (where the others still are).
   */
  superseded(ev: WalEvent, undo: unknown, displaced: Displaced, deadlines: Deadlines): void {
    // Past a revert, a write (none is expected: see the header) must still come after what the revert retained.
    const until = ev.seq > this.floor ? ev.seq : this.floor + 1
    if (ev.type === 'put' || ev.type === 'del') {
      const prev = undo as Entry | undefined
      this.add(ev.key, until, prev, deadlineOf(prev, (displaced as Deadline | undefined) ?? deadlines.get(ev.key)))
    } else if (ev.type === 'batch') {
      const prev = undo as (Entry | undefined)[]
      const was = displaced as readonly (Deadline | undefined)[] | undefined
      for (let i = 0; i < ev.ops.length; i++) {
        const key = ev.ops[i]!.key
        // A version an earlier op of this batch wrote was never seen: no snapshot reads it.
        if (prev[i] !== undefined && prev[i]!.seq === ev.seq) continue
        this.add(key, until, prev[i], deadlineOf(prev[i], was?.[i] ?? deadlines.get(key)))
      }
    }
  }

  /**
   * A failed commit's write is being undone: call once per undo, then `reverted` for each key
   * whose current entry the undo replaces. Returns the undo's seq.
   */
  beginRevert(): number {
    this.floor = ++this.top
    return this.floor
  }

  /** Snapshots taken before the undo at `seq` (beginRevert's) keep reading `entry`, as they did. */
  reverted(key: string, seq: number, entry: Entry | undefined, at: number | undefined): void {
    this.add(key, seq, entry, at)
  }

  /**
   * The deadline of version `seq` of `key` if a version held here is that one. One seq is one
   * version: the versions a batch wrote over within itself are never held (superseded, revert).
   */
  deadlineOf(key: string, seq: number): number | undefined {
    if (this.timed === 0) return undefined
    const list = this.versions.get(key)
    if (list === undefined) return undefined
    for (const v of list) if (v.entry !== undefined && v.entry.seq === seq && v.at !== undefined) return v.at
    return undefined
  }

  /** The entry of `key` as of `seq` (undefined: absent then), or CURRENT when no write replaced it since. */
  asOf(key: string, seq: number): Entry | undefined | typeof CURRENT {
    const list = this.versions.get(key)
    return list === undefined ? CURRENT : pick(list, seq)
  }

  /** Retained keys with their versions from `from` on (inclusive), in order or reversed. */
  keys(from: string | undefined, reverse: boolean): IterableIterator<[string, Version[]]> {
    return reverse ? this.versions.entriesReversed(from) : this.versions.entries(from)
  }

  private add(key: string, seq: number, prev: Entry | undefined, at: number | undefined): void {
    // A write as old as the oldest pin cannot be needed (pins are taken at db.seq, after it).
    if (seq <= this.oldest) return
    if (seq > this.top) this.top = seq
    const list = this.versions.get(key)
    if (list === undefined) this.versions.set(key, [{ until: seq, entry: prev, at }])
    else {
      // `prev` was current from the key's last retained write on: read only by a pin since then.
      if (this.newest < list[list.length - 1]!.until) return
      list.push({ until: seq, entry: prev, at })
    }
    this.count++
    if (at !== undefined) this.timed++
  }

  /**
   * Keeps only the versions an open pin reads: version i of a key is read by the pins P with
   * until(i-1) <= P < until(i) (the first one by every pin before its until).
   */
  private prune(): void {
    const pins = [...this.pins.keys()].sort((a, b) => a - b)
    const emptied: string[] = []
    let count = 0
    let timed = 0
    this.versions.forEachPair((key, list) => {
      // Compacted in place: `n` versions kept so far.
      let n = 0
      let from = -Infinity
      let j = 0
      for (const v of list) {
        while (j < pins.length && pins[j]! < from) j++
        if (j < pins.length && pins[j]! < v.until) {
          list[n++] = v
          if (v.at !== undefined) timed++
        }
        from = v.until
      }
      count += n
      if (n === 0) emptied.push(key)
      else list.length = n
    })
    for (const k of emptied) this.versions.delete(k)
    this.count = this.kept = count
    this.timed = timed
  }
}

/** The first version replaced after `seq` is the one `seq` saw; none: the current entry. */
export function pick(list: readonly Version[], seq: number): Entry | undefined | typeof CURRENT {
  for (let i = 0; i < list.length; i++) if (list[i]!.until > seq) return list[i]!.entry
  return CURRENT
}

/** The deadline of `prev` if `d` is its record. */
function deadlineOf(prev: Entry | undefined, d: Deadline | undefined): number | undefined {
  return prev !== undefined && d !== undefined && d.seq === prev.seq ? d.at : undefined
}

/** Versions an unpin of a pin other than the oldest may leave beyond twice the last prune's. */
const PRUNE_SLACK = 1024
