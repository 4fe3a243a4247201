// Writes a stored value as tagged JSON text (docs/wal-format.md, "Tagged JSON") straight from
// its msgpack bytes into a byte buffer, without building the JS value first: this is what lets
// `islab dump` keep up with the log reader. The output is exactly
// JSON.stringify(toTaggedJson(decodeValue(bytes))); the common types (null, booleans, numbers,
// strings, arrays, objects with string keys, Buffers, Dates, 64-bit bigints) are transcoded
// here, and a value holding anything else (Maps, Sets, typed arrays, undefined, big bigints,
// keys needing msgpackr's special cases) takes that slower path whole.
import { isUtf8 } from 'node:buffer'
import type { GrowBuffer } from '../wal/recordCodec.js'
import { toTaggedJson } from './taggedJson.js'
import { decodeValue } from './valueCodec.js'

/** Appends the tagged JSON text of the msgpack-encoded value `bytes` to `out`. */
export function writeTaggedJson(out: GrowBuffer, bytes: Uint8Array): void {
  writeTaggedJsonAt(out, bytes, 0, bytes.length)
}

/** writeTaggedJson of the value in src[start, end), without a view of it. */
export function writeTaggedJsonAt(out: GrowBuffer, src: Uint8Array, start: number, end: number): void {
  // Worst case the text is 8 times the msgpack (a 6-byte Date becomes 37 characters) plus a little.
  out.ensure((end - start) * 8 + 64)
  const at = transcode(src, start, end, out.buf, out.pos)
  if (at >= 0) {
    out.pos = at
    return
  }
  const text = JSON.stringify(toTaggedJson(decodeValue(src.subarray(start, end))))
  out.ensure(text.length * 3)
  out.pos += out.buf.write(text, out.pos, 'utf8')
}

/** Appends `s` as a JSON string literal (what JSON.stringify(s) gives for a well-formed string). */
export function writeJsonString(out: GrowBuffer, s: string): void {
  out.ensure(s.length * 6 + 2)
  const at = putJsonString(out.buf, out.pos, s)
  out.pos = at >= 0 ? at : out.pos + out.buf.write(JSON.stringify(s), out.pos, 'utf8')
}

/**
 * Writes `s` as a JSON string literal at `at` when it is printable ASCII without '"' or '\\'
 * (most keys), and returns the end; -1 for any other string (what was written is garbage).
 * The caller makes room for s.length + 2 bytes.
 */
export function putJsonString(b: Uint8Array, at: number, s: string): number {
  b[at++] = 0x22
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) return -1
    b[at++] = c
  }
  b[at++] = 0x22
  return at
}

/** Writes an ASCII string at `at`; returns the end. (A loop beats Buffer#write for short strings.) */
export function putAscii(b: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i)
  return at
}

/** Writes a finite number as JSON.stringify would; returns the end. */
export function putNumber(b: Uint8Array, at: number, v: number): number {
  if (!Number.isSafeInteger(v)) {
    const end = Number.isFinite(v) ? putShortDecimal(b, at, v) : -1
    return end >= 0 ? end : putAscii(b, at, String(v))
  }
  if (v < 0) {
    b[at++] = 0x2d
    v = -v
  }
  if (v <= 0x7fffffff) return putUint31(b, at, v)
  // Up to 2^53: the digits above the last eight fit 31 bits, and so do the last eight.
  const high = Math.floor(v / 1e8)
  at = putUint31(b, at, high)
  return putPadded(b, at, v - high * 1e8, 8)
}

const DIGIT_PAIRS = new Uint8Array(200)
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = 0x30 + Math.floor(i / 10)
  DIGIT_PAIRS[2 * i + 1] = 0x30 + (i % 10)
}

/** Decimal digits of a non-negative integer below 2^31, two per (integer) division. */
function putUint31(b: Uint8Array, at: number, v: number): number {
  const digits =
    v < 1e5 ? (v < 10 ? 1 : v < 100 ? 2 : v < 1e3 ? 3 : v < 1e4 ? 4 : 5) : v < 1e7 ? (v < 1e6 ? 6 : 7) : v < 1e8 ? 8 : v < 1e9 ? 9 : 10
  return putPadded(b, at, v, digits)
}

