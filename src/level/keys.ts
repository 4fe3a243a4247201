// How level keys (utf8 strings, or bytes in the buffer/view formats) become IsLabDB keys
// (non-empty, well-formed strings) and back. The map is one-to-one and keeps order, so level
// ranges are native ranges over the mapped bounds:
//   - a string is itself, except that every U+0000 is doubled ('\0' → '\0\0');
//   - the empty key is '\0' alone (no other key maps to a string ending in a lone '\0');
//   - bytes that are valid UTF-8 are the string they decode to (so Buffer.from('🐄') and '🐄'
//     are the same key, as in LevelDB); a byte that is not part of a valid UTF-8 sequence
//     (always 0x80–0xFF) is '\0' followed by the character with that code (U+0080–U+00FF).
// Order is the native one, UTF-16 code units (JavaScript's <), not LevelDB's bytes: they differ
// for characters above U+FFFF against U+E000–U+FFFF ('\u{10000}' sorts before '\uFFFF' here),
// and bytes that are not UTF-8 sort among keys starting with U+0000. A native key outside the
// map's image (a lone '\0' followed by anything but '\0' or U+0080–U+00FF) is invisible to the face.
//
// A native key holds at most MAX_KEY_BYTES (65535) UTF-8 bytes, and the map makes some keys
// longer: a doubled U+0000 is 2 bytes, an escaped byte 3 (U+0000 then a 2-byte character). So a
// binary key of 30,000 bytes that are not UTF-8 maps onto 90,000 bytes and cannot be stored.
import { isUtf8 } from 'node:buffer'
import { InvalidKeyError, MAX_KEY_BYTES } from '../index.js'

export type KeyFormat = 'utf8' | 'buffer' | 'view'

const NUL = '\0'

/** The native key of a level key given in `format`. */
export function toNative(key: string | Uint8Array, format: KeyFormat): string {
  if (typeof key === 'string' && format === 'utf8') return fromText(key)
  const bytes = key as Uint8Array
  if (bytes.byteLength === 0) return NUL
  if (isUtf8(bytes)) return fromText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  return fromBytes(bytes)
}

function fromText(s: string): string {
  if (s.length === 0) return NUL
  return s.includes(NUL) ? s.replaceAll(NUL, '\0\0') : s
}

/**
 * The native key of a level key that is read or written (not a range bound: those may be any
 * length). One too long for a native key is refused with both lengths, the level key's and the
 * mapped one's: the map, not the key alone, can be what went over.
 */
export function toNativeKey(key: string | Uint8Array, format: KeyFormat): string {
  const native = toNative(key, format)
  // Cheap guard first (a UTF-16 unit is at most 3 UTF-8 bytes): the exact count only for long keys.
  if (native.length * 3 > MAX_KEY_BYTES) {
    const bytes = Buffer.byteLength(native, 'utf8')
    if (bytes > MAX_KEY_BYTES) {
      const given = typeof key === 'string' ? Buffer.byteLength(key, 'utf8') : key.byteLength
      throw new InvalidKeyError(
        `the level key of ${given} bytes maps onto a native key of ${bytes} UTF-8 bytes, over ${MAX_KEY_BYTES} ` +
          '(each byte that is not part of valid UTF-8 costs 3, each U+0000 costs 2; see docs/level.md, Keys)',
      )
    }
  }
  return native
}

/** Bytes with invalid UTF-8 in them: valid sequences decode, every other byte is escaped. */
function fromBytes(b: Uint8Array): string {
  let out = ''
  let i = 0
  while (i < b.length) {
    const n = sequenceLength(b, i)
    if (n === 0) {
      out += NUL + String.fromCharCode(b[i]!)
      i++
    } else {
      const s = Buffer.from(b.buffer, b.byteOffset + i, n).toString('utf8')
      out += s === NUL ? '\0\0' : s
      i += n
    }
  }
  return out
}

/** Length of the valid UTF-8 sequence starting at `i` (RFC 3629: no overlongs, surrogates or > U+10FFFF), 0 if none. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean => j < b.length && b[j]! >= lo && b[j]! <= hi
  if (c < 0x80) return 1
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80
    const hi = c === 0xed ? 0x9f : 0xbf
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80
    const hi = c === 0xf4 ? 0x8f : 0xbf
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0
  }
  return 0
}

/**
 * The level key of a native key, in `format`; undefined for a native key the map never makes
 * (see above): the face skips it.
 */
export function fromNative(key: string, format: KeyFormat): string | Uint8Array | undefined {
  if (!key.includes(NUL)) return format === 'utf8' ? key : Buffer.from(key, 'utf8')
  if (key === NUL) return format === 'utf8' ? '' : Buffer.alloc(0)
  const parts: (string | number)[] = []
  let text = ''
  let raw = false
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!
    if (c !== NUL) {
      text += c
      continue
    }
    const next = key.charCodeAt(++i)
    if (next === 0) text += NUL
    else if (next >= 0x80 && next <= 0xff) {
      if (text.length > 0) parts.push(text)
      parts.push(next)
      text = ''
      raw = true
    } else return undefined
  }
  if (!raw) return format === 'utf8' ? text : Buffer.from(text, 'utf8')
  if (text.length > 0) parts.push(text)
  const bytes = Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.from(p, 'utf8'))))
  // Bytes that are not UTF-8 read as a string the way LevelDB's do: decoded with replacement characters.
  return format === 'utf8' ? bytes.toString('utf8') : bytes
}
