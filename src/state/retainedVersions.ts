// What open snapshots need of the past: for each key written since the oldest open snapshot was
// taken, the versions those writes replaced that some open snapshot reads (MVCC, as in a
// database's undo log, but in memory). A snapshot is a pinned seq; it reads a key as the first
// retained version replaced after its seq, or the key's current entry when nothing replaced it
// since. Taking a snapshot costs O(1), the state pays on writes only while one is open, and
// closing the last one drops everything.
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
import btree from 'sorted-btree'
import type { WalEvent } from '../events/types.js'
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
}

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

  pin(seq: number): void {
    this.pins.set(seq, (this.pins.get(seq) ?? 0) + 1)
    if (seq < this.oldest) this.oldest = seq
    if (seq > this.newest) this.newest = seq
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
      this.count = this.kept = 0
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

  /** Records what `ev` replaced, given what the state's apply() returned for it. */
  superseded(ev: WalEvent, undo: unknown): void {
    if (ev.type === 'put' || ev.type === 'del') this.add(ev.key, ev.seq, undo as Entry | undefined)
    else if (ev.type === 'batch') {
      const prev = undo as (Entry | undefined)[]
      for (let i = 0; i < ev.ops.length; i++) this.add(ev.ops[i]!.key, ev.seq, prev[i])
    }
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

  private add(key: string, seq: number, prev: Entry | undefined): void {
    // A write as old as the oldest pin cannot be needed (pins are taken at db.seq, after it).
    if (seq <= this.oldest) return
    const list = this.versions.get(key)
    if (list === undefined) this.versions.set(key, [{ until: seq, entry: prev }])
    else {
      // `prev` was current from the key's last retained write on: read only by a pin since then.
      if (this.newest < list[list.length - 1]!.until) return
      list.push({ until: seq, entry: prev })
    }
    this.count++
  }

  /**
   * Keeps only the versions an open pin reads: version i of a key is read by the pins P with
   * until(i-1) <= P < until(i) (the first one by every pin before its until).
   */
  private prune(): void {
    const pins = [...this.pins.keys()].sort((a, b) => a - b)
    const emptied: string[] = []
    let count = 0
    this.versions.forEachPair((key, list) => {
      // Compacted in place: `n` versions kept so far.
      let n = 0
      let from = -Infinity
      let j = 0
      for (const v of list) {
        while (j < pins.length && pins[j]! < from) j++
        if (j < pins.length && pins[j]! < v.until) list[n++] = v
        from = v.until
      }
      count += n
      if (n === 0) emptied.push(key)
      else list.length = n
    })
    for (const k of emptied) this.versions.delete(k)
    this.count = this.kept = count
  }
}

/** Versions an unpin of a pin other than the oldest may leave beyond twice the last prune's. */
const PRUNE_SLACK = 1024

/** The first version replaced after `seq` is the one `seq` saw; none: the current entry. */
export function pick(list: readonly Version[], seq: number): Entry | undefined | typeof CURRENT {
  for (let i = 0; i < list.length; i++) if (list[i]!.until > seq) return list[i]!.entry
  return CURRENT
}