/** Exactly `digits` decimal digits of v (< 2^31), with leading zeros. */
function putPadded(b: Uint8Array, at: number, v: number, digits: number): number {
  // As an int32, v / 100 | 0 compiles to a multiplication, not a floating-point division.
  v |= 0
  const end = at + digits
  let i = end
  while (i - at >= 2) {
    const q = (v / 100) | 0
    const r = (v - q * 100) * 2
    b[--i] = DIGIT_PAIRS[r + 1]!
    b[--i] = DIGIT_PAIRS[r]!
    v = q
  }
  if (i > at) b[at] = 0x30 + v
  return end
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6]

/**
 * A non-integer with at most six decimals and a magnitude in [1e-6, 2^21), written like
 * Number#toString does (the shortest decimal that reads back as v); -1 for anything else.
 * n / 10^f === v is an exact test that the decimal n·10^-f reads back as v: n and 10^f are
 * exact doubles and IEEE division rounds correctly, as parsing does. Trying f = 1, 2, … finds
 * the shortest; below 2^21 doubles are closer together than 10^-6, so only one n can pass.
 */
function putShortDecimal(b: Uint8Array, at: number, v: number): number {
  const a = v < 0 ? -v : v
  if (!(a >= 1e-6 && a < 2097152)) return -1
  for (let f = 1; f <= 6; f++) {
    const p = POW10[f]!
    const n = Math.round(a * p)
    if (n / p !== a) continue
    const whole = Math.floor(n / p)
    if (v < 0) b[at++] = 0x2d
    at = putUint31(b, at, whole)
    b[at++] = 0x2e
    return putPadded(b, at, n - whole * p, f)
  }
  return -1
}

const HEX = '0123456789abcdef'
const MAX_DEPTH = 512

// The containers open while transcoding. The innermost one's kind, items left (a map counts
// keys and values) and whether an item was written yet (for commas) live in locals; opening a
// container saves its parent's kind and items left here. Preallocated: no allocation per value.
const TOP = -1
const ARRAY = 0
const MAP = 1
const WRAPPED_MAP = 2 // a map with one '$'-key, written as {"$object":{...}} (see taggedJson.ts)
const savedKind = new Int8Array(MAX_DEPTH)
const savedLeft = new Int32Array(MAX_DEPTH)

// DataViews of the last source and destination buffers: strings are copied a 4-byte word at a
// time, and floats and 64-bit integers read in one go. A view is made when the buffer changes
// (a segment read, the output buffer grown), not per value.
let srcBuf: Uint8Array | undefined
let srcView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0))
let dstBuf: Uint8Array | undefined
let dstView = srcView

/** Points srcView and dstView at these buffers. */
function useViews(src: Uint8Array, dst: Uint8Array): void {
  if (src !== srcBuf) {
    srcBuf = src
    srcView = new DataView(src.buffer, src.byteOffset, src.byteLength)
  }
  if (dst !== dstBuf) {
    dstBuf = dst
    dstView = new DataView(dst.buffer, dst.byteOffset, dst.byteLength)
  }
}

/**
 * Transcodes the msgpack value in src[p, end) into `dst` at `o`, one loop with an explicit
 * stack. Returns the end of what it wrote, or -1 for a value it leaves to the exact path: a
 * type it does not handle, or bytes that are not one well-formed msgpack value.
 */
