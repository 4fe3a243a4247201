// The in-memory projection: key → current Entry, plus the declared entanglements. Applying an
// event returns what it replaced so that a failed sync-mode commit can be undone and change
// streams can report `prev`.
//
// Keys live in two places. Recovery loads into a BaseTable (columns over the bytes it read: no
// object per key); a key moves from there into the `entries` Map the first time anything
// touches it (a read, a write, a physics decision), so the Map holds what is in use and the
// base what has not been touched since the open. Every lookup goes through get/has/seqOf.
import type { WalEvent } from '../events/types.js'
import { currentSlabOf, keptInSlab } from '../events/plainEncoder.js'
import { decodeValueAt, freezeDecoded } from '../events/valueCodec.js'
import { ENTANGLEMENT_EXTENSION, Entanglements } from './entanglements.js'
import type { EntangleUndo } from './entanglements.js'
import { BaseTable } from './baseTable.js'
import type { BaseView, Inflater } from './baseTable.js'
import { PlainEntry } from './entry.js'
import type { Entry } from './entry.js'
import { OrderedIndex } from './orderedIndex.js'
import { Deadlines, EXPIRY_EXTENSION } from './deadlines.js'
import type { Deadline } from './deadlines.js'
import { CURRENT, RetainedVersions } from './retainedVersions.js'
import type { Displaced } from './retainedVersions.js'

/** What an event replaced: one slot for put/del, one per op (in order) for a batch, the partner map for entangle. */
export type Undo = Entry | undefined | (Entry | undefined)[] | EntangleUndo

/** Where apply() leaves the deadline records an event's writes replaced or cleared, for revert() (a WriteRequest is one). */
export interface DeadlineUndo {
  displaced: Displaced
}

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
  /** An evaporated key comes back into the Map: its entry from the packed bytes evaporate() was given. */
  revive(seq: number, time: number, packed: Uint8Array): Entry
  /** `e` just moved into the Map after reads served from the base (see MemoryState.read) worth `mass`. */
  credit(e: Entry, mass: number): void
}

/**
 * Serves reads for the physics layer (db.get with physics on): the entries' reads, and reads of
 * keys that stay in the base (see MemoryState.read).
 */
export interface StateReader {
  /** A read of `e`, the current entry of `key`: its value. */
  read(e: Entry, key: string): unknown
  /** Whether a key outside the Map may be read without moving it there (nothing to pull on its reads). */
  readonly servesDormant: boolean
  /** A read of `key` was served from the base; the key stays there. */
  dormantRead(key: string): void
  /** As read(), given the value just decoded from the entry's bytes. */
  readDecoded(e: Entry, key: string, decoded: unknown): unknown
  /** Mass one read adds now (a base row counts its reads' mass in these units, as entries do). */
  readonly readMass: number
}

/**
 * Keeps decoded values of base rows by row (physics.packWrites): reads of a key that stays in the
 * base then cost no entry, no Map slot and no second decode. The keeper owns the memory budget.
 */
export interface RowKeeper {
  /** A read served from a row's kept value. */
  rowHit(key: string): void
  /**
   * A row's value of `size` encoded bytes was just decoded (and frozen) for a read that brought
   * the row's mass to `mass` (dormantRead counted it): true when it is to be kept (the keeper
   * has counted its bytes).
   */
  keepRow(size: number, mass: number): boolean
  /** Kept row values were dropped (their rows died, were evicted, or the base was rebuilt): `keys` values, `size` encoded bytes. */
  droppedRows(keys: number, size: number): void
}

/** Kept row values sampled to find the lightest (as the hot tier's victims, see SpacetimeTiers.SAMPLE). */
const ROW_SAMPLE = 5

