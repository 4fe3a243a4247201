// The recovered part of the state: every key as recovery left it (checkpoint + replayed log),
// held in two typed arrays of fixed-width rows that point into the byte buffers it was read
// from, instead of one Map entry, one key string and several objects per key. Loading a key
// costs a hash of its bytes and a probe; no JS string or object is made until the key is first
// touched, when MemoryState moves it into its Map ("promotes" it) and the row here dies.
//
// Rows are written only while the state is being rebuilt (loadPut/loadDel). After that the only
// change is a row dying (kill), so a snapshot needs nothing but a copy of the liveness field.
// Rows are laid out as structs (all of a row's fields in one or two cache lines), and the hash
// table keeps each slot's hash next to its row: replay updates rows in random order, and each
// scattered field would be a cache miss of its own.
import { PlainEntry } from './entry.js'
import type { Entry } from './entry.js'

const FNV_OFFSET = 0x811c9dc5 | 0
const FNV_PRIME = 16777619

// A row is 64 bytes of one buffer, seen as Int32 fields (stride I), bytes (the key's first
// INLINE bytes, at INLINE_AT) and, in its last 16 bytes, Float64 fields (stride F): one or two
// cache lines per row, where separate arrays took two. A lookup of a key of up to INLINE bytes
// compares it in the row it has just read, not in the buffer the key sits in (a cache miss).
const KEY_BUF = 0
const KEY_OFF = 1
const KEY_LEN = 2
const VAL_BUF = 3
const VAL_OFF = 4
const VAL_LEN = 5
/**
 * 0: dead (the key moved to the Map or was deleted); 1: live, the value is msgpack bytes;
 * 2: live, the value is packed (the physics layer's compressed form, see setInflater). Kills
 * write only this field, which snapshots copy.
 */
const LIVE = 6
/** Mass of the reads served from the row itself since it was written (MemoryState.read), in the reader's units. */
const READS = 7
const RAW = 1
const PACKED = 2
const I = 16
const ROW_BYTES = 4 * I
/** Byte offset in a row of the key's first INLINE bytes. */
const INLINE_AT = 32
const INLINE = 16
const SEQ = 6
const TIME = 7
const F = 8

/** Reverses the physics layer's packing of a value (LZ4 against its dictionary). */
export type Inflater = (packed: Uint8Array) => Uint8Array

const ARENA_BYTES = 1 << 20
/** Table fill while loading (fewer probes: loading is the hot path of recovery)… */
const LOAD_FILL = 0.5
/** …and for appends after it (memory: appended rows are the physics layer's evaporated keys). */
const APPEND_FILL = 0.75
const NO_HASHES = new Int32Array(0)

/** The msgpack length a packed value starts with (u32 little-endian, as lz4-napi writes it). */
function packedLength(p: Uint8Array): number {
  return (p[0]! | (p[1]! << 8) | (p[2]! << 16)) + p[3]! * 0x1000000
}

/**
 * FNV-1a over bytes (32 bits, as a signed int); a key string hashes to the same value as its
 * UTF-8 bytes. Version 2 checkpoints store it per key (docs/checkpoint-format.md), so changing it
 * needs a new checkpoint version.
 */
export function hashBytes(b: Uint8Array, off: number, len: number): number {
  let h = FNV_OFFSET
  for (let i = off, end = off + len; i < end; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME)
  return h
}

/** The rows of a table as of one moment: what a checkpoint writes from. */
export class BaseView {
  constructor(
    readonly rows: number,
    /** Liveness as of the snapshot. */
    private readonly live: Uint8Array,
    private readonly bufs: readonly Buffer[],
    private readonly ints: Int32Array,
    private readonly nums: Float64Array,
    private readonly inflate: Inflater | undefined,
  ) {}

  isLive(row: number): boolean {
    return this.live[row] !== 0
  }

  keyLength(row: number): number {
    return this.ints[row * I + KEY_LEN]!
  }