function transcode(src: Uint8Array, p: number, end: number, dst: Uint8Array, o: number): number {
  useViews(src, dst)
  const sv = srcView
  const dv = dstView
  let sp = 0
  let k = TOP
  let left = 0
  let first = true
  for (;;) {
    if (k !== TOP) {
      if (left === 0) {
        dst[o++] = k === ARRAY ? 0x5d : 0x7d
        if (k === WRAPPED_MAP) dst[o++] = 0x7d
        sp--
        k = savedKind[sp]!
        left = savedLeft[sp]!
        first = false
        if (k === TOP) break
        continue
      }
      left--
      if (k === ARRAY) {
        if (first) first = false
        else dst[o++] = 0x2c
      } else if ((left & 1) === 1) {
        if (first) first = false
        else dst[o++] = 0x2c
        // A key seen before (its msgpack bytes, compared a word at a time): its text at once.
        if (p + 4 <= end) {
          const w0 = sv.getInt32(p)
          const h = Math.imul(w0, 0x9e3779b1) >>> KEY_SHIFT
          const n = keyBytes[h]!
          if (n !== 0 && keyTag[h] === w0 && p + n <= end) {
            const slot = h * KEY_SLOT
            let same = true
            for (let i = 4; i < n; i += 4) {
              const at = i + 4 <= n ? i : n - 4
              if (sv.getInt32(p + at) !== keyView.getInt32(slot + at)) {
                same = false
                break
              }
            }
            if (same) {
              const m = keyText[h]!
              const from = slot + KEY_TEXT
              for (let i = 0; i < m; i += 4) {
                const at = i + 4 <= m ? i : m - 4
                dv.setInt32(o + at, keyView.getInt32(from + at))
              }
              o += m
              p += n
              continue
            }
          }
        }
        // A key: a non-empty string not starting with a digit (JS objects move integer-like
        // keys first; msgpackr stringifies other types and renames '__proto__': exact path).
        const t = src[p++]!
        let len: number
        if (t >= 0xa0 && t < 0xc0) len = t - 0xa0
        else if (t === 0xd9) len = src[p++]!
        else if (t === 0xda) {
          len = be16(src, p)
          p += 2
        } else return -1
        if (!(p + len <= end)) return -1
        const c0 = src[p]
        if (len > 0 && ((c0! >= 0x30 && c0! <= 0x39) || (len === 9 && c0 === 0x5f && isProto(src, p)))) return -1
        const keyStart = o
        o = putWords(src, sv, p, len, dst, dv, o)
        if (o < 0) return -1
        p += len
        dst[o++] = 0x3a
        if (t < 0xc0 && len >= 3 && o - keyStart === len + 3) rememberKey(src, p - len - 1, dst, keyStart, o)
        continue
      }
    }
    if (p >= end) return -1
    const t = src[p++]!
    if (t < 0x80) {
      if (t < 10) dst[o++] = 0x30 + t
      else o = putUint31(dst, o, t)
    } else if (t < 0xa0 || t === 0xdc || t === 0xdd || t === 0xde || t === 0xdf) {
      let n: number
      let isMap: boolean
      if (t < 0xa0) {
        isMap = t < 0x90
        n = t & 0x0f
      } else {
        isMap = t >= 0xde
        if (t === 0xdc || t === 0xde) {
          n = be16(src, p)
          p += 2
        } else {
          n = be32(src, p)
          p += 4
        }
      }
      // Every item takes a byte at least: a count beyond the bytes left is not well-formed
      // (and so a map's 2n fits an Int32).
      if (sp >= MAX_DEPTH || !(p + n <= end)) return -1
      let kind = isMap ? MAP : ARRAY
      if (isMap && n === 1 && isDollarKey(src, p)) {
        kind = WRAPPED_MAP
        o = putAscii(dst, o, '{"$object":')
      }
      dst[o++] = isMap ? 0x7b : 0x5b
      savedKind[sp] = k
      savedLeft[sp] = left
      sp++
      k = kind
      left = isMap ? n * 2 : n
      first = true
      continue
    } else if (t < 0xc0 || t === 0xd9 || t === 0xda || t === 0xdb) {
      let len: number
      if (t < 0xc0) len = t - 0xa0
      else {
        const w = 1 << (t - 0xd9) // str 8/16/32
        len = beN(src, p, w)
        p += w
      }
      if (!(p + len <= end)) return -1
      o = putWords(src, sv, p, len, dst, dv, o)
      if (o < 0) return -1
      p += len
    } else if (t >= 0xe0) {
      o = putNumber(dst, o, t - 0x100)
    } else {
      switch (t) {
        case 0xc0:
          o = putAscii(dst, o, 'null')
          break
        case 0xc2:
          o = putAscii(dst, o, 'false')
          break
        case 0xc3:
          o = putAscii(dst, o, 'true')
          break
        case 0xcc:
          if (p + 1 > end) return -1
          o = putUint31(dst, o, src[p++]!)
          break
        case 0xcd:
          if (p + 2 > end) return -1
          o = putUint31(dst, o, be16(src, p))
          p += 2
          break
        case 0xce:
          if (p + 4 > end) return -1
          o = putNumber(dst, o, sv.getUint32(p))
          p += 4
          break
        case 0xd0:
          if (p + 1 > end) return -1
          o = putNumber(dst, o, sv.getInt8(p++))
          break
        case 0xd1:
          if (p + 2 > end) return -1
          o = putNumber(dst, o, sv.getInt16(p))
          p += 2
          break
        case 0xd2:
          if (p + 4 > end) return -1
          o = putNumber(dst, o, sv.getInt32(p))
          p += 4
          break
        case 0xca:
        case 0xcb: {
          const n = t === 0xca ? 4 : 8
          if (p + n > end) return -1
          const v = n === 4 ? sv.getFloat32(p) : sv.getFloat64(p)
          p += n
          if (Number.isFinite(v) && !Object.is(v, -0)) o = putNumber(dst, o, v)
          else o = putAscii(dst, o, `{"$num":"${Object.is(v, -0) ? '-0' : String(v)}"}`)
          break
        }
        case 0xcf:
        case 0xd3:
          if (p + 8 > end) return -1
          o = putAscii(dst, o, `{"$bigint":"${(t === 0xcf ? sv.getBigUint64(p) : sv.getBigInt64(p)).toString()}"}`)
          p += 8
          break
        case 0xc4:
        case 0xc5:
        case 0xc6: {
          const w = 1 << (t - 0xc4) // bin 8/16/32
          const len = beN(src, p, w)
          p += w
          if (!(p + len <= end)) return -1
          o = putAscii(dst, o, `{"$bytes":"${Buffer.from(src.buffer, src.byteOffset + p, len).toString('base64')}"}`)
          p += len
          break
        }
        case 0xd6:
        case 0xd7:
        case 0xc7: {
          // Only the msgpack timestamp (ext type -1), which msgpackr decodes to a Date.
          const n = t === 0xd6 ? 4 : t === 0xd7 ? 8 : src[p++]!
          if (src[p++] !== 0xff || (n !== 4 && n !== 8 && n !== 12) || p + n > end) return -1
          o = putDate(dst, o, timestampMs(src, p, n))
          p += n
          break
        }
        default:
          // 0xc1 (never used), ext 16/32, fixext 1/2/16: undefined, Sets, Maps, typed arrays, big bigints.
          return -1
      }
    }
    if (k === TOP) break
  }
  return p === end ? o : -1
}