export class MemoryState {
  /** Keys touched since the open (and every key written since): key → current entry. */
  readonly entries = new Map<string, Entry>()
  readonly entanglements = new Entanglements()
  /** Which versions expire when (a record holds only while its seq is the key's current one). */
  readonly deadlines = new Deadlines()
  /** Keys as recovery loaded them and nothing has touched since. */
  private base = new BaseTable()
  /** Keys in order; exists once a range read has asked for it. */
  private ordered: OrderedIndex | undefined
  private shaper: EntryShaper | undefined
  private adopt: ((e: Entry) => Entry) | undefined
  /**
   * New keys are written into the base, not the Map (only with a shaper: without physics the
   * state is the flat Map it always was). A key's first write costs a row and its bytes in a
   * shared buffer instead of a Map entry, a key string, an entry object and a view.
   */
  private packWrites = false
  /** Versions replaced since the oldest open snapshot; exists only while a snapshot is open (see pin). */
  private retained: RetainedVersions | undefined
  /** Keeps row values (see RowKeeper); without one a key's second read moves it into the Map. */
  private keeper: RowKeeper | undefined
  /** Decoded, frozen values of live raw base rows, by row (a hole: not kept). */
  private rowValues: unknown[] = []
  /** Kept row values. */
  private keptRows = 0
  /** The rows keeping a value, in keptList[0, keptRows) (eviction samples it); keptSlot[row] is a row's index there. */
  private keptList = new Int32Array(64)
  private keptSlot = new Int32Array(0)
  /** Seed of the row sampler (xorshift32): evictions are reproducible for a given history. */
  private rowRng = 0x2545f491
  /** The deadline records the last applyEvent's puts replaced (see apply). */
  private displaced: Displaced = undefined

  /**
   * Hands entry shaping to `shaper` from now on. Entries already in the Map, and every entry
   * later moved in from the base, are passed to `adopt`, which returns what replaces each one
   * (same key, same seq, same bytes).
   */
  setShaper(shaper: EntryShaper, adopt: (e: Entry) => Entry, packWrites: boolean): void {
    this.shaper = shaper
    this.adopt = adopt
    this.packWrites = packWrites
    for (const [k, e] of this.entries) {
      const t = adopt(e)
      if (t !== e) {
        this.entries.set(k, t)
        this.ordered?.set(k, t)
      }
    }
  }

  /** Reads of base rows keep their values by row from now on, under `keeper`'s budget. */
  setRowKeeper(keeper: RowKeeper): void {
    this.keeper = keeper
  }

  // ── Loading (recovery, before any shaper or ordered index exists) ──

  /** Sets a key from bytes read from a checkpoint or a WAL record; keeps references to the buffers. */
  loadPut(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number, seq: number, time: number): void {
    this.base.loadPut(kb, kOff, kLen, vb, vOff, vLen, seq, time)
    // A JSON segment's records arrive as events, into the Map: a later version loaded here wins.
    if (this.entries.size > 0) this.entries.delete(kb.toString('utf8', kOff, kOff + kLen))
  }

  /** Sets the `n` keys of a checkpoint chunk (see BaseTable.loadMany). Only while the Map is empty. */
  loadMany(b: Buffer, n: number, pos: Int32Array, nums: Float64Array, hashes?: Int32Array): void {
    this.base.loadMany(b, n, pos, nums, hashes)
  }

  /** Puts the keys loadMany added so far in the hash table (a loader pausing between slices does this work now, not all at the end). */
  settleLoad(): void {
    this.base.settle()
  }

  /** Makes room for `n` keys about to be loaded. */
  reserve(n: number): void {
    this.base.reserve(n)
  }

  loadDel(kb: Buffer, kOff: number, kLen: number): void {
    this.base.loadDel(kb, kOff, kLen)
    if (this.entries.size > 0) this.entries.delete(kb.toString('utf8', kOff, kOff + kLen))
  }

  /** Loading is over: if replay left the buffers mostly overwritten, copy the live bytes out; else give back room reserved and not used. */
  finishLoading(): void {
    if (this.base.wasteful()) this.rebuildBase()
    else this.base.trim()
  }

  /** Restores what a checkpoint holds besides entries (call before replaying the log after it). */
  loadCheckpointExtensions(extensions: ReadonlyMap<string, Uint8Array>): void {
    const data = extensions.get(ENTANGLEMENT_EXTENSION)
    if (data !== undefined) this.entanglements.load(data)
    const expiry = extensions.get(EXPIRY_EXTENSION)
    if (expiry !== undefined) this.deadlines.load(expiry)
  }