  /** Length of the value's msgpack bytes. */
  valueLength(row: number): number {
    return this.live[row] === PACKED ? packedLength(this.stored(row)) : this.ints[row * I + VAL_LEN]!
  }

  /** Copies the key's UTF-8 bytes to `to` at `at`. */
  copyKey(row: number, to: Buffer, at: number): void {
    const o = row * I
    copyBytes(this.bufs[this.ints[o + KEY_BUF]!]!, this.ints[o + KEY_OFF]!, this.ints[o + KEY_LEN]!, to, at)
  }

  /** Copies the value's msgpack bytes to `to` at `at`. */
  copyValue(row: number, to: Buffer, at: number): void {
    if (this.live[row] === PACKED) {
      to.set(this.inflate!(this.stored(row)), at)
      return
    }
    const o = row * I
    copyBytes(this.bufs[this.ints[o + VAL_BUF]!]!, this.ints[o + VAL_OFF]!, this.ints[o + VAL_LEN]!, to, at)
  }

  private stored(row: number): Buffer {
    const o = row * I
    const off = this.ints[o + VAL_OFF]!
    return this.bufs[this.ints[o + VAL_BUF]!]!.subarray(off, off + this.ints[o + VAL_LEN]!)
  }

  seq(row: number): number {
    return this.nums[row * F + SEQ]!
  }

  /** The row's key as a string (the ordered index is built from a view). */
  keyAt(row: number): string {
    const o = row * I
    const off = this.ints[o + KEY_OFF]!
    return this.bufs[this.ints[o + KEY_BUF]!]!.toString('utf8', off, off + this.ints[o + KEY_LEN]!)
  }

  /** The row's entry, as BaseTable.entry makes it. */
  entryAt(row: number): Entry {
    const bytes = this.live[row] === PACKED ? this.inflate!(this.stored(row)) : this.stored(row)
    return new PlainEntry(this.nums[row * F + SEQ]!, this.nums[row * F + TIME]!, bytes)
  }

  time(row: number): number {
    return this.nums[row * F + TIME]!
  }
}

export class BaseTable {
  private liveRows = 0
  private liveValues = 0
  private rows = 0
  /** Rows below this are in the hash table; loadMany leaves the rest for index(). */
  private indexed = 0
  private bufs: Buffer[] = []
  private bufBytes = 0
  private ints = new Int32Array(0)
  private nums = new Float64Array(0)
  /** The rows' bytes (the inline keys). */
  private u8 = new Uint8Array(0)
  /** Open addressing, linear probing, half full at most while loading, 3/4 for appends: pairs (row + 1, hash); row + 1 = 0 is empty. */
  private table = new Int32Array(32)
  private mask = 15
  /** The buffers loadPut/append saw last, and their indexes: callers pass the same ones many times. */
  private lastBuf: Buffer | undefined
  private lastBufIndex = -1
  private prevBuf: Buffer | undefined
  private prevBufIndex = -1
  /** Hashes of the rows loadMany appended that index() has not put in the table yet. */
  private pending = NO_HASHES
  /** Turns a packed value back into msgpack bytes (set by whoever packs values: the physics layer). */
  private inflate: Inflater | undefined
  /** How full loading lets the hash table get (compaction loads at the appends' fill). */
  private loadFill = LOAD_FILL
  /** Where append() copies keys and values. */
  private arena: Buffer | undefined
  private arenaAt = 0

  /** Live rows. */
  get live(): number {
    if (this.indexed < this.rows) this.index()
    return this.liveRows
  }

  /** Value bytes of live rows. */
  get liveValueBytes(): number {
    if (this.indexed < this.rows) this.index()
    return this.liveValues
  }

  // ── Loading (recovery) ──

  /** Makes room for `n` more rows at once (a checkpoint knows its count). */
  reserve(n: number): void {
    const need = this.rows + n
    if (need * I > this.ints.length) this.growRows(need)
    let size = this.mask + 1
    while (need > size * this.loadFill) size *= 2
    if (size > this.mask + 1) this.rehash(size)
  }

