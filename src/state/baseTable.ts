// The recovered part of the state: every key as recovery left it (checkpoint + replayed log),
// held in typed-array columns that point into the byte buffers it was read from, instead of
// one Map entry, one key string and several objects per key. Loading a key costs a hash of its
// bytes and a probe; no JS string or object is made until the key is first touched, when
// MemoryState moves it into its Map ("promotes" it) and the row here dies.
//
// Rows are written only while the state is being rebuilt (loadPut/loadDel). After that the only
// change is a row dying (kill), so a snapshot needs nothing but a copy of the liveness column.
import { Entry } from './entry.js'

const FNV_OFFSET = 0x811c9dc5 | 0
const FNV_PRIME = 16777619
const DEAD = -1

/** FNV-1a over bytes; a key string hashes to the same value as its UTF-8 bytes. */
function hashBytes(b: Uint8Array, off: number, len: number): number {
  let h = FNV_OFFSET
  for (let i = off, end = off + len; i < end; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME)
  return h
}

/** The columns of a table as of one moment: what a checkpoint writes from. */
export interface BaseView {
  readonly rows: number
  /** Liveness as of the snapshot: a value buffer index, or -1 for a dead row. */
  readonly valBuf: Int32Array
  readonly bufs: readonly Buffer[]
  readonly keyBuf: Int32Array
  readonly keyOff: Int32Array
  readonly keyLen: Int32Array
  readonly valOff: Int32Array
  readonly valLen: Int32Array
  readonly seqs: Float64Array
  readonly times: Float64Array
}

export class BaseTable {
  /** Live rows. */
  live = 0
  /** Value bytes of live rows. */
  liveValueBytes = 0
  private rows = 0
  private bufs: Buffer[] = []
  private bufBytes = 0
  private keyBuf = new Int32Array(0)
  private keyOff = new Int32Array(0)
  private keyLen = new Int32Array(0)
  private valBuf = new Int32Array(0)
  private valOff = new Int32Array(0)
  private valLen = new Int32Array(0)
  private seqs = new Float64Array(0)
  private times = new Float64Array(0)
  private hashes = new Int32Array(0)
  /** Open addressing, linear probing: row + 1, 0 for an empty slot. At most half full. */
  private table = new Int32Array(16)
  private mask = 15
  /** The buffer loadPut/loadDel saw last, and its index: callers pass the same buffer many times. */
  private lastBuf: Buffer | undefined
  private lastBufIndex = -1

  // ── Loading (recovery) ──

  /** Sets `key` (bytes in `kb`) to the value bytes in `vb`, as of `seq` and `time`. Keeps references to both buffers. */
  loadPut(kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number, seq: number, time: number): void {
    const h = hashBytes(kb, kOff, kLen)
    let row = this.findBytes(kb, kOff, kLen, h)
    if (row < 0) {
      row = this.addRow(h)
      this.keyBuf[row] = this.bufferIndex(kb)
      this.keyOff[row] = kOff
      this.keyLen[row] = kLen
    } else if (this.valBuf[row] !== DEAD) {
      this.live--
      this.liveValueBytes -= this.valLen[row]!
    }
    this.valBuf[row] = this.bufferIndex(vb)
    this.valOff[row] = vOff
    this.valLen[row] = vLen
    this.seqs[row] = seq
    this.times[row] = time
    this.live++
    this.liveValueBytes += vLen
  }

  /** Removes `key` (bytes in `kb`) if present. */
  loadDel(kb: Buffer, kOff: number, kLen: number): void {
    const row = this.findBytes(kb, kOff, kLen, hashBytes(kb, kOff, kLen))
    if (row >= 0 && this.valBuf[row] !== DEAD) this.kill(row)
  }

  /**
   * Bytes of buffers held (segments, checkpoint chunks) against bytes still needed: when
   * replay overwrote most values, the buffers they sat in are mostly garbage that a live
   * value keeps alive, and copying the live rows out is worth it.
   */
  wasteful(): boolean {
    return this.bufBytes > 4 * 2 ** 20 && this.bufBytes > 2 * this.liveBytes()
  }

  /** A table holding only the live rows, their bytes copied into fresh, dense buffers. */
  compacted(): BaseTable {
    const t = new BaseTable()
    const CHUNK = 8 * 2 ** 20
    let arena = Buffer.allocUnsafe(0)
    let at = 0
    for (let r = 0; r < this.rows; r++) {
      const vb = this.valBuf[r]!
      if (vb === DEAD) continue
      const kLen = this.keyLen[r]!
      const vLen = this.valLen[r]!
      if (at + kLen + vLen > arena.length) {
        arena = Buffer.allocUnsafe(Math.max(CHUNK, kLen + vLen))
        at = 0
      }
      this.bufs[this.keyBuf[r]!]!.copy(arena, at, this.keyOff[r]!, this.keyOff[r]! + kLen)
      this.bufs[vb]!.copy(arena, at + kLen, this.valOff[r]!, this.valOff[r]! + vLen)
      t.loadPut(arena, at, kLen, arena, at + kLen, vLen, this.seqs[r]!, this.times[r]!)
      at += kLen + vLen
    }
    return t
  }