  /**
   * The ordered index, maintained by every apply from then on. The first call starts its build
   * (in time slices, see OrderedIndex) from the Map and a view of the base: base keys stay in
   * the base; the index holds entries of their rows.
   */
  orderedIndex(): OrderedIndex {
    if (this.ordered === undefined) {
      const base = this.base.live > 0 ? this.base.view() : undefined
      this.ordered = new OrderedIndex(Array.from(this.entries.keys()), Array.from(this.entries.values()), base)
    }
    return this.ordered
  }

  /** Sum of stored value bytes: a walk over the Map's entries, for stats, not for hot paths. */
  valueBytes(): number {
    let n = this.base.liveValueBytes
    for (const e of this.entries.values()) n += e.bytes.length
    return n
  }

  get size(): number {
    return this.entries.size + this.base.live
  }

  /** The current entry of `key`, moving it into the Map if it was still in the base. */
  get(key: string): Entry | undefined {
    const e = this.entries.get(key)
    if (e !== undefined || this.base.live === 0) return e
    const b = this.takeFromBase(key)
    if (b !== undefined) this.entries.set(key, b)
    return b
  }

  /**
   * A read of `key`'s value (undefined when absent), through `reader` (the physics layer) when
   * given. A key in the base whose value is msgpack bytes is decoded from there, without an
   * entry or a Map slot. With a RowKeeper the decoded value may stay, by row, and the key stays
   * in the base; without one, the key's second read moves it into the Map, where the tiers may
   * keep it decoded: a key read once after a load or a write costs no object.
   */
  read(key: string, reader: StateReader | undefined): unknown {
    const e = this.entries.get(key)
    if (e !== undefined) return reader === undefined ? e.value() : reader.read(e, key)
    return this.readBase(key, reader)
  }

  /** As read(), for a key the caller has just found absent from the Map (`entries`). */
  readBase(key: string, reader: StateReader | undefined): unknown {
    const base = this.base
    if (base.live === 0) return undefined
    const row = base.find(key)
    if (row < 0) return undefined
    if (reader === undefined) return this.promote(key, row).value()
    // A value kept by row (only live msgpack rows keep one): the whole read, while no key has partners.
    if (this.keptRows > 0 && row < this.rowValues.length) {
      const kept = this.rowValues[row]
      if (kept !== undefined && reader.servesDormant) {
        base.touch(row, reader.readMass)
        this.keeper!.rowHit(key)
        return kept
      }
    }
    return this.readRow(key, row, reader)
  }

  /** Same as read(), with the entry's seq and time (undefined when absent). */
  readEntry(key: string, reader: StateReader | undefined): { value: unknown; seq: number; time: number } | undefined {
    const e = this.entries.get(key)
    if (e !== undefined) return { value: reader === undefined ? e.value() : reader.read(e, key), seq: e.seq, time: e.time }
    if (this.base.live === 0) return undefined
    const row = this.base.find(key)
    if (row < 0) return undefined
    const seq = this.base.seqAt(row)
    const time = this.base.timeAt(row)
    return { value: reader === undefined ? this.promote(key, row).value() : this.readRow(key, row, reader), seq, time }
  }

  private readRow(key: string, row: number, reader: StateReader): unknown {
    const base = this.base
    if (!reader.servesDormant || !base.isRaw(row)) return reader.read(this.promote(key, row), key)
    const keeper = this.keeper
    if (keeper !== undefined && this.keptRows > 0 && row < this.rowValues.length) {
      const kept = this.rowValues[row]
      if (kept !== undefined) {
        base.touch(row, reader.readMass)
        keeper.rowHit(key)
        return kept
      }
    }
    // Decoded from the shared buffer it sits in: no view of the bytes, no DataView for them.
    const off = base.valueOffset(row)
    const len = base.valueLength(row)
    const v = decodeValueAt(base.valueBuffer(row), off, off + len)
    if (keeper !== undefined) {
      const mass = base.touch(row, reader.readMass)
      reader.dormantRead(key)
      // A value that cannot be frozen is decoded afresh for every read, as from an entry.
      if (freezeDecoded(v) && keeper.keepRow(len, mass)) this.keepRow(row, v)
      return v
    }
    // The first read is served from the row; the second moves the key into the Map.
    if (base.massAt(row) === 0) {
      base.touch(row, reader.readMass)
      reader.dormantRead(key)
      freezeDecoded(v)
      return v
    }
    // The entry is credited with the reads served from the row (entryOfRow), then this one counts.
    return reader.readDecoded(this.promote(key, row), key, v)
  }

