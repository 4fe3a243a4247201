// How level values meet native ones. The face stores what abstract-level hands it after
// encoding: a utf8 value is a JS string, a buffer value a Buffer, a view value a Uint8Array
// (native get returns each as it was stored). Read back, a value is given in the format
// abstract-level asks for, which decodes from there (json, custom encodings...). A native value that is neither a string nor bytes (an
// object, a number, written through the native API) reads as its JSON text; a value JSON would
// drop or change anywhere inside it (bigint, Map, Set, bytes, NaN, ±Infinity, -0, undefined) is
// refused with ISLAB_NOT_REPRESENTABLE rather than changed.
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
  // `this[k]` is the value before toJSON (a Buffer's or a Date's) ran: what was stored.
  return JSON.stringify(value, function (this: Record<string, unknown>, k: string, v: unknown) {
    const what = changed(this[k])
    if (what !== undefined) throw new NotRepresentableError(key, `holds ${what}, which JSON cannot carry unchanged`)
    return v
  })
}

/**
 * What JSON.stringify would drop or change in `v` (undefined: nothing). Every value the native
 * API stores that is not a string, a finite number other than -0, a boolean, null, a plain object,
 * an array or a valid Date (which reads as its ISO string, documented) is one of these.
 */
function changed(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return undefined
    case 'number':
      if (Number.isNaN(v)) return 'NaN'
      if (!Number.isFinite(v)) return String(v)
      return Object.is(v, -0) ? '-0' : undefined
    case 'undefined':
      return 'undefined'
    case 'bigint':
      return 'a bigint'
    case 'object': {
      if (v === null || Array.isArray(v)) return undefined
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : undefined
      const proto = Object.getPrototypeOf(v) as object | null
      if (proto === Object.prototype || proto === null) return undefined
      return `a ${(v as object).constructor?.name ?? 'non-plain object'}`
    }
    default:
      return `a ${typeof v}`
  }
}