  /** Sets `key` (bytes in `kb`) to the value bytes in `vb`, as of `seq` and `time`. Keeps references to both buffers. */
  loadPut(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number, seq: number, time: number): number {
    if (this.indexed < this.rows) this.index()
    const h = hashBytes(kb, kOff, kLen)
    const slot = this.slotOf(kb, kOff, kLen, h)
    let row: number
    if (this.table[slot] === 0) {
      row = this.newRow(kb, kOff, kLen, h, slot, this.loadFill)
    } else {
      row = this.table[slot]! - 1
      if (this.ints[row * I + LIVE] !== 0) {
        this.liveRows--
        this.liveValues -= this.rawLength(row)
      }
      // The key's bytes in the newer record: next to its value, likelier in cache at the next
      // compare, and the older buffer no longer needed for it.
      this.ints[row * I + KEY_BUF] = this.bufferIndex(kb)
      this.ints[row * I + KEY_OFF] = kOff
    }
    this.setValue(row, this.bufferIndex(vb), vOff, vLen, RAW, seq, time)
    return row
  }

  /**
   * Sets `n` keys whose bytes all sit in `b` (a checkpoint chunk): entry k has its key at
   * b[pos[4k], +pos[4k+1]), its value at b[pos[4k+2], +pos[4k+3]), seq nums[2k] and time
   * nums[2k+1]; `hashes[k]`, when given, is hashBytes of entry k's key (a version 2 checkpoint
   * stores it). Same result as n loadPut calls, but only the rows are written now: the hash
   * table is filled later, all pending rows at once, in the order of their slots (index()).
   */
  loadMany(b: Buffer, n: number, pos: Int32Array, nums: Float64Array, hashes?: Int32Array): void {
    this.reserve(n)
    const bi = this.bufferIndex(b)
    const first = this.rows
    const need = first - this.indexed + n
    if (this.pending.length < need) {
      const grown = new Int32Array(Math.max(need, this.pending.length * 2))
      grown.set(this.pending)
      this.pending = grown
    }
    const pending = this.pending
    const ints = this.ints
    const rowNums = this.nums
    for (let k = 0; k < n; k++) {
      const o = (first + k) * I
      const kOff = pos[4 * k]!
      const kLen = pos[4 * k + 1]!
      pending[first - this.indexed + k] = hashes === undefined ? hashBytes(b, kOff, kLen) : hashes[k]!
      ints[o + KEY_BUF] = bi
      ints[o + KEY_OFF] = kOff
      ints[o + KEY_LEN] = kLen
      inlineKey(this.u8, (first + k) * ROW_BYTES, b, kOff, kLen)
      ints[o + VAL_BUF] = bi
      ints[o + VAL_OFF] = pos[4 * k + 2]!
      ints[o + VAL_LEN] = pos[4 * k + 3]!
      ints[o + LIVE] = RAW
      rowNums[(first + k) * F + SEQ] = nums[2 * k]!
      rowNums[(first + k) * F + TIME] = nums[2 * k + 1]!
      this.liveValues += pos[4 * k + 3]!
    }
    this.rows += n
    this.liveRows += n
  }

  /**
   * Gives back what reserve() set aside and loading did not use (replay reserves from an
   * estimate): a hash table over 4 times the size the live keys need, and row room over twice
   * the rows (plus a little).
   */
  trim(): void {
    if (this.indexed < this.rows) this.index()
    // Every row has a slot, a deleted key's too: sized by the live ones, the table could not
    // hold them all and the rehash probed forever.
    let size = 32
    while (this.rows > size * this.loadFill) size *= 2
    if (this.mask + 1 >= 4 * size) this.rehash(size)
    const capacity = this.ints.length / I
    if (capacity > 2 * this.rows + 1024) this.growRows(this.rows + 1024)
  }

  /** Indexes the rows loadMany added (otherwise done at the next lookup). */
  settle(): void {
    if (this.indexed < this.rows) this.index()
  }

