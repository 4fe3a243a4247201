// CRC-32 (zlib's) of a byte range without allocating a view. For the short records that make up
// most logs, a slicing-by-8 table loop in JS beats a native call plus the subarray it needs;
// long ranges go to zlib.crc32.
import { crc32 } from 'node:zlib'

const T = new Int32Array(8 * 256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  T[n] = c
}
for (let n = 0; n < 256; n++) {
  let c = T[n]!
  for (let k = 1; k < 8; k++) {
    c = T[c & 0xff]! ^ (c >>> 8)
    T[k * 256 + n] = c
  }
}

const NATIVE_FROM = 256

export function crc32Range(b: Uint8Array, start: number, end: number): number {
  if (end - start >= NATIVE_FROM) return crc32(b.subarray(start, end))
  let c = -1
  let i = start
  for (; i + 8 <= end; i += 8) {
    c ^= b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
    c =
      T[1792 + (c & 0xff)]! ^
      T[1536 + ((c >>> 8) & 0xff)]! ^
      T[1280 + ((c >>> 16) & 0xff)]! ^
      T[1024 + (c >>> 24)]! ^
      T[768 + b[i + 4]!]! ^
      T[512 + b[i + 5]!]! ^
      T[256 + b[i + 6]!]! ^
      T[b[i + 7]!]!
  }
  for (; i < end; i++) c = T[(c ^ b[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ -1) >>> 0
}
