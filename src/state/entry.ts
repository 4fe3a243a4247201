// One key's current version in the in-memory projection.
import { decodeValue, freezeDecoded } from '../events/valueCodec.js'

const UNDECODED: unique symbol = Symbol('undecoded')

export class Entry {
  /** The decoded, deep-frozen value once a read has asked for it (only for values that can be frozen). */
  private decoded: unknown = UNDECODED

  constructor(
    readonly seq: number,
    readonly time: number,
    /** The msgpack bytes, exactly as logged: what recovery rebuilds. */
    readonly bytes: Uint8Array,
  ) {}

  /**
   * Values are decoded on first read, not on put: most writes are never read before being
   * overwritten. Frozen values are shared by all readers; values holding Dates, Maps, Sets or
   * bytes cannot be frozen and are decoded into a fresh copy on every read.
   */
  value(): unknown {
    const d = this.decoded
    if (d !== UNDECODED) return d
    const v = decodeValue(this.bytes)
    if (freezeDecoded(v)) this.decoded = v
    return v
  }
}
