// One key's current version in the in-memory projection, and the three forms ("spacetime
// tiers") it can take when the physics layer manages memory:
//   hot  — the decoded, deep-frozen value, ready to return;
//   warm — only the msgpack bytes, decoded on each read;
//   cold — the bytes LZ4-compressed in a shared slab, the raw bytes dropped.
// Every form yields the same `bytes` and the same `value()`: a tier changes cost, never content.
// Under a tiered entry's decoded value (hot) or on their own (warm, cold), the bytes are held in
// one of three ways: loose (a Uint8Array, as written), or a record in a slab — uncompressed
// ("settled" warm bytes, packed densely) or LZ4-compressed.
import { decodeValue, freezeDecoded } from '../events/valueCodec.js'

const UNDECODED: unique symbol = Symbol('undecoded')
const NO_BYTES = new Uint8Array(0)

export type Tier = 'hot' | 'warm' | 'cold'

/**
 * The fields every form shares, in the order a read touches them. Only `decoded` is declared
 * here: V8 lays an object's fields out base class first, and each subclass puts the fields its
 * reads need next to it (an object's first 64 bytes are one cache line at best, two at worst).
 */
export abstract class Entry {
  /** The decoded, deep-frozen value once a read has asked for it (only for values that can be frozen). */
  protected decoded: unknown = UNDECODED
  abstract readonly seq: number
  abstract readonly time: number
  /** The msgpack bytes, exactly as logged: what recovery rebuilds. */
  abstract get bytes(): Uint8Array
  abstract get tier(): Tier
  /** The value (a shared frozen value, or a fresh copy of one that cannot be frozen). */
  abstract value(): unknown
}

/** An entry without the physics layer: its bytes, and the decoded value once read. */
export class PlainEntry extends Entry {
  readonly seq: number
  readonly time: number
  private readonly raw: Uint8Array

  constructor(seq: number, time: number, raw: Uint8Array) {
    super()
    this.seq = seq
    this.time = time
    this.raw = raw
  }

  get bytes(): Uint8Array {
    return this.raw
  }

  get tier(): Tier {
    return this.decoded === UNDECODED ? 'warm' : 'hot'
  }

  /**
   * Values are decoded on first read, not on put: most writes are never read before being
   * overwritten. Frozen values are shared by all readers; values holding Dates, Maps, Sets or
   * bytes cannot be frozen and are decoded into a fresh copy on every read.
   */
  value(): unknown {
    const d = this.decoded
    if (d !== UNDECODED) return d
    const v = decodeValue(this.raw)
    if (freezeDecoded(v)) this.decoded = v
    return v
  }
}

/** Where a cold entry's compressed bytes are: a store (one slab) and an address in it. */
export interface ColdPlace {
  readonly store: ColdStore
  readonly at: number
}

/** Places records in stores (the physics layer's slab allocator). */
export interface ColdWriter {
  /** Compresses `bytes` into a store. */
  write(bytes: Uint8Array): ColdPlace
  /** Stores `bytes` as they are (uncompressed). */
  writeRaw(bytes: Uint8Array): ColdPlace
  /** Copies the record at `at` of `from` as it is (compaction), without decompressing it. */
  move(from: ColdStore, at: number): ColdPlace
}

/** Holds compressed records, each at an address (one slab of the physics layer). */
export interface ColdStore {
  /** The original bytes stored at `at` (a fresh copy). */
  read(at: number): Uint8Array
  /** The compressed payload stored at `at` (a view), or undefined when it is stored raw. */
  packed(at: number): Uint8Array | undefined
  /** Encoded (uncompressed) length of the bytes stored at `at`. */
  size(at: number): number
  /** Bytes the record at `at` takes in the store. */
  stored(at: number): number
  /** True when the record at `at` is a cold one (false: settled warm bytes). */
  cold(at: number): boolean
  /** The record at `at` is no longer used by the state (it may still be read through old references). */
  release(at: number): void
  /** The record at `at` is used by the state again (an undone write put its entry back). */
  retain(at: number): void
}

/** A partner that reading this entry's key pulls toward the hot tier (entanglement, wormholes). */
export interface Link {
  readonly key: string
  /** Mass given to the partner per read, in reads (the entanglement or wormhole strength). */
  readonly weight: number
  /** Wormholes: load the partner into the hot tier at once. */
  readonly prefetch: boolean
}

/**
 * An entry whose form the physics layer chooses. Unlike PlainEntry it never keeps a decoded value
 * on its own: value() decodes from whatever form it is in, and only the tiers decide (heat/cool)
 * which values stay decoded — so a range scan cannot fill memory behind the budget's back.
 */
