// A reversible JSON form of stored values, for the JSON WAL format and `islab dump`.
// JSON has no bigint, Date, bytes, Map, Set, undefined or NaN; those become one-key objects
// whose key starts with '$'. A plain object that itself has exactly one '$'-key is wrapped in
// { "$object": ... } so that decoding is never ambiguous. See docs/wal-format.md.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const TYPED_ARRAYS: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = {
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
}

export function toTaggedJson(v: unknown): Json {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0) ? v : { $num: String(Object.is(v, -0) ? '-0' : v) }
    case 'bigint':
      return { $bigint: v.toString() }
    case 'undefined':
      return { $undefined: true }
  }
  if (v === null) return null
  if (Array.isArray(v)) return v.map(toTaggedJson)
  if (v instanceof Date) return { $date: Number.isNaN(v.getTime()) ? null : v.toISOString() }
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('base64') }
  if (v instanceof Uint8Array) return { $uint8: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }
  if (ArrayBuffer.isView(v)) {
    return { $typed: [v.constructor.name, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')] }
  }
  if (v instanceof Map) return { $map: Array.from(v, ([k, x]) => [toTaggedJson(k), toTaggedJson(x)]) }
  if (v instanceof Set) return { $set: Array.from(v, toTaggedJson) }
  const out: { [k: string]: Json } = {}
  let n = 0
  let dollar = false
  for (const k of Object.keys(v as object)) {
    setOwn(out, k, toTaggedJson((v as Record<string, unknown>)[k]))
    n++
    dollar = k.charCodeAt(0) === 36 /* $ */
  }
  return n === 1 && dollar ? { $object: out } : out
}

export function fromTaggedJson(j: Json): unknown {
  if (j === null || typeof j !== 'object') return j
  if (Array.isArray(j)) return j.map(fromTaggedJson)
  const keys = Object.keys(j)
  if (keys.length === 1 && keys[0]!.charCodeAt(0) === 36) {
    const tag = keys[0]!
    const x = j[tag]!
    switch (tag) {
      case '$num':
        return x === '-0' ? -0 : Number(x)
      case '$bigint':
        return BigInt(x as string)
      case '$undefined':
        return undefined
      case '$date':
        return new Date(x === null ? NaN : (x as string))
      case '$bytes':
        return Buffer.from(x as string, 'base64')
      case '$uint8': {
        const b = Buffer.from(x as string, 'base64')
        return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
      }
      case '$typed': {
        const [name, data] = x as [string, string]
        const Ctor = TYPED_ARRAYS[name]
        if (!Ctor) throw new SyntaxError(`unknown typed array ${name}`)
        const b = Buffer.from(data, 'base64')
        return new Ctor(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
      }
      case '$map':
        return new Map((x as Json[][]).map(([k, v]) => [fromTaggedJson(k!), fromTaggedJson(v!)]))
      case '$set':
        return new Set((x as Json[]).map(fromTaggedJson))
      case '$object':
        return decodeObject(x as { [k: string]: Json })
    }
  }
  return decodeObject(j)
}

function decodeObject(j: { [k: string]: Json }): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(j)) setOwn(out, k, fromTaggedJson(j[k]!))
  return out
}

/** Assigning '__proto__' would change the prototype instead of adding a key. */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  else o[k] = v
}