  private keepRow(row: number, v: unknown): void {
    const vs = this.rowValues
    if (row >= vs.length) {
      // Grown by copying into a preallocated array: assigning far past the end would make it sparse.
      const n = Math.max(1024, row + 1, Math.ceil(this.base.rowCount * 1.25))
      const grown = new Array<unknown>(n)
      for (let i = 0; i < vs.length; i++) grown[i] = vs[i]
      this.rowValues = grown
      const slots = new Int32Array(n)
      slots.set(this.keptSlot)
      this.keptSlot = slots
    }
    if (this.keptRows === this.keptList.length) {
      const list = new Int32Array(this.keptList.length * 2)
      list.set(this.keptList)
      this.keptList = list
    }
    this.rowValues[row] = v
    this.keptList[this.keptRows] = row
    this.keptSlot[row] = this.keptRows
    this.keptRows++
  }

  /**
   * Drops kept row values lighter than `mass` (the lightest of a few sampled at random each
   * time) until `size` bytes are freed; returns the bytes freed. The keeper calls this when its
   * budget is full.
   */
  evictRows(size: number, mass: number): number {
    let freed = 0
    const base = this.base
    for (let victims = 0; freed < size && victims < 8 && this.keptRows > 0; victims++) {
      let best = -1
      let bestMass = mass
      for (let k = 0; k < ROW_SAMPLE; k++) {
        const r = this.keptList[this.nextRowRandom() % this.keptRows]!
        const m = base.massAt(r)
        if (m < bestMass) {
          best = r
          bestMass = m
        }
      }
      if (best < 0) break
      const n = base.valueLength(best)
      this.dropKept(best)
      freed += n
    }
    return freed
  }

  /** Halves the masses of the base rows `shift` times (with the entries', see MassClock.advance). */
  decayRows(shift: number): void {
    if (this.base.live > 0) this.base.decayMasses(shift)
  }

  /** Calls `fn` with every key in the base that was read there, and the mass of those reads (a physics checkpoint saves them). */
  forEachBaseMass(fn: (key: string, mass: number) => void): void {
    const base = this.base
    base.forEachLive((row) => {
      const m = base.massAt(row)
      if (m > 0) fn(base.keyAt(row), m)
    })
  }

  /** Kept row values and their encoded bytes. */
  keptRowValues(): { keys: number } {
    return { keys: this.keptRows }
  }

  private nextRowRandom(): number {
    let x = this.rowRng
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.rowRng = x >>> 0
    return this.rowRng
  }

  private dropKept(row: number): void {
    this.rowValues[row] = undefined
    // Swap-remove from the list: O(1), order does not matter (victims are sampled).
    const slot = this.keptSlot[row]!
    const last = this.keptList[--this.keptRows]!
    this.keptList[slot] = last
    this.keptSlot[last] = slot
    this.keeper!.droppedRows(1, this.base.valueLength(row))
  }

  /** Kills a base row, dropping its kept value. */
  private killRow(row: number): void {
    if (this.keptRows > 0 && row < this.rowValues.length && this.rowValues[row] !== undefined) this.dropKept(row)
    this.base.kill(row)
  }

  /** Replaces the base by a copy without its dead rows: rows are renumbered, so kept values go. */
  private rebuildBase(): void {
    if (this.keptRows > 0) {
      let bytes = 0
      for (let k = 0; k < this.keptRows; k++) bytes += this.base.valueLength(this.keptList[k]!)
      this.keeper!.droppedRows(this.keptRows, bytes)
      this.keptRows = 0
    }
    this.rowValues = []
    this.keptSlot = new Int32Array(0)
    this.base = this.base.compacted()
  }

  /** Moves a base row's key into the Map. */
  private promote(key: string, row: number): Entry {
    const e = this.entryOfRow(row)
    this.killRow(row)
    this.entries.set(key, e)
    return e
  }

