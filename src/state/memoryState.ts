// The in-memory projection: key → current Entry. Applying an event returns what it replaced so
// that a failed sync-mode commit can be undone and change streams can report `prev`.
import type { WalEvent } from '../events/types.js'
import { Entry } from './entry.js'
import { OrderedIndex } from './orderedIndex.js'

/** What an event replaced: one slot for put/del, one per op (in order) for a batch. */
export type Undo = Entry | undefined | (Entry | undefined)[]

export class MemoryState {
  readonly entries = new Map<string, Entry>()
  /** Keys in order; exists once a range read has asked for it. */
  private ordered: OrderedIndex | undefined

  /** The ordered index, built on first use and maintained by every apply from then on. */
  orderedIndex(): OrderedIndex {
    this.ordered ??= new OrderedIndex(this.entries)
    return this.ordered
  }

  /** Sum of stored value bytes: a walk over all entries, for stats, not for hot paths. */
  valueBytes(): number {
    let n = 0
    for (const e of this.entries.values()) n += e.bytes.length
    return n
  }

  get size(): number {
    return this.entries.size
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key)
  }

  /** Current seq of a key, 0 when absent: what `ifSeq` compares against. */
  seqOf(key: string): number {
    const e = this.entries.get(key)
    return e === undefined ? 0 : e.seq
  }

  apply(ev: WalEvent): Undo {
    if (ev.type === 'put') return this.set(ev.key, new Entry(ev.seq, ev.time, ev.value))
    if (ev.type === 'del') return this.remove(ev.key)
    const undo: (Entry | undefined)[] = new Array(ev.ops.length)
    for (let i = 0; i < ev.ops.length; i++) {
      const op = ev.ops[i]!
      undo[i] = op.type === 'put' ? this.set(op.key, new Entry(ev.seq, ev.time, op.value)) : this.remove(op.key)
    }
    return undo
  }

  /** Applies an event when nothing will need undoing (recovery, buffered writes nobody watches): one map operation per key. */
  replay(ev: WalEvent): void {
    if (this.ordered !== undefined) {
      this.apply(ev)
      return
    }
    const m = this.entries
    if (ev.type === 'put') m.set(ev.key, new Entry(ev.seq, ev.time, ev.value))
    else if (ev.type === 'del') m.delete(ev.key)
    else {
      for (const op of ev.ops) {
        if (op.type === 'put') m.set(op.key, new Entry(ev.seq, ev.time, op.value))
        else m.delete(op.key)
      }
    }
  }

  /** Reverts `ev` given what apply() returned. Undo events newest first. */
  revert(ev: WalEvent, undo: Undo): void {
    if (ev.type !== 'batch') {
      this.restore(ev.key, undo as Entry | undefined)
      return
    }
    const prev = undo as (Entry | undefined)[]
    for (let i = ev.ops.length - 1; i >= 0; i--) this.restore(ev.ops[i]!.key, prev[i])
  }

  /** Installs an entry directly (checkpoint load). */
  load(key: string, entry: Entry): void {
    this.entries.set(key, entry)
    this.ordered?.set(key, entry)
  }

  private set(key: string, e: Entry): Entry | undefined {
    const prev = this.entries.get(key)
    this.entries.set(key, e)
    this.ordered?.set(key, e)
    return prev
  }

  private remove(key: string): Entry | undefined {
    const prev = this.entries.get(key)
    if (prev !== undefined) {
      this.entries.delete(key)
      this.ordered?.delete(key)
    }
    return prev
  }

  private restore(key: string, prev: Entry | undefined): void {
    if (prev === undefined) this.remove(key)
    else this.set(key, prev)
  }
}
