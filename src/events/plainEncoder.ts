// The put path's value encoder for the common case: JSON-like values (plain objects, arrays,
// strings, numbers, booleans, null, undefined inside containers). It checks and encodes in one
// walk, straight into a shared slab, producing exactly the bytes msgpackr would (valueCodec's
// Packr options: no records, map16 headers for objects); anything else — a Map, a Date, a byte
// array, a bigint, a class instance, a lone surrogate, a cycle — makes it give up (return
// undefined) so valueCodec takes the general path, which also owns every error message.
//
// Why: msgpackr's pack() plus the separate validation walk before it cost ~2.5 µs per ~100-byte
// object, about a third of a buffered put (issue 16's profile); this walk costs a fraction of it.
// properties/valueEncoding.test.ts checks the bytes against msgpackr's for random values.

/** Values are written into slabs of this size; each value is a view of its slab (as msgpackr's are). */
const SLAB_BYTES = 8192
/** Deeper than this gives up: valueCodec's walk then refuses it (MAX_VALUE_DEPTH) or encodes it. */
const MAX_DEPTH = 500

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
let slabView = new DataView(slab.buffer, slab.byteOffset, slab.length)
let pos = 0
/** Where the value being encoded starts in `slab`. */
let start = 0
/** A value is being encoded (see encodePlain). */
let encoding = false
/** Bytes of `slab` from its start that hold only values a holder keeps (see currentSlabOf). */
let keptUpTo = 0

const objectProto = Object.prototype
const hasOwn = Object.prototype.hasOwnProperty

/**
 * Encodes `value` as msgpackr would, or returns undefined when it is not a plain JSON-like
 * value (then nothing was kept: the slab space is reused by the next value).
 */
export function encodePlain(value: unknown): Buffer | undefined {
  // A getter or a Proxy trap in the value runs application code, which may write to the
  // database: entered again, the encoder would move `start` (and maybe the slab) under the value
  // half written. That inner value takes the general path instead.
  if (encoding) return undefined
  encoding = true
  try {
    start = pos
    if (!writeAny(value, 0)) {
      pos = start
      return undefined
    }
    const out = slab.subarray(start, pos)
    // Views of one slab share it; aligning the next value keeps later copies word-aligned.
    pos = (pos + 7) & ~7
    return out
  } finally {
    encoding = false
  }
}

/**
 * The slab `bytes` is a view of, when it is the one values are being written into now and
 * `bytes` starts right after the values kept so far (keptInSlab), else undefined. Bytes a value
 * was given are never written again (the next value starts after them), so a holder may keep a
 * reference to the slab instead of copying the value out of it: a value the state keeps then
 * costs no copy, and the slab is its storage rather than garbage. Only while the slab, from its
 * start, holds nothing but kept values: one kept value among values that die (a new key among
 * rewrites) would keep the whole slab alive, 80 times its own size.
 */
export function currentSlabOf(bytes: Uint8Array): Buffer | undefined {
  return bytes.buffer === slab.buffer && bytes.byteOffset - slab.byteOffset === keptUpTo ? slab : undefined
}

/** The holder of `bytes` (currentSlabOf named its slab) keeps a reference to it. */
export function keptInSlab(bytes: Uint8Array): void {
  // Values start aligned (see encodePlain), so the next one starts here if it follows at once.
  keptUpTo = (bytes.byteOffset - slab.byteOffset + bytes.length + 7) & ~7
}

/** Makes room for `n` more bytes; the value written so far moves to a fresh slab if needed. */
function room(n: number): void {
  if (pos + n <= slab.length) return
  const written = pos - start
  let size = SLAB_BYTES
  while (size < (written + n) * 2) size *= 2
  const next = Buffer.allocUnsafeSlow(size)
  slab.copy(next, 0, start, pos)
  slab = next
  slabView = new DataView(next.buffer, next.byteOffset, next.length)
  keptUpTo = 0
  start = 0
  pos = written
}

function writeAny(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      return writeString(v)
    case 'number':
      writeNumber(v)
      return true
    case 'boolean':
      room(1)
      slab[pos++] = v ? 0xc3 : 0xc2
      return true
    case 'undefined':
      // msgpackr's undefined: fixext 1, type 0, data 0.
      room(3)
      slab[pos++] = 0xd4
      slab[pos++] = 0
      slab[pos++] = 0
      return true
    case 'object':
      if (v === null) {
        room(1)
        slab[pos++] = 0xc0
        return true
      }
      if (depth >= MAX_DEPTH) return false
      if (Array.isArray(v)) return (v as { constructor: unknown }).constructor === Array && writeArray(v, depth + 1)
      return writeObject(v as Record<string, unknown>, depth + 1)
    default:
      return false
  }
}