  has(key: string): boolean {
    return this.entries.has(key) || (this.base.live > 0 && this.base.find(key) >= 0)
  }

  /** Current seq of a key, 0 when absent: what `ifSeq` compares against. */
  seqOf(key: string): number {
    const e = this.entries.get(key)
    if (e !== undefined) return e.seq
    const row = this.base.live > 0 ? this.base.find(key) : -1
    return row < 0 ? 0 : this.base.seqAt(row)
  }

  /** Calls `fn` with every key and entry, without moving base keys into the Map (reads of a whole state: CLI, export). */
  forEachEntry(fn: (key: string, e: Entry) => void): void {
    for (const [k, e] of this.entries) fn(k, e)
    const base = this.base
    base.forEachLive((row) => fn(base.keyAt(row), base.entry(row)))
  }

  // ── Dormant keys: the physics layer's coldest keys leave the Map for the base ──

  /** How the base turns packed values (see evaporate) back into msgpack bytes. */
  setInflater(inflate: Inflater): void {
    this.base.setInflater(inflate)
  }

  /**
   * Moves `key`, whose current entry is `e`, from the Map into the base: its bytes (or their
   * packed form) are copied there and no object for it stays behind. Not while the ordered
   * index exists (it holds entries). Returns whether it moved.
   */
  evaporate(key: string, e: Entry, packed: Uint8Array | undefined): boolean {
    if (this.ordered !== undefined || this.entries.get(key) !== e) return false
    this.entries.delete(key)
    this.base.append(key, e.seq, e.time, packed ?? e.bytes, packed !== undefined)
    return true
  }

  /** Keys in the base (not touched since the open, or evaporated) and their value bytes. */
  dormant(): { keys: number; bytes: number } {
    return { keys: this.base.live, bytes: this.base.liveValueBytes }
  }

  /**
   * Rebuilds the base without its dead rows once there are an eighth as many as live ones (a
   * walk over the live rows): dead rows keep their bytes, so this bounds the waste to ~12%.
   */
  compactBase(): boolean {
    const dead = this.base.deadRows
    if (dead < 65536 || dead * 8 < this.base.live) return false
    this.rebuildBase()
    return true
  }

  /** The base as of now, for a checkpoint (undefined when every key is in the Map). */
  baseView(): { view: BaseView; live: number } | undefined {
    return this.base.live === 0 ? undefined : { view: this.base.view(), live: this.base.live }
  }

  /**
   * Applies `ev`, returning what it replaced. `keep` (a write that may be reverted) receives the
   * deadline records its writes replaced or cleared, which revert() puts back.
   */
  apply(ev: WalEvent, keep?: DeadlineUndo): Undo {
    const retained = this.retained
    // The one cost snapshots add to a write while none is open: this test.
    if (keep === undefined && retained === undefined) return this.applyEvent(ev)
    this.displaced = undefined
    const undo = this.applyEvent(ev)
    const displaced = this.displaced
    this.displaced = undefined
    if (keep !== undefined) keep.displaced = displaced
    if (retained !== undefined) retained.superseded(ev, undo, displaced, this.deadlines)
    return undo
  }

  private applyEvent(ev: WalEvent): Undo {
    if (ev.type === 'put') {
      if (ev.expiresAt !== undefined) this.displaced = this.deadlines.set(ev.key, ev.seq, ev.expiresAt)
      else if (this.deadlines.size !== 0) this.displaced = this.deadlines.clear(ev.key)
      return this.put(ev.key, ev.seq, ev.time, ev.value)
    }
    if (ev.type === 'del') {
      if (this.deadlines.size !== 0) this.displaced = this.deadlines.clear(ev.key)
      return this.remove(ev.key)
    }
    if (ev.type === 'entangle') return this.entangle(ev.key, ev.partners, ev.strength)
    const undo: (Entry | undefined)[] = new Array(ev.ops.length)
    let displaced: (Deadline | undefined)[] | undefined
    for (let i = 0; i < ev.ops.length; i++) {
      const op = ev.ops[i]!
      let was: Deadline | undefined
      if (op.type === 'put' && op.expiresAt !== undefined) was = this.deadlines.set(op.key, ev.seq, op.expiresAt)
      else if (this.deadlines.size !== 0) was = this.deadlines.clear(op.key)
      if (was !== undefined) (displaced ??= new Array<Deadline | undefined>(ev.ops.length))[i] = was
      undo[i] = op.type === 'put' ? this.put(op.key, ev.seq, ev.time, op.value) : this.remove(op.key)
    }
    this.displaced = displaced
    return undo
  }