  /** Removes `key` (bytes in `kb`) if present. */
  loadDel(kb: Buffer, kOff: number, kLen: number): void {
    if (this.indexed < this.rows) this.index()
    const slot = this.slotOf(kb, kOff, kLen, hashBytes(kb, kOff, kLen))
    const row = this.table[slot]! - 1
    if (row >= 0 && this.ints[row * I + LIVE] !== 0) this.kill(row)
  }

  /**
   * Bytes of buffers held (segments, checkpoint chunks) against bytes still needed: when
   * replay overwrote most values, the buffers they sat in are mostly garbage that a live
   * value keeps alive, and copying the live rows out is worth it.
   */
  wasteful(): boolean {
    if (this.indexed < this.rows) this.index()
    // Live value bytes alone often settle it without the walk over every row that liveBytes() takes.
    return this.bufBytes > 4 * 2 ** 20 && this.bufBytes > 2 * this.liveValues && this.bufBytes > 2 * this.liveBytes()
  }

  /** A table holding only the live rows, their bytes copied into fresh, dense buffers. */
  compacted(): BaseTable {
    if (this.indexed < this.rows) this.index()
    const t = new BaseTable()
    t.inflate = this.inflate
    // The copy is sized for appends, not for loading: a table at a quarter full (loading's
    // half, right after a doubling) would cost twice the slots for as long as it lives.
    t.loadFill = APPEND_FILL
    t.reserve(this.live)
    const CHUNK = 8 * 2 ** 20
    let arena = Buffer.allocUnsafe(0)
    let at = 0
    const ints = this.ints
    for (let r = 0; r < this.rows; r++) {
      const o = r * I
      const flag = ints[o + LIVE]!
      if (flag === 0) continue
      const vb = ints[o + VAL_BUF]!
      const kLen = ints[o + KEY_LEN]!
      const vLen = ints[o + VAL_LEN]!
      if (at + kLen + vLen > arena.length) {
        arena = Buffer.allocUnsafe(Math.max(CHUNK, kLen + vLen))
        at = 0
      }
      copyBytes(this.bufs[ints[o + KEY_BUF]!]!, ints[o + KEY_OFF]!, kLen, arena, at)
      copyBytes(this.bufs[vb]!, ints[o + VAL_OFF]!, vLen, arena, at + kLen)
      const row = t.loadPut(arena, at, kLen, arena, at + kLen, vLen, this.nums[r * F + SEQ]!, this.nums[r * F + TIME]!)
      if (flag === PACKED) t.markPacked(row)
      at += kLen + vLen
    }
    return t
  }

  // ── Appending (after loading: keys the state moves out of its Map) ──

  setInflater(inflate: Inflater): void {
    this.inflate = inflate
  }