function writeArray(a: unknown[], depth: number): boolean {
  const n = a.length
  room(5)
  if (n < 0x10) {
    slab[pos++] = 0x90 | n
  } else if (n < 0x10000) {
    slab[pos++] = 0xdc
    slab[pos++] = n >> 8
    slab[pos++] = n & 0xff
  } else {
    slab[pos++] = 0xdd
    slabView.setUint32(pos, n)
    pos += 4
  }
  for (let i = 0; i < n; i++) if (!writeAny(a[i], depth)) return false
  return true
}

/** An own key msgpackr would decode renamed (valueCodec refuses it). */
const PROTO_KEY = '__proto__'

function writeObject(o: Record<string, unknown>, depth: number): boolean {
  // Only what msgpackr writes as a plain map: Object.prototype, its own constructor and hasOwnProperty.
  if (Object.getPrototypeOf(o) !== objectProto || o.constructor !== Object || o.hasOwnProperty !== hasOwn) return false
  room(3)
  slab[pos++] = 0xde // map16 always, as msgpackr writes objects (its size is set afterwards)
  let at = pos - start
  pos += 2
  let size = 0
  for (const k in o) {
    // An inherited enumerable key (a polluted prototype): valueCodec's walk decides.
    if (!hasOwn.call(o, k) || k === PROTO_KEY) return false
    if (!writeString(k) || !writeAny(o[k], depth)) return false
    size++
  }
  if (size > 0xffff) return false
  slab[start + at++] = size >> 8
  slab[start + at] = size & 0xff
  return true
}

function writeNumber(v: number): void {
  room(9)
  if (v >>> 0 === v) {
    if (v < 0x80) {
      slab[pos++] = v
    } else if (v < 0x100) {
      slab[pos++] = 0xcc
      slab[pos++] = v
    } else if (v < 0x10000) {
      slab[pos++] = 0xcd
      slab[pos++] = v >> 8
      slab[pos++] = v & 0xff
    } else {
      slab[pos++] = 0xce
      slabView.setUint32(pos, v)
      pos += 4
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) {
      slab[pos++] = 0x100 + v
    } else if (v >= -0x80) {
      slab[pos++] = 0xd0
      slab[pos++] = v + 0x100
    } else if (v >= -0x8000) {
      slab[pos++] = 0xd1
      slabView.setInt16(pos, v)
      pos += 2
    } else {
      slab[pos++] = 0xd2
      slabView.setInt32(pos, v)
      pos += 4
    }
  } else {
    slab[pos++] = 0xcb
    slabView.setFloat64(pos, v)
    pos += 8
  }
}

/** UTF-8 with the shortest str header for its byte length; a lone surrogate gives up. */
function writeString(s: string): boolean {
  const n = s.length
  room(5 + n * 3)
  const header = n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
  let len: number
  if (n < 0x40) {
    let p = pos + header
    const b = slab
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i)
      if (c < 0x80) {
        b[p++] = c
      } else if (c < 0x800) {
        b[p++] = (c >> 6) | 0xc0
        b[p++] = (c & 0x3f) | 0x80
      } else if ((c & 0xf800) !== 0xd800) {
        b[p++] = (c >> 12) | 0xe0
        b[p++] = ((c >> 6) & 0x3f) | 0x80
        b[p++] = (c & 0x3f) | 0x80
      } else {
        const d = s.charCodeAt(i + 1)
        if ((c & 0xfc00) !== 0xd800 || (d & 0xfc00) !== 0xdc00) return false
        c = 0x10000 + ((c & 0x3ff) << 10) + (d & 0x3ff)
        i++
        b[p++] = (c >> 18) | 0xf0
        b[p++] = ((c >> 12) & 0x3f) | 0x80
        b[p++] = ((c >> 6) & 0x3f) | 0x80
        b[p++] = (c & 0x3f) | 0x80
      }
    }
    len = p - pos - header
  } else {
    if (!s.isWellFormed()) return false
    len = slab.write(s, pos + header, 'utf8')
  }
  // The header was sized by character count; move the bytes if the byte count needs a bigger one.
  if (len < 0x20) {
    slab[pos++] = 0xa0 | len
  } else if (len < 0x100) {
    if (header < 2) slab.copyWithin(pos + 2, pos + 1, pos + 1 + len)
    slab[pos++] = 0xd9
    slab[pos++] = len
  } else if (len < 0x10000) {
    if (header < 3) slab.copyWithin(pos + 3, pos + header, pos + header + len)
    slab[pos++] = 0xda
    slab[pos++] = len >> 8
    slab[pos++] = len & 0xff
  } else {
    if (header < 5) slab.copyWithin(pos + 5, pos + header, pos + header + len)
    slab[pos++] = 0xdb
    slabView.setUint32(pos, len)
    pos += 4
  }
  pos += len
  return true
}