  // ── Reading ──

  /** The live row holding `key`, or -1. */
  find(key: string): number {
    let h = FNV_OFFSET
    const n = key.length
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i)
      if (c >= 0x80) {
        const b = Buffer.from(key, 'utf8')
        return this.liveRow(this.findBytes(b, 0, b.length, hashBytes(b, 0, b.length)))
      }
      h = Math.imul(h ^ c, FNV_PRIME)
    }
    // ASCII: the string's length is its byte length and each char its byte.
    const table = this.table
    const mask = this.mask
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = table[i]!
      if (slot === 0) return -1
      const row = slot - 1
      if (this.hashes[row] !== h || this.keyLen[row] !== n) continue
      const b = this.bufs[this.keyBuf[row]!]!
      const off = this.keyOff[row]!
      let j = 0
      while (j < n && b[off + j] === key.charCodeAt(j)) j++
      if (j === n) return this.liveRow(row)
    }
  }

  /** The current entry of a live row, as a plain Entry whose bytes are a view into the row's buffer. */
  entry(row: number): Entry {
    const o = this.valOff[row]!
    return new Entry(this.seqs[row]!, this.times[row]!, this.bufs[this.valBuf[row]!]!.subarray(o, o + this.valLen[row]!))
  }

  seqAt(row: number): number {
    return this.seqs[row]!
  }

  keyAt(row: number): string {
    const o = this.keyOff[row]!
    return this.bufs[this.keyBuf[row]!]!.toString('utf8', o, o + this.keyLen[row]!)
  }

  /** The row no longer holds its key's current version (it moved to the Map, or the key was deleted). */
  kill(row: number): void {
    this.live--
    this.liveValueBytes -= this.valLen[row]!
    this.valBuf[row] = DEAD
  }

  /** Calls `fn` with every live row. */
  forEachLive(fn: (row: number) => void): void {
    for (let r = 0; r < this.rows; r++) if (this.valBuf[r] !== DEAD) fn(r)
  }

  /** The table as of now, unaffected by later kills: a checkpoint snapshot of the rows. */
  view(): BaseView {
    return {
      rows: this.rows,
      valBuf: this.valBuf.slice(0, this.rows),
      bufs: this.bufs.slice(),
      keyBuf: this.keyBuf,
      keyOff: this.keyOff,
      keyLen: this.keyLen,
      valOff: this.valOff,
      valLen: this.valLen,
      seqs: this.seqs,
      times: this.times,
    }
  }

  // ── Internals ──

  private liveRow(row: number): number {
    return row >= 0 && this.valBuf[row] !== DEAD ? row : -1
  }

  private liveBytes(): number {
    let n = this.liveValueBytes
    for (let r = 0; r < this.rows; r++) if (this.valBuf[r] !== DEAD) n += this.keyLen[r]!
    return n
  }

  private findBytes(kb: Buffer, kOff: number, kLen: number, h: number): number {
    const table = this.table
    const mask = this.mask
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = table[i]!
      if (slot === 0) return -1
      const row = slot - 1
      if (this.hashes[row] !== h || this.keyLen[row] !== kLen) continue
      const b = this.bufs[this.keyBuf[row]!]!
      const off = this.keyOff[row]!
      let j = 0
      while (j < kLen && b[off + j] === kb[kOff + j]) j++
      if (j === kLen) return row
    }
  }

  private bufferIndex(b: Buffer): number {
    if (b === this.lastBuf) return this.lastBufIndex
    this.lastBuf = b
    this.lastBufIndex = this.bufs.length
    this.bufs.push(b)
    this.bufBytes += b.length
    return this.lastBufIndex
  }

  private addRow(h: number): number {
    const row = this.rows++
    if (row >= this.hashes.length) this.growColumns(Math.max(1024, this.hashes.length * 2))
    if (this.rows * 2 > this.table.length) this.rehash(this.table.length * 2)
    this.hashes[row] = h
    const table = this.table
    const mask = this.mask
    let i = h & mask
    while (table[i] !== 0) i = (i + 1) & mask
    table[i] = row + 1
    return row
  }

  private growColumns(n: number): void {
    this.keyBuf = growI32(this.keyBuf, n)
    this.keyOff = growI32(this.keyOff, n)
    this.keyLen = growI32(this.keyLen, n)
    this.valBuf = growI32(this.valBuf, n)
    this.valOff = growI32(this.valOff, n)
    this.valLen = growI32(this.valLen, n)
    this.seqs = growF64(this.seqs, n)
    this.times = growF64(this.times, n)
    this.hashes = growI32(this.hashes, n)
  }

  private rehash(size: number): void {
    const table = new Int32Array(size)
    const mask = size - 1
    for (let row = 0; row < this.rows - 1; row++) {
      let i = this.hashes[row]! & mask
      while (table[i] !== 0) i = (i + 1) & mask
      table[i] = row + 1
    }
    this.table = table
    this.mask = mask
  }
}

function growI32(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n)
  b.set(a)
  return b
}

function growF64(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n)
  b.set(a)
  return b
}