// Map keys seen before, by their msgpack bytes (a fixstr of 3 to 31 bytes needing no escapes,
// as objects' keys mostly are): a slot holds the bytes, then the text `"key":`. Keyed by a hash
// of the first four bytes; a slot is overwritten by the next key hashing to it. A key found
// here passed the checks above when it was remembered, and the same bytes make the same text.
const KEY_SHIFT = 23 // 512 slots
const KEY_SLOT = 80
const KEY_TEXT = 32
const keyTag = new Int32Array(1 << (32 - KEY_SHIFT))
const keyBytes = new Uint8Array(1 << (32 - KEY_SHIFT))
const keyText = new Uint8Array(1 << (32 - KEY_SHIFT))
const keyPool = new Uint8Array(KEY_SLOT << (32 - KEY_SHIFT))
const keyView = new DataView(keyPool.buffer)

/** Remembers the key whose msgpack bytes start at src[p] and whose text is dst[from, to). */
function rememberKey(src: Uint8Array, p: number, dst: Uint8Array, from: number, to: number): void {
  const n = to - from - 2 // header byte + characters
  const h = Math.imul((src[p]! << 24) | (src[p + 1]! << 16) | (src[p + 2]! << 8) | src[p + 3]!, 0x9e3779b1) >>> KEY_SHIFT
  const slot = h * KEY_SLOT
  keyPool.set(src.subarray(p, p + n), slot)
  keyPool.set(dst.subarray(from, to), slot + KEY_TEXT)
  keyTag[h] = keyView.getInt32(slot)
  keyBytes[h] = n
  keyText[h] = to - from
}

/** Bytes a JSON string cannot hold as they are: 1 control, '"' or '\\'; 2 the bytes of non-ASCII UTF-8. */
const SPECIAL = new Uint8Array(256)
for (let c = 0; c < 256; c++) SPECIAL[c] = c < 0x20 || c === 0x22 || c === 0x5c ? 1 : c >= 0x80 ? 2 : 0

/**
 * Copies the UTF-8 string src[p, p + len) as a JSON string literal (what JSON.stringify gives
 * for the decoded string) to `dst` at `o`; returns the end, or -1 for invalid UTF-8 (decoding
 * makes that U+FFFD). The caller makes room for len * 6 + 2 bytes.
 */
export function putString(src: Uint8Array, p: number, len: number, dst: Uint8Array, o: number): number {
  useViews(src, dst)
  return putWords(src, srcView, p, len, dst, dstView, o)
}

/**
 * putString with the buffers' views at hand. Printable ASCII without '"' and '\\' (most of
 * any text) is copied four bytes at a time: a word is tested for a byte to escape or a
 * non-ASCII byte with the bit tricks of "Bit Twiddling Hacks" (hasless, haszero), which say
 * exactly whether there is one; from the first such word on, byte by byte.
 */
