// How level values meet native ones. The face stores what abstract-level hands it after
// encoding: a utf8 value is a JS string, a buffer value a Buffer, a view value a Uint8Array
// (native get returns each as it was stored). Read back, a value is given in the format
// abstract-level asks for, which decodes from there (json, custom encodings...). A native value that is neither a string nor bytes (an
// object, a number, written through the native API) reads as its JSON text; a value JSON cannot
// carry without loss (bigint, Map, Set) is refused with ISLAB_NOT_REPRESENTABLE rather than changed.
import { NotRepresentableError } from '../index.js'
import type { KeyFormat } from './keys.js'

export type ValueFormat = KeyFormat

/** What the face stores for a value abstract-level encoded into `format`. */
export function toStored(value: string | Uint8Array): string | Uint8Array {
  return value
}

/** A native value as `format` (undefined stays undefined: the key is absent). */
export function fromStored(value: unknown, format: ValueFormat, key: string): string | Uint8Array | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') return format === 'utf8' ? value : Buffer.from(value, 'utf8')
  if (value instanceof Uint8Array) {
    const b = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    return format === 'utf8' ? b.toString('utf8') : b
  }
  const json = toJson(value, key)
  return format === 'utf8' ? json : Buffer.from(json, 'utf8')
}

function toJson(value: unknown, key: string): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint' || v instanceof Map || v instanceof Set || (ArrayBuffer.isView(v) && !(v instanceof Uint8Array))) {
      const what = typeof v === 'bigint' ? 'a bigint' : `a ${(v as object).constructor.name}`
      throw new NotRepresentableError(key, `holds ${what}, which JSON cannot carry`)
    }
    return v
  })
}
