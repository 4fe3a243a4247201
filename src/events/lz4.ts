// LZ4 (lz4-napi), loaded on first use: loading the native module costs ~25 ms at startup, and a
// process that never compresses (the CLI reading an uncompressed log) should not pay it.
import { createRequire } from 'node:module'

type Lz4 = {
  compressSync(data: Buffer, dict?: Buffer): Buffer
  uncompressSync(data: Buffer, dict?: Buffer): Buffer
}

let lz4: Lz4 | undefined

function load(): Lz4 {
  lz4 ??= createRequire(import.meta.url)('lz4-napi') as Lz4
  return lz4
}

/** LZ4 block compression; the output starts with the input's length (u32 LE). */
export function compressSync(data: Uint8Array, dict?: Buffer): Buffer {
  return dict === undefined ? load().compressSync(data as Buffer) : load().compressSync(data as Buffer, dict)
}

export function uncompressSync(data: Uint8Array, dict?: Buffer): Buffer {
  return dict === undefined ? load().uncompressSync(data as Buffer) : load().uncompressSync(data as Buffer, dict)
}
