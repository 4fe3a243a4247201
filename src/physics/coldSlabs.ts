// Where tiered values' bytes live once they leave the Uint8Array they were written in: 1 MiB
// slabs of records. Cold values are LZ4-compressed against a shared dictionary (a few KiB of
// sample values taken when the first values go cold), since small values compress badly on
// their own; settled warm values are stored as they are. Packing records into slabs avoids a
// Buffer object per value, which would cost more than the bytes it saves.
//
// Record layout at an address: u32 head | payload. The low 30 bits of head are the payload's
// length; bit 31 set means the payload is stored raw (uncompressed); bit 30 set means the record
// holds a settled warm value (always raw) rather than a cold one (compressed, or raw when it did
// not compress). The payload always starts with the u32 length of the original bytes:
// lz4-napi's compressSync output does, and raw payloads are written so.
// Slabs are append-only and never reused: an entry that left the state may still be read (a
// checkpoint being written holds it), so its record must stay as it was. Space is reclaimed by
// compaction, which copies live records into fresh slabs and lets the old ones be collected.
import { compressSync, uncompressSync } from '../events/lz4.js'
import type { ColdPlace, ColdStore, ColdWriter } from '../state/entry.js'

export const SLAB_BYTES = 1 << 20
/** Dictionary size: enough for LZ4 to find the shape of typical records. */
export const DICTIONARY_BYTES = 8 * 1024
const RAW_FLAG = 0x80000000
const WARM_FLAG = 0x40000000
const LENGTH_MASK = 0x3fffffff

export class Slab implements ColdStore {
  used = 0
  /** Bytes of records still used by the state. */
  live = 0

  constructor(
    readonly buf: Buffer,
    private readonly owner: ColdSlabs,
  ) {}

  read(at: number): Uint8Array {
    const head = this.buf.readUInt32LE(at)
    const n = head & LENGTH_MASK
    const payload = this.buf.subarray(at + 4, at + 4 + n)
    if ((head & RAW_FLAG) !== 0) return Buffer.from(payload.subarray(4))
    return this.owner.inflate(payload)
  }

  /** The compressed payload at `at` (what inflate() reverses), or undefined when the record is raw. */
  packed(at: number): Uint8Array | undefined {
    const head = this.buf.readUInt32LE(at)
    if ((head & RAW_FLAG) !== 0) return undefined
    return this.buf.subarray(at + 4, at + 4 + (head & LENGTH_MASK))
  }

  size(at: number): number {
    return this.buf.readUInt32LE(at + 4)
  }

  stored(at: number): number {
    return 4 + (this.buf.readUInt32LE(at) & LENGTH_MASK)
  }

  cold(at: number): boolean {
    return (this.buf.readUInt32LE(at) & WARM_FLAG) === 0
  }

  release(at: number): void {
    const n = this.stored(at)
    this.live -= n
    this.owner.liveBytes -= n
  }

  retain(at: number): void {
    const n = this.stored(at)
    this.live += n
    this.owner.liveBytes += n
  }

  /** Appends a record (`flags`: RAW_FLAG, WARM_FLAG); returns its address, or -1 if it does not fit. */
  append(payload: Uint8Array, flags: number, rawLength: number): number {
    const raw = (flags & RAW_FLAG) !== 0
    const need = 4 + (raw ? 4 : 0) + payload.length
    if (this.used + need > this.buf.length) return -1
    const at = this.used
    this.buf.writeUInt32LE(((need - 4) | flags) >>> 0, at)
    let p = at + 4
    if (raw) {
      this.buf.writeUInt32LE(rawLength, p)
      p += 4
    }
    this.buf.set(payload, p)
    this.used += need
    this.live += need
    this.owner.liveBytes += need
    return at
  }
}

export class ColdSlabs implements ColdWriter {
  /** Slabs in use; compaction drops emptied ones (entries outside the state keep theirs alive). */
  private slabs: Slab[] = []
  private current: Slab | undefined
  dictionary: Buffer | undefined
  /** Set by the first compression: from then on the dictionary cannot change. */
  private compressing = false
  liveBytes = 0