  /** Applies an event when nothing will need undoing (recovery, buffered writes nobody watches): one map operation per key. */
  replay(ev: WalEvent): void {
    if (this.ordered !== undefined || this.shaper !== undefined || this.retained !== undefined) {
      this.apply(ev)
      return
    }
    const m = this.entries
    if (ev.type === 'entangle') {
      this.entanglements.apply(ev.key, ev.partners, ev.strength)
      return
    }
    const inBase = this.base.live > 0
    if (ev.type === 'put') {
      if (inBase) this.dropFromBase(ev.key)
      m.set(ev.key, new PlainEntry(ev.seq, ev.time, ev.value))
      if (ev.expiresAt !== undefined) this.deadlines.set(ev.key, ev.seq, ev.expiresAt)
      else if (this.deadlines.size !== 0) this.deadlines.clear(ev.key)
    } else if (ev.type === 'del') {
      if (inBase) this.dropFromBase(ev.key)
      m.delete(ev.key)
      if (this.deadlines.size !== 0) this.deadlines.clear(ev.key)
    } else {
      for (const op of ev.ops) {
        if (inBase) this.dropFromBase(op.key)
        if (op.type === 'put') {
          m.set(op.key, new PlainEntry(ev.seq, ev.time, op.value))
          if (op.expiresAt !== undefined) this.deadlines.set(op.key, ev.seq, op.expiresAt)
          else if (this.deadlines.size !== 0) this.deadlines.clear(op.key)
        } else {
          m.delete(op.key)
          if (this.deadlines.size !== 0) this.deadlines.clear(op.key)
        }
      }
    }
  }

  /**
   * Reverts `ev` given what apply() returned and the deadline records it replaced (what apply
   * left in `keep`). Undo events newest first. Open snapshots keep reading what they read.
   */
  revert(ev: WalEvent, undo: Undo, displaced?: Displaced): void {
    if (ev.type === 'entangle') {
      this.entanglements.revert(ev.key, undo as EntangleUndo)
      this.shaper?.entangled(ev.key)
      return
    }
    const at = this.retained?.beginRevert() ?? 0
    if (ev.type !== 'batch') {
      this.undoKey(ev.key, undo as Entry | undefined, displaced as Deadline | undefined, at)
      return
    }
    const prev = undo as (Entry | undefined)[]
    const was = displaced as readonly (Deadline | undefined)[] | undefined
    // Snapshots saw a key's last version in the batch; the ones its earlier ops wrote, no one did.
    const seen = at !== 0 && ev.ops.length > 1 ? new Set<string>() : undefined
    for (let i = ev.ops.length - 1; i >= 0; i--) {
      const key = ev.ops[i]!.key
      const first = seen === undefined || !seen.has(key)
      seen?.add(key)
      this.undoKey(key, prev[i], was?.[i], first ? at : 0)
    }
  }

  /** One key of revert(): `at` is the undo's seq among retained versions (0: no snapshot needs what it undoes). */
  private undoKey(key: string, prev: Entry | undefined, displaced: Deadline | undefined, at: number): void {
    if (at !== 0) {
      const cur = this.get(key)
      this.retained!.reverted(key, at, cur, cur === undefined ? undefined : this.deadlines.of(key, cur.seq))
    }
    this.restore(key, prev)
    // The restored version's deadline record, if the undone put replaced it.
    if (displaced !== undefined) this.deadlines.restore(displaced)
  }

