// Values are stored as msgpack bytes. This module is the one place that decides how: which
// types survive (bigint, Date, Buffer, Uint8Array, Map, Set), what is refused, and how a
// decoded value is made safe to hand out without copying it on every read.
import { Packr, addExtension } from 'msgpackr'
import { UnserializableError } from '../errors.js'
import { encodePlain } from './plainEncoder.js'

/** Deeper nesting than this is refused: it is almost always a cycle. */
export const MAX_VALUE_DEPTH = 512

/**
 * msgpackr writes a Map as a msgpack map, which decodes as a plain object. Maps found while
 * validating are wrapped in this box so that an extension type carries them as [key, value]
 * pairs and they decode as Maps again.
 */
class BoxedMap {
  constructor(readonly entries: unknown[][]) {}
}

addExtension({
  Class: BoxedMap,
  type: 0x4d, // 'M'
  write: (box: BoxedMap) => box.entries,
  read: (entries: unknown[][]) => new Map(entries as [unknown, unknown][]),
})

const packr = new Packr({
  useRecords: false, // records need shared structure definitions; a log must be self-describing
  moreTypes: true, // Sets, typed arrays other than Uint8Array
  int64AsType: 'bigint',
  // Decoded bytes must be copies: a view into the stored bytes would let a reader change the database.
  copyBuffers: true,
})

/** Encodes a value for storage. Throws UnserializableError before anything is stored. */
export function encodeValue(value: unknown): Uint8Array {
  if (value === undefined) throw new UnserializableError('undefined is not a value (use delete to remove a key)')
  // JSON-like values (nearly all of them): checked and encoded in one walk, msgpackr's bytes exactly.
  const plain = encodePlain(value)
  if (plain !== undefined) return plain
  const hasMap = inspect(value, 0)
  try {
    return packr.pack(hasMap ? boxMaps(value) : value)
  } catch (err) {
    throw new UnserializableError('msgpackr could not encode it', err)
  }
}

export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes)
}

/**
 * Decodes the value at buf[start, end) without making a view of it: msgpackr keeps one DataView
 * per source buffer, so values decoded from a few large buffers (the state's base table) skip
 * the view and DataView that a Uint8Array of their own would each cost.
 */
export function decodeValueAt(buf: Buffer, start: number, end: number): unknown {
  return packr.unpack(buf, { start, end })
}

/**
 * Freezes a freshly decoded value in place. Returns true when the result is immutable all the
 * way down and can therefore be handed to every reader; Dates, Maps, Sets and byte arrays
 * cannot be frozen, so values holding them are decoded afresh on each read instead.
 */
export function freezeDecoded(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true
  let immutable = true
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!freezeDecoded(v[i])) immutable = false
  } else if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const k in v) if (!freezeDecoded((v as Record<string, unknown>)[k])) immutable = false
  } else {
    return false
  }
  Object.freeze(v)
  return immutable
}

/** Walks the value once: refuses what cannot round-trip and reports whether it holds a Map. */
function inspect(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      // A lone surrogate would come back as U+FFFD: a different value.
      if (!v.isWellFormed()) throw new UnserializableError('it contains a string with a lone UTF-16 surrogate')
      return false
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return false
    case 'function':
      throw new UnserializableError('it contains a function')
    case 'symbol':
      throw new UnserializableError('it contains a symbol')
  }
  if (v === null) return false
  if (depth >= MAX_VALUE_DEPTH) {
    throw new UnserializableError(`it is circular or nested deeper than ${MAX_VALUE_DEPTH} levels`)
  }
  const d = depth + 1
  let hasMap = false
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (inspect(v[i], d)) hasMap = true
    return hasMap
  }
  const proto = Object.getPrototypeOf(v)
  if (proto === Object.prototype || proto === null) {
    for (const k in v as object) {
      if (k === '__proto__') refuseProtoKey()
      if (inspect((v as Record<string, unknown>)[k], d)) hasMap = true
    }
    return hasMap
  }
  if (ArrayBuffer.isView(v)) {
    if (v instanceof DataView) throw new UnserializableError('it contains a DataView')
    return false
  }
  if (v instanceof Date) return false
  if (v instanceof Map) {
    for (const [k, x] of v) {
      inspect(k, d)
      inspect(x, d)
    }
    return true
  }
  if (v instanceof Set) {
    for (const x of v) if (inspect(x, d)) hasMap = true
    return hasMap
  }
  if (
    v instanceof RegExp ||
    v instanceof Error ||
    v instanceof Promise ||
    v instanceof WeakMap ||
    v instanceof WeakSet ||
    v instanceof ArrayBuffer
  ) {
    throw new UnserializableError(`it contains ${withArticle(proto?.constructor?.name ?? 'special object')}`)
  }
  // Other class instances are stored as plain objects of their own enumerable properties.
  for (const k of Object.keys(v as object)) {
    if (k === '__proto__') refuseProtoKey()
    if (inspect((v as Record<string, unknown>)[k], d)) hasMap = true
  }
  return hasMap
}

/** Copies the value with every Map replaced by a BoxedMap (only values holding Maps pay this). */
function boxMaps(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof Date) return v
  if (Array.isArray(v)) return v.map(boxMaps)
  if (v instanceof Map) return new BoxedMap(Array.from(v, ([k, x]) => [boxMaps(k), boxMaps(x)]))
  if (v instanceof Set) return new Set(Array.from(v, boxMaps))
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v as object)) out[k] = boxMaps((v as Record<string, unknown>)[k])
  return out
}

/** "an Error", "a RegExp": the article a class name takes ("a Uint8Array": U is read as "you"). */
function withArticle(name: string): string {
  return `${/^[aeio]/i.test(name) ? 'an' : 'a'} ${name}`
}

/**
 * An own key named `__proto__` (JSON.parse makes one from untrusted input) would come back as
 * `__proto_`: msgpackr renames it when decoding, its guard against prototype pollution.
 */
function refuseProtoKey(): never {
  throw new UnserializableError("it has an object key named '__proto__', which would be read back renamed '__proto_' (the decoder's guard against prototype pollution): rename the key, or store the object in a Map")
}