function putWords(src: Uint8Array, sv: DataView, p: number, len: number, dst: Uint8Array, dv: DataView, o: number): number {
  const end = p + len
  dst[o++] = 0x22
  let i = p
  for (; i + 4 <= end; i += 4) {
    const x = sv.getInt32(i, true)
    const q = x ^ 0x22222222
    const s = x ^ 0x5c5c5c5c
    if (((x | ((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) !== 0) break
    dv.setInt32(o, x, true)
    o += 4
  }
  let high = false
  for (; i < end; i++) {
    const c = src[i]!
    const kind = SPECIAL[c]!
    if (kind === 0) {
      dst[o++] = c
      continue
    }
    if (kind === 2) {
      high = true
      dst[o++] = c
      continue
    }
    dst[o++] = 0x5c
    if (c === 0x22 || c === 0x5c) dst[o++] = c
    else if (c === 0x0a) dst[o++] = 0x6e // \n
    else if (c === 0x0d) dst[o++] = 0x72 // \r
    else if (c === 0x09) dst[o++] = 0x74 // \t
    else if (c === 0x08) dst[o++] = 0x62 // \b
    else if (c === 0x0c) dst[o++] = 0x66 // \f
    else {
      dst[o++] = 0x75 // \u00XX, lowercase like JSON.stringify
      dst[o++] = 0x30
      dst[o++] = 0x30
      dst[o++] = HEX.charCodeAt(c >> 4)
      dst[o++] = HEX.charCodeAt(c & 15)
    }
  }
  dst[o++] = 0x22
  if (high && !isUtf8(src.subarray(p, end))) return -1
  return o
}

/** Is the map's first key (at p) a non-empty string starting with '$'? */
/** msgpack's big-endian lengths and counts. */
function be16(src: Uint8Array, p: number): number {
  return (src[p]! << 8) | src[p + 1]!
}

function be32(src: Uint8Array, p: number): number {
  return src[p]! * 0x1000000 + ((src[p + 1]! << 16) | (src[p + 2]! << 8) | src[p + 3]!)
}

/** A `w`-byte (1, 2 or 4) big-endian length. */
function beN(src: Uint8Array, p: number, w: number): number {
  return w === 1 ? src[p]! : w === 2 ? be16(src, p) : be32(src, p)
}

function isDollarKey(src: Uint8Array, p: number): boolean {
  const t = src[p]!
  if (t > 0xa0 && t < 0xc0) return src[p + 1] === 0x24
  if (t === 0xd9) return src[p + 1]! > 0 && src[p + 2] === 0x24
  if (t === 0xda) return ((src[p + 1]! << 8) | src[p + 2]!) > 0 && src[p + 3] === 0x24
  return false
}

function isProto(src: Uint8Array, p: number): boolean {
  const s = '__proto__'
  for (let i = 0; i < 9; i++) if (src[p + i] !== s.charCodeAt(i)) return false
  return true
}

/** The same arithmetic as msgpackr's timestamp reader, so the same Date comes out. */
function timestampMs(d: Uint8Array, s: number, n: number): number {
  if (n === 4) return (d[s]! * 0x1000000 + (d[s + 1]! << 16) + (d[s + 2]! << 8) + d[s + 3]!) * 1000
  if (n === 8) {
    return (
      ((d[s]! << 22) + (d[s + 1]! << 14) + (d[s + 2]! << 6) + (d[s + 3]! >> 2)) / 1000000 +
      ((d[s + 3]! & 0x3) * 0x100000000 + d[s + 4]! * 0x1000000 + (d[s + 5]! << 16) + (d[s + 6]! << 8) + d[s + 7]!) * 1000
    )
  }
  return (
    ((d[s]! << 24) + (d[s + 1]! << 16) + (d[s + 2]! << 8) + d[s + 3]!) / 1000000 +
    ((d[s + 4]! & 0x80 ? -0x1000000000000 : 0) +
      d[s + 6]! * 0x10000000000 +
      d[s + 7]! * 0x100000000 +
      d[s + 8]! * 0x1000000 +
      (d[s + 9]! << 16) +
      (d[s + 10]! << 8) +
      d[s + 11]!) *
      1000
  )
}

function putDate(dst: Uint8Array, o: number, ms: number): number {
  const date = new Date(ms)
  if (Number.isNaN(date.getTime())) return putAscii(dst, o, '{"$date":null}')
  return putAscii(dst, o, `{"$date":"${date.toISOString()}"}`)
}
