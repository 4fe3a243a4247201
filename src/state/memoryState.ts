// The in-memory projection: key → current Entry, plus the declared entanglements. Applying an
// event returns what it replaced so that a failed sync-mode commit can be undone and change
// streams can report `prev`.
import type { WalEvent } from '../events/types.js'
import { ENTANGLEMENT_EXTENSION, Entanglements } from './entanglements.js'
import type { EntangleUndo } from './entanglements.js'
import { Entry } from './entry.js'
import { OrderedIndex } from './orderedIndex.js'

/** What an event replaced: one slot for put/del, one per op (in order) for a batch, the partner map for entangle. */
export type Undo = Entry | undefined | (Entry | undefined)[] | EntangleUndo

/**
 * Lets the physics layer (spacetime tiers) shape entries: it makes every new version of a key
 * and hears which entries leave or re-enter the state. Without one, entries are plain Entry.
 */
export interface EntryShaper {
  /** A new version of a key, replacing `prev` (which thereby leaves the state). */
  make(seq: number, time: number, bytes: Uint8Array, prev: Entry | undefined): Entry
  /** `e` left the state (its key was deleted, or an undo removed it). */
  leave(e: Entry): void
  /** `e` is in the state again (an undo restored it). */
  enter(e: Entry): void
  /** The entanglements of `key` changed. */
  entangled(key: string): void
}

export class MemoryState {
  readonly entries = new Map<string, Entry>()
  readonly entanglements = new Entanglements()
  /** Keys in order; exists once a range read has asked for it. */
  private ordered: OrderedIndex | undefined
  private shaper: EntryShaper | undefined

  /**
   * Hands entry shaping to `shaper` from now on. Entries already in the state are passed to
   * `adopt`, which returns what replaces each one (same key, same seq, same bytes).
   */
  setShaper(shaper: EntryShaper, adopt: (e: Entry) => Entry): void {
    this.shaper = shaper
    for (const [k, e] of this.entries) {
      const t = adopt(e)
      if (t !== e) {
        this.entries.set(k, t)
        this.ordered?.set(k, t)
      }
    }
  }

  /** Restores what a checkpoint holds besides entries (call before replaying the log after it). */
  loadCheckpointExtensions(extensions: ReadonlyMap<string, Uint8Array>): void {
    const data = extensions.get(ENTANGLEMENT_EXTENSION)
    if (data !== undefined) this.entanglements.load(data)
  }

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
    if (ev.type === 'put') return this.put(ev.key, ev.seq, ev.time, ev.value)
    if (ev.type === 'del') return this.remove(ev.key)
    if (ev.type === 'entangle') return this.entangle(ev.key, ev.partners, ev.strength)
    const undo: (Entry | undefined)[] = new Array(ev.ops.length)
    for (let i = 0; i < ev.ops.length; i++) {
      const op = ev.ops[i]!
      undo[i] = op.type === 'put' ? this.put(op.key, ev.seq, ev.time, op.value) : this.remove(op.key)
    }
    return undo
  }

  /** Applies an event when nothing will need undoing (recovery, buffered writes nobody watches): one map operation per key. */
  replay(ev: WalEvent): void {
    if (this.ordered !== undefined || this.shaper !== undefined) {
      this.apply(ev)
      return
    }
    const m = this.entries
    if (ev.type === 'put') m.set(ev.key, new Entry(ev.seq, ev.time, ev.value))
    else if (ev.type === 'del') m.delete(ev.key)
    else if (ev.type === 'entangle') this.entanglements.apply(ev.key, ev.partners, ev.strength)
    else {
      for (const op of ev.ops) {
        if (op.type === 'put') m.set(op.key, new Entry(ev.seq, ev.time, op.value))
        else m.delete(op.key)
      }
    }
  }

  /** Reverts `ev` given what apply() returned. Undo events newest first. */
  revert(ev: WalEvent, undo: Undo): void {
    if (ev.type === 'entangle') {
      this.entanglements.revert(ev.key, undo as EntangleUndo)
      this.shaper?.entangled(ev.key)
      return
    }
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

  private put(key: string, seq: number, time: number, bytes: Uint8Array): Entry | undefined {
    const prev = this.entries.get(key)
    const e = this.shaper === undefined ? new Entry(seq, time, bytes) : this.shaper.make(seq, time, bytes, prev)
    this.entries.set(key, e)
    this.ordered?.set(key, e)
    return prev
  }

  private remove(key: string): Entry | undefined {
    const prev = this.entries.get(key)
    if (prev !== undefined) {
      this.entries.delete(key)
      this.ordered?.delete(key)
      this.shaper?.leave(prev)
    }
    return prev
  }

  private entangle(key: string, partners: readonly string[], strength: number): EntangleUndo {
    const undo = this.entanglements.apply(key, partners, strength)
    this.shaper?.entangled(key)
    return undo
  }

  private restore(key: string, prev: Entry | undefined): void {
    if (prev === undefined) {
      this.remove(key)
      return
    }
    const cur = this.entries.get(key)
    this.entries.set(key, prev)
    this.ordered?.set(key, prev)
    if (this.shaper !== undefined && cur !== prev) {
      if (cur !== undefined) this.shaper.leave(cur)
      this.shaper.enter(prev)
    }
  }
}