  /**
   * Adds `key` with these bytes (packed: the physics layer's compressed form, which the inflater
   * reverses), copying them into the table's own buffers. The key must not be live here.
   */
  append(key: string, seq: number, time: number, bytes: Uint8Array, packed: boolean): void {
    if (this.indexed < this.rows) this.index()
    const need = key.length * 3 + bytes.length
    if (this.arena === undefined || this.arenaAt + need > this.arena.length) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, need))
      this.arenaAt = 0
    }
    const a = this.arena
    const kOff = this.arenaAt
    const kLen = a.write(key, kOff, 'utf8')
    const vOff = kOff + kLen
    a.set(bytes, vOff)
    this.arenaAt = vOff + bytes.length
    // Always a new row: a snapshot may still read the key's old row, which must not change.
    const h = hashBytes(a, kOff, kLen)
    const slot = this.slotOf(a, kOff, kLen, h)
    const old = this.table[slot]! - 1
    if (old >= 0 && this.ints[old * I + LIVE] !== 0) this.kill(old)
    // Appended rows may fill the table to 3/4 (loading keeps it at half, for speed).
    const row = this.newRow(a, kOff, kLen, h, slot, APPEND_FILL)
    this.setValue(row, this.ints[row * I + KEY_BUF]!, vOff, bytes.length, packed ? PACKED : RAW, seq, time)
  }

  /**
   * Adds `key` with these msgpack bytes as a new row, unless the key is live here: then nothing
   * changes and its row is returned (-1: added). One probe, the key's bytes written once.
   * `shared`: the buffer `bytes` is a view of, when the row may keep a reference to it instead
   * of a copy (its bytes never change; see plainEncoder.currentSlabOf).
   */
  insert(key: string, seq: number, time: number, bytes: Uint8Array, shared?: Buffer): number {
    if (this.indexed < this.rows) this.index()
    const n = key.length
    const need = n * 3 + (shared === undefined ? bytes.length : 0)
    if (this.arena === undefined || this.arenaAt + need > this.arena.length) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, need))
      this.arenaAt = 0
    }
    const a = this.arena
    const kOff = this.arenaAt
    let kLen = n
    let h = FNV_OFFSET
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i)
      if (c >= 0x80) {
        kLen = -1
        break
      }
      a[kOff + i] = c
      h = Math.imul(h ^ c, FNV_PRIME)
    }
    if (kLen < 0) {
      kLen = a.write(key, kOff, 'utf8')
      h = hashBytes(a, kOff, kLen)
    }
    const slot = this.slotOf(a, kOff, kLen, h)
    const old = this.table[slot]! - 1
    if (old >= 0 && this.ints[old * I + LIVE] !== 0) return old
    if (shared !== undefined) {
      this.arenaAt = kOff + kLen
      const row = this.newRow(a, kOff, kLen, h, slot, APPEND_FILL)
      this.setValue(row, this.bufferIndex(shared), bytes.byteOffset - shared.byteOffset, bytes.length, RAW, seq, time)
      return -1
    }
    const vOff = kOff + kLen
    a.set(bytes, vOff)
    this.arenaAt = vOff + bytes.length
    const row = this.newRow(a, kOff, kLen, h, slot, APPEND_FILL)
    this.setValue(row, this.ints[row * I + KEY_BUF]!, vOff, bytes.length, RAW, seq, time)
    return -1
  }

  /** Rows that no longer hold anything, against live ones: when most are dead, compact. */
  get deadRows(): number {
    return this.rows - this.live
  }

  // ── Reading ──

  /** The live row holding `key`, or -1. */
  find(key: string): number {
    if (this.indexed < this.rows) this.index()
    let h = FNV_OFFSET
    const n = key.length
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i)
      if (c >= 0x80) {
        const b = Buffer.from(key, 'utf8')
        return this.liveRow(this.table[this.slotOf(b, 0, b.length, hashBytes(b, 0, b.length))]! - 1)
      }
      h = Math.imul(h ^ c, FNV_PRIME)
    }
    // ASCII: the string's length is its byte length and each char its byte.
    const table = this.table
    const mask = this.mask
    const ints = this.ints
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const row = table[2 * i]! - 1
      if (row < 0) return -1
      if (table[2 * i + 1] !== h || ints[row * I + KEY_LEN] !== n) continue
      let j = 0
      if (n <= INLINE) {
        const u8 = this.u8
        const at = row * ROW_BYTES + INLINE_AT
        while (j < n && u8[at + j] === key.charCodeAt(j)) j++
      } else {
        const b = this.bufs[ints[row * I + KEY_BUF]!]!
        const off = ints[row * I + KEY_OFF]!
        while (j < n && b[off + j] === key.charCodeAt(j)) j++
      }
      if (j === n) return this.liveRow(row)
    }
  }

  /** The current entry of a live row, as a PlainEntry whose bytes are a view into the row's buffer. */
  entry(row: number): Entry {
    const o = row * I
    const off = this.ints[o + VAL_OFF]!
    const stored = this.bufs[this.ints[o + VAL_BUF]!]!.subarray(off, off + this.ints[o + VAL_LEN]!)
    const bytes = this.ints[o + LIVE] === PACKED ? this.inflate!(stored) : stored
    return new PlainEntry(this.nums[row * F + SEQ]!, this.nums[row * F + TIME]!, bytes)
  }

  seqAt(row: number): number {
    return this.nums[row * F + SEQ]!
  }

  timeAt(row: number): number {
    return this.nums[row * F + TIME]!
  }

  /** A live row's packed value as append() was given it (a view), or undefined when the row holds msgpack bytes. */
  packedAt(row: number): Uint8Array | undefined {
    const o = row * I
    if (this.ints[o + LIVE] !== PACKED) return undefined
    const off = this.ints[o + VAL_OFF]!
    return this.bufs[this.ints[o + VAL_BUF]!]!.subarray(off, off + this.ints[o + VAL_LEN]!)
  }

  /** True when a live row holds msgpack bytes (not the physics layer's packed form). */
  isRaw(row: number): boolean {
    return this.ints[row * I + LIVE] === RAW
  }

  /** Counts a read served from the row, worth `units` of mass; returns the row's mass, this read included. */
  touch(row: number, units: number): number {
    const o = row * I + READS
    const m = this.ints[o]! + units
    // Saturates (as masses do, see physics/mass.ts) so the count stays a positive int32.
    const n = m < 0x3fffffff ? m : 0x3fffffff
    this.ints[o] = n
    return n
  }

  /** Mass of the reads served from the row so far (see touch); 0: none. */
  massAt(row: number): number {
    return this.ints[row * I + READS]!
  }

  /** Halves every row's mass `shift` times (see MassClock.advance). */
  decayMasses(shift: number): void {
    const ints = this.ints
    for (let o = READS, end = this.rows * I; o < end; o += I) ints[o] = ints[o]! >>> shift
  }

  /** Rows written so far, live or dead (row numbers are below this). */
  get rowCount(): number {
    return this.rows
  }

  /** The buffer holding a row's value bytes, at valueOffset(row) for valueLength(row) bytes (no view made). */
  valueBuffer(row: number): Buffer {
    return this.bufs[this.ints[row * I + VAL_BUF]!]!
  }

  valueOffset(row: number): number {
    return this.ints[row * I + VAL_OFF]!
  }

  valueLength(row: number): number {
    return this.ints[row * I + VAL_LEN]!
  }

  keyAt(row: number): string {
    const o = row * I
    const off = this.ints[o + KEY_OFF]!
    return this.bufs[this.ints[o + KEY_BUF]!]!.toString('utf8', off, off + this.ints[o + KEY_LEN]!)
  }

  /** The row no longer holds its key's current version (it moved to the Map, or the key was deleted). */
  kill(row: number): void {
    this.liveRows--
    this.liveValues -= this.rawLength(row)
    this.ints[row * I + LIVE] = 0
  }

  /** Calls `fn` with every live row. */
  forEachLive(fn: (row: number) => void): void {
    if (this.indexed < this.rows) this.index()
    for (let r = 0; r < this.rows; r++) if (this.ints[r * I + LIVE] !== 0) fn(r)
  }

  /** The table as of now, unaffected by later kills: a checkpoint snapshot of the rows. */
  view(): BaseView {
    if (this.indexed < this.rows) this.index()
    const live = new Uint8Array(this.rows)
    for (let r = 0; r < this.rows; r++) live[r] = this.ints[r * I + LIVE]!
    // Rows are not rewritten after loading, so sharing the row arrays is safe; growth replaces them.
    return new BaseView(this.rows, live, this.bufs.slice(), this.ints, this.nums, this.inflate)
  }

  // ── Internals ──

  /**
   * The table index (even) of `key`'s slot, or of the empty slot where it would go.
   */
  private slotOf(kb: Uint8Array, kOff: number, kLen: number, h: number): number {
    const table = this.table
    const mask = this.mask
    const ints = this.ints
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const row = table[2 * i]! - 1
      if (row < 0) return 2 * i
      if (table[2 * i + 1] !== h || ints[row * I + KEY_LEN] !== kLen) continue
      let j = 0
      if (kLen <= INLINE) {
        const u8 = this.u8
        const at = row * ROW_BYTES + INLINE_AT
        while (j < kLen && u8[at + j] === kb[kOff + j]) j++
      } else {
        const b = this.bufs[ints[row * I + KEY_BUF]!]!
        const off = ints[row * I + KEY_OFF]!
        while (j < kLen && b[off + j] === kb[kOff + j]) j++
      }
      if (j === kLen) return 2 * i
    }
  }

  /**
   * Puts the rows loadMany appended into the hash table. They go in the order of their slots
   * (a counting sort on the slot's top bits), so the table is written front to back instead
   * of at random: a big table costs a cache miss per random write. Rows of one key keep their
   * order, so the last one loaded wins.
   */
  private index(): void {
    const from = this.indexed
    const to = this.rows
    this.indexed = to
    const n = to - from
    if ((to + 1) * 2 > this.mask + 1) this.reserve(0)
    const ints = this.ints
    const mask = this.mask
    const pending = this.pending
    this.pending = NO_HASHES
    let order: Int32Array | undefined
    if (n >= 4096) {
      const bits = 31 - Math.clz32(mask + 1)
      const shift = Math.max(0, bits - 12)
      const counts = new Int32Array((1 << Math.min(12, bits)) + 1)
      for (let r = from; r < to; r++) counts[((pending[r - from]! & mask) >>> shift) + 1]!++
      for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!
      order = new Int32Array(n)
      for (let r = from; r < to; r++) order[counts[(pending[r - from]! & mask) >>> shift]!++] = r
    }
    const table = this.table
    for (let k = 0; k < n; k++) {
      const row = order === undefined ? from + k : order[k]!
      const h = pending[row - from]!
      let i = h & mask
      while (table[2 * i] !== 0) {
        if (table[2 * i + 1] === h && this.sameKey(table[2 * i]! - 1, row)) break
        i = (i + 1) & mask
      }
      const had = table[2 * i]! - 1
      table[2 * i] = row + 1
      table[2 * i + 1] = h
      // The key was loaded before: the newer row takes over its slot.
      if (had >= 0 && ints[had * I + LIVE] !== 0) this.kill(had)
    }
  }

  private sameKey(a: number, b: number): boolean {
    const ints = this.ints
    const n = ints[a * I + KEY_LEN]!
    if (ints[b * I + KEY_LEN] !== n) return false
    if (n <= INLINE) {
      const u8 = this.u8
      const ao = a * ROW_BYTES + INLINE_AT
      const bo = b * ROW_BYTES + INLINE_AT
      for (let j = 0; j < n; j++) if (u8[ao + j] !== u8[bo + j]) return false
      return true
    }
    const ab = this.bufs[ints[a * I + KEY_BUF]!]!
    const bb = this.bufs[ints[b * I + KEY_BUF]!]!
    const ao = ints[a * I + KEY_OFF]!
    const bo = ints[b * I + KEY_OFF]!
    for (let j = 0; j < n; j++) if (ab[ao + j] !== bb[bo + j]) return false
    return true
  }

  /**
   * Adds a row for a key whose table slot is `slot` (empty, or holding the key's old row, which
   * the new one replaces), growing the table first if an empty slot would fill it past `load`.
   */
  private newRow(kb: Buffer, kOff: number, kLen: number, h: number, slot: number, load: number): number {
    // Loading grows the rows by doubling (speed); later appends by a fifth (memory).
    const row = this.addRow(2)
    if (this.table[slot] === 0 && this.rows > (this.mask + 1) * load) {
      this.rehash((this.mask + 1) * 2)
      slot = this.slotOf(kb, kOff, kLen, h)
    }
    this.table[slot] = row + 1
    this.table[slot + 1] = h
    this.indexed = this.rows
    const o = row * I
    this.ints[o + KEY_BUF] = this.bufferIndex(kb)
    this.ints[o + KEY_OFF] = kOff
    this.ints[o + KEY_LEN] = kLen
    inlineKey(this.u8, row * ROW_BYTES, kb, kOff, kLen)
    return row
  }

  /** Sets a row's value, as of `seq` and `time`; the row becomes live. */
  private setValue(row: number, vb: number, vOff: number, vLen: number, flag: number, seq: number, time: number): void {
    const o = row * I
    this.ints[o + VAL_BUF] = vb
    this.ints[o + VAL_OFF] = vOff
    this.ints[o + VAL_LEN] = vLen
    this.ints[o + LIVE] = flag
    this.ints[o + READS] = 0
    this.nums[row * F + SEQ] = seq
    this.nums[row * F + TIME] = time
    this.liveRows++
    this.liveValues += this.rawLength(row)
  }

  /** Marks a just-loaded row's value as packed (its length accounting changes with it). */
  private markPacked(row: number): void {
    this.liveValues -= this.ints[row * I + VAL_LEN]!
    this.ints[row * I + LIVE] = PACKED
    this.liveValues += this.rawLength(row)
  }

  /** Length of a row's msgpack bytes (a packed value records it in its first four bytes). */
  private rawLength(row: number): number {
    const o = row * I
    if (this.ints[o + LIVE] !== PACKED) return this.ints[o + VAL_LEN]!
    const b = this.bufs[this.ints[o + VAL_BUF]!]!
    return packedLength(b.subarray(this.ints[o + VAL_OFF]!))
  }

  private liveRow(row: number): number {
    return row >= 0 && this.ints[row * I + LIVE] !== 0 ? row : -1
  }

  private liveBytes(): number {
    let n = this.liveValues
    for (let r = 0; r < this.rows; r++) if (this.ints[r * I + LIVE] !== 0) n += this.ints[r * I + KEY_LEN]!
    return n
  }

  /**
   * The index of `b` in bufs, adding it when new. The last two buffers are remembered: a record's
   * key sits in its segment and an LZ4 value in a buffer of its own, alternately.
   */
  private bufferIndex(b: Buffer): number {
    if (b === this.lastBuf) return this.lastBufIndex
    const prev = this.prevBuf
    const prevIndex = this.prevBufIndex
    this.prevBuf = this.lastBuf
    this.prevBufIndex = this.lastBufIndex
    this.lastBuf = b
    if (b === prev) {
      this.lastBufIndex = prevIndex
    } else {
      this.lastBufIndex = this.bufs.length
      this.bufs.push(b)
      this.bufBytes += b.length
    }
    return this.lastBufIndex
  }

  private addRow(growth: number): number {
    const row = this.rows++
    if (this.rows * I > this.ints.length) this.growRows(Math.max(1024, Math.ceil(this.rows * growth)))
    return row
  }

  private growRows(n: number): void {
    const buf = new ArrayBuffer(n * ROW_BYTES)
    const ints = new Int32Array(buf)
    // Only the rows in use: trim() shrinks the arrays with this too.
    ints.set(this.ints.subarray(0, this.rows * I))
    this.ints = ints
    this.nums = new Float64Array(buf)
    this.u8 = new Uint8Array(buf)
  }

  private rehash(size: number): void {
    const old = this.table
    const table = new Int32Array(size * 2)
    const mask = size - 1
    for (let s = 0; s < old.length; s += 2) {
      const r = old[s]!
      if (r === 0) continue
      const h = old[s + 1]!
      let i = h & mask
      while (table[2 * i] !== 0) i = (i + 1) & mask
      table[2 * i] = r
      table[2 * i + 1] = h
    }
    this.table = table
    this.mask = mask
  }
}

/** Writes a key's first INLINE bytes into its row (at byte `rowAt`). */
function inlineKey(u8: Uint8Array, rowAt: number, kb: Uint8Array, kOff: number, kLen: number): void {
  const n = kLen < INLINE ? kLen : INLINE
  for (let j = 0; j < n; j++) u8[rowAt + INLINE_AT + j] = kb[kOff + j]!
}

/** Copies short ranges in JS: Buffer.copy's argument checks cost more than the copy itself. */
function copyBytes(from: Buffer, off: number, len: number, to: Buffer, at: number): void {
  if (len > 512) {
    from.copy(to, at, off, off + len)
    return
  }
  for (let i = 0; i < len; i++) to[at + i] = from[off + i]!
}