  /** Bytes allocated to slabs. */
  get allocatedBytes(): number {
    let n = 0
    for (const s of this.slabs) n += s.buf.length
    return n
  }

  get slabCount(): number {
    return this.slabs.length
  }

  /** The bytes a compressed payload holds (it starts with their length, as lz4-napi writes it). */
  inflate(payload: Uint8Array): Buffer {
    const dict = this.dictionary
    return dict === undefined ? uncompressSync(payload as Buffer) : uncompressSync(payload as Buffer, dict)
  }

  /** Sets the dictionary from sample values, once, before anything is compressed (records depend on it). */
  train(samples: readonly Uint8Array[]): void {
    if (this.dictionary !== undefined || this.compressing || samples.length === 0) return
    const parts: Uint8Array[] = []
    let n = 0
    for (const s of samples) {
      if (n >= DICTIONARY_BYTES) break
      parts.push(s)
      n += s.length
    }
    this.dictionary = Buffer.concat(parts).subarray(0, DICTIONARY_BYTES)
  }

  write(bytes: Uint8Array): ColdPlace {
    this.compressing = true
    const packed = this.dictionary === undefined ? compressSync(bytes as Buffer) : compressSync(bytes as Buffer, this.dictionary)
    const raw = packed.length >= bytes.length + 4
    return this.place(raw ? bytes : packed, raw ? RAW_FLAG : 0, bytes.length)
  }

  /** Stores a payload write() compressed before (Slab.packed gave it), as a cold record again. */
  writePacked(payload: Uint8Array): ColdPlace {
    this.compressing = true
    return this.place(payload, 0, 0)
  }

  writeRaw(bytes: Uint8Array): ColdPlace {
    return this.place(bytes, RAW_FLAG | WARM_FLAG, bytes.length)
  }

  move(from: ColdStore, at: number): ColdPlace {
    const src = from as Slab
    const head = src.buf.readUInt32LE(at)
    const n = head & LENGTH_MASK
    const raw = (head & RAW_FLAG) !== 0
    // A raw record's payload starts with the original length, which place() writes again.
    const payload = src.buf.subarray(at + 4 + (raw ? 4 : 0), at + 4 + n)
    return this.place(payload, (head & (RAW_FLAG | WARM_FLAG)) >>> 0, raw ? src.buf.readUInt32LE(at + 4) : 0)
  }

  /** True when more than a quarter of the slab space holds records no longer used. */
  get wasteful(): boolean {
    const allocated = this.allocatedBytes
    return this.slabs.length > 2 && this.liveBytes * 4 < allocated * 3
  }

  /**
   * Compaction: `relocate` is called with every compressed entry of the state; it moves those
   * sitting in sparse slabs into fresh ones, after which the sparse slabs are dropped.
   */
  compact(compressedEntries: Iterable<{ coldStore: ColdStore | undefined; relocate(w: ColdWriter): void }>): number {
    const sparse = new Set(this.slabs.filter((s) => s !== this.current && s.live * 4 < s.used * 3))
    if (sparse.size === 0) return 0
    this.current = undefined
    let moved = 0
    for (const e of compressedEntries) {
      const store = e.coldStore
      if (store !== undefined && sparse.has(store as Slab)) {
        e.relocate(this)
        moved++
      }
    }
    this.slabs = this.slabs.filter((s) => !sparse.has(s))
    for (const s of sparse) this.liveBytes -= s.live
    return moved
  }

  private place(payload: Uint8Array, flags: number, rawLength: number): ColdPlace {
    let slab = this.current
    let at = slab === undefined ? -1 : slab.append(payload, flags, rawLength)
    if (at < 0) {
      const need = 8 + payload.length
      slab = new Slab(Buffer.allocUnsafe(Math.max(SLAB_BYTES, need)), this)
      this.slabs.push(slab)
      // An oversized value gets a slab of its own; the current slab stays open for small ones.
      if (need <= SLAB_BYTES || this.current === undefined) this.current = slab
      at = slab.append(payload, flags, rawLength)
    }
    return { store: slab!, at }
  }
}
