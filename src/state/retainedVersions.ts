// What open snapshots need of the past: for each key written since the oldest open snapshot was
// taken, the versions those writes replaced (MVCC, as in a database's undo log, but in memory).
// A snapshot is a pinned seq; it reads a key as the first retained version replaced after its
// seq, or the key's current entry when nothing replaced it since. Taking a snapshot costs O(1),
// the state pays on writes only while one is open, and closing the last one drops everything.
//
// Invariant: while a snapshot pinned at S is open, every write with seq > S has left a version
// here (the state calls `superseded` for every event it applies while this object exists), and
// versions are only dropped once no open snapshot is older than the write that replaced them.
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
  private count = 0

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
  }

  /** Releases one pin of `seq`; returns how many pins are left. Drops the versions no pin needs any more. */
  unpin(seq: number): number {
    const c = this.pins.get(seq)
    if (c === undefined) return this.pins.size
    if (c > 1) {
      this.pins.set(seq, c - 1)
      return this.pins.size
    }
    this.pins.delete(seq)
    if (this.pins.size === 0 || seq !== this.oldest) return this.pins.size
    this.oldest = Math.min(...this.pins.keys())
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
    const v: Version = { until: seq, entry: prev }
    const list = this.versions.get(key)
    if (list === undefined) this.versions.set(key, [v])
    else list.push(v)
    this.count++
  }

  /** Drops versions replaced at or before the oldest pin: no open snapshot reads them. */
  private prune(): void {
    const oldest = this.oldest
    const emptied: string[] = []
    this.versions.forEachPair((key, list) => {
      let n = 0
      while (n < list.length && list[n]!.until <= oldest) n++
      if (n === 0) return
      this.count -= n
      if (n === list.length) emptied.push(key)
      else list.splice(0, n)
    })
    for (const k of emptied) this.versions.delete(k)
  }
}

/** The first version replaced after `seq` is the one `seq` saw; none: the current entry. */
export function pick(list: readonly Version[], seq: number): Entry | undefined | typeof CURRENT {
  for (let i = 0; i < list.length; i++) if (list[i]!.until > seq) return list[i]!.entry
  return CURRENT
}