export class TieredEntry extends Entry {
  // A hot read touches the map word, `decoded`, `mass` and (once any key has partners) `links`:
  // declared first, they lie in the object's first 48 bytes (one or two cache lines, never three).
  /** Decayed read count in the mass clock's current units (physics/mass.ts); a small integer. */
  mass = 0
  /** What a read of this key pulls; undefined until first computed. */
  links: readonly Link[] | undefined = undefined
  readonly seq: number
  readonly time: number
  /** The bytes when `at` < 0; otherwise the slab holding them at `at` (one field, not two: entries are many). */
  private src: Uint8Array | ColdStore
  private at = -1
  /** Index in the hot tier's list kept by the tiers; -1 when not hot. */
  slot = -1

  constructor(seq: number, time: number, raw: Uint8Array) {
    super()
    this.seq = seq
    this.time = time
    this.src = raw
  }

  static from(e: Entry): TieredEntry {
    return new TieredEntry(e.seq, e.time, e.bytes)
  }

  /** A cold entry whose compressed bytes are already in a store. */
  static cold(seq: number, time: number, place: ColdPlace): TieredEntry {
    const e = new TieredEntry(seq, time, NO_BYTES)
    e.place(place)
    return e
  }

  /** The slab holding the bytes; only when `at` ≥ 0. */
  private get store(): ColdStore {
    return this.src as ColdStore
  }

  get bytes(): Uint8Array {
    return this.at < 0 ? (this.src as Uint8Array) : this.store.read(this.at)
  }

  get tier(): Tier {
    return this.decoded !== UNDECODED ? 'hot' : this.compressed ? 'cold' : 'warm'
  }

  /** True when the bytes are held in a cold record (cold, or hot over a cold backing). */
  get compressed(): boolean {
    return this.at >= 0 && this.store.cold(this.at)
  }

  /** True when the bytes are a Uint8Array of their own (not yet settled into a slab). */
  get loose(): boolean {
    return this.at < 0
  }

  /** Encoded (msgpack) size of the value, whatever the form. */
  get size(): number {
    return this.at < 0 ? (this.src as Uint8Array).length : this.store.size(this.at)
  }

  /** Bytes the compressed form takes (0 when not compressed). */
  get storedSize(): number {
    return this.compressed ? this.store.stored(this.at) : 0
  }

  value(): unknown {
    const d = this.decoded
    return d !== UNDECODED ? d : decodeValue(this.bytes)
  }

  /** The decoded value when hot, otherwise undefined (a stored value is never undefined). */
  peek(): unknown {
    const d = this.decoded
    return d === UNDECODED ? undefined : d
  }

  /** Keeps an already decoded and frozen value (see freezeDecoded): the entry becomes hot. */
  keep(v: unknown): void {
    this.decoded = v
  }

  /** Drops the decoded value: the entry falls back to warm or cold, whichever its bytes are. */
  cool(): void {
    this.decoded = UNDECODED
  }

  /** Moves the bytes into a slab, compressed. */
  compress(writer: ColdWriter): void {
    if (this.compressed) return
    this.place(writer.write(this.bytes))
  }

  /**
   * Moves loose bytes into a slab as they are: an entry then no longer keeps alive the buffer
   * its bytes were a view of (an encoder's 8 KiB scratch buffer, a WAL segment or checkpoint
   * chunk read at recovery), which one surviving value would otherwise hold whole.
   */
  settle(writer: ColdWriter): void {
    if (this.at >= 0) return
    this.place(writer.writeRaw(this.src as Uint8Array))
  }

  /** Moves the record to wherever `writer` puts it now (slab compaction). */
  relocate(writer: ColdWriter): void {
    if (this.at < 0) return
    const place = writer.move(this.store, this.at)
    this.store.release(this.at)
    this.src = place.store
    this.at = place.at
  }

  /** The store holding the bytes (undefined when they are loose). */
  get coldStore(): ColdStore | undefined {
    return this.at < 0 ? undefined : this.store
  }

  /** The compressed form of a cold entry's bytes (a view into its slab), or undefined when they are not compressed. */
  packedBytes(): Uint8Array | undefined {
    return this.compressed ? this.store.packed(this.at) : undefined
  }

  /** Brings compressed bytes back uncompressed (loose; warm, or hot over warm bytes). */
  decompress(): void {
    if (!this.compressed) return
    const store = this.store
    const bytes = store.read(this.at)
    store.release(this.at)
    this.src = bytes
    this.at = -1
  }

  /**
   * The entry left the state: its slab record no longer counts as used. It stays readable,
   * because a checkpoint or a range read may still hold this entry (slabs are never overwritten).
   */
  release(): void {
    if (this.at >= 0) this.store.release(this.at)
  }

  /** The entry is back in the state (an undone write restored it). */
  retain(): void {
    if (this.at >= 0) this.store.retain(this.at)
  }

  private place(p: ColdPlace): void {
    if (this.at >= 0) this.store.release(this.at)
    this.src = p.store
    this.at = p.at
  }
}