  private put(key: string, seq: number, time: number, bytes: Uint8Array): Entry | undefined {
    let prev = this.entries.get(key)
    if (prev === undefined) {
      if (this.packWrites && this.ordered === undefined) {
        // A value just encoded stays in the encoder's slab, not copied (the slab becomes its storage).
        const shared = currentSlabOf(bytes)
        const row = this.base.insert(key, seq, time, bytes, shared)
        if (row < 0) {
          if (shared !== undefined) keptInSlab(bytes)
          return undefined
        }
        // A key already in the base: its new version goes into the Map, as any rewrite.
        prev = this.entryOfRow(row)
        this.killRow(row)
      } else if (this.base.live > 0) {
        prev = this.takeFromBase(key)
      }
    }
    const e = this.shaper === undefined ? new PlainEntry(seq, time, bytes) : this.shaper.make(seq, time, bytes, prev)
    this.entries.set(key, e)
    this.ordered?.set(key, e)
    return prev
  }

  private remove(key: string): Entry | undefined {
    const prev = this.current(key)
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
    // The entry being undone may have left the Map meanwhile (evaporated): take it from wherever it is.
    const cur = this.current(key)
    this.entries.set(key, prev)
    this.ordered?.set(key, prev)
    if (this.shaper !== undefined && cur !== prev) {
      if (cur !== undefined) this.shaper.leave(cur)
      this.shaper.enter(prev)
    }
  }

  /** The current entry, taken out of the base (not put in the Map) when it is there: the caller replaces or removes it. */
  private current(key: string): Entry | undefined {
    const e = this.entries.get(key)
    return e !== undefined || this.base.live === 0 ? e : this.takeFromBase(key)
  }

  private takeFromBase(key: string): Entry | undefined {
    const base = this.base
    const row = base.find(key)
    if (row < 0) return undefined
    const e = this.entryOfRow(row)
    this.killRow(row)
    return e
  }

  /** The entry a base row becomes in the Map: an evaporated key revived by the shaper, or a recovered one adopted. */
  private entryOfRow(row: number): Entry {
    const base = this.base
    const packed = this.shaper === undefined ? undefined : base.packedAt(row)
    if (packed !== undefined) return this.shaper!.revive(base.seqAt(row), base.timeAt(row), packed)
    const e = base.entry(row)
    if (this.adopt === undefined) return e
    const t = this.adopt(e)
    const mass = base.massAt(row)
    if (mass > 0) this.shaper!.credit(t, mass)
    return t
  }

  // ── Snapshots: a pinned seq reads the state as of then (see RetainedVersions) ──

  /**
   * Pins the state as it is now, at `seq` (the current seq): from now on the state keeps what
   * writes replace, until unpin. O(1). Returns the seq pinned, which reads and unpin take: `seq`,
   * or past it once a failed commit was undone (see RetainedVersions).
   */
  pin(seq: number): number {
    this.retained ??= new RetainedVersions()
    const at = this.retained.pinAt(seq)
    this.retained.pin(at)
    return at
  }

  /** The versions kept for open snapshots (call only while one is: after pin, before the last unpin). */
  get pinned(): RetainedVersions {
    return this.retained!
  }

  /** Releases a pin; the last one drops every retained version at once. */
  unpin(seq: number): void {
    if (this.retained !== undefined && this.retained.unpin(seq) === 0) this.retained = undefined
  }

  /** The entry of `key` as of pinned `seq` (undefined: absent then). */
  entryAsOf(key: string, seq: number): Entry | undefined {
    const r = this.retained === undefined ? CURRENT : this.retained.asOf(key, seq)
    return r === CURRENT ? this.get(key) : r
  }

  /** Whether some version a snapshot reads may have a deadline (false: none needs a look). */
  get mayExpire(): boolean {
    return this.deadlines.size !== 0 || this.retained?.hasDeadlines === true
  }

  /** The deadline of version `seq` of `key`, current or kept for snapshots (undefined: none). */
  deadlineAsOf(key: string, seq: number): number | undefined {
    return this.deadlines.of(key, seq) ?? this.retained?.deadlineOf(key, seq)
  }

  /** Versions held for open snapshots (0 when none is open). */
  get retainedVersions(): number {
    return this.retained?.size ?? 0
  }

  private dropFromBase(key: string): void {
    const row = this.base.find(key)
    if (row >= 0) this.killRow(row)
  }

}
