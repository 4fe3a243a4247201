// How the database's values look to a Redis client (docs/server.md, "Values"):
// - string: a Buffer or Uint8Array (what RESP writes store), a JS string (its UTF-8), a number or
//   bigint (its decimal text, as JS's String() writes it);
// - hash: a Map whose keys are strings and whose values are strings as above;
// - anything else (objects, arrays, booleans, null, Dates, Sets, Maps of other things) is a value
//   only the embedded API understands: Redis commands get WRONGTYPE, TYPE answers 'islab-value'.
// And the numbers Redis parses (string2ll, strtold) and prints.

export type RedisType = 'string' | 'hash' | 'islab-value'

/** A value is a Redis string: its bytes; undefined when it is not one. */
export function stringBytes(v: unknown): Buffer | undefined {
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.length)
  switch (typeof v) {
    case 'string':
      return Buffer.from(v)
    case 'number':
      return Buffer.from(String(v))
    case 'bigint':
      return Buffer.from(v.toString())
  }
  return undefined
}

/** Length in bytes of a string value without materializing it (strings: their UTF-8 length). */
export function stringLength(v: unknown): number | undefined {
  if (v instanceof Uint8Array) return v.length
  if (typeof v === 'string') return Buffer.byteLength(v)
  if (typeof v === 'number') return String(v).length
  if (typeof v === 'bigint') return v.toString().length
  return undefined
}

export function isHash(v: unknown): v is Map<string, unknown> {
  if (!(v instanceof Map)) return false
  for (const [k, f] of v) if (typeof k !== 'string' || stringLength(f) === undefined) return false
  return true
}

export function typeOf(v: unknown): RedisType {
  if (stringLength(v) !== undefined) return 'string'
  if (isHash(v)) return 'hash'
  return 'islab-value'
}

// --- Numbers, as Redis parses and prints them ---------------------------------------------

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

/**
 * Redis's string2ll: an optional '-', digits, no leading zeros, no '+', no spaces, within int64.
 * Numbers up to 15 digits come back as a number, longer ones as a bigint; undefined when invalid.
 */
export function parseInt64(b: Uint8Array | string): number | bigint | undefined {
  const s = typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1', 0, b.length)
  if (s.length === 0 || s.length > 20) return undefined
  if (!/^(0|-?[1-9][0-9]*)$/.test(s)) return undefined
  if (s.length <= 15) return Number(s)
  const n = BigInt(s)
  if (n > INT64_MAX || n < INT64_MIN) return undefined
  return n
}

/** parseInt64 as a JS number, when it is one exactly (counts, offsets, indexes). */
export function parseSafeInt(b: Uint8Array | string): number | undefined {
  const n = parseInt64(b)
  if (n === undefined) return undefined
  if (typeof n === 'number') return n
  // Beyond 2^53 the exact value no longer matters for a count or offset: clamp, keep the sign.
  return n > 0n ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER
}

/** a + b within int64, or undefined on overflow. */
export function addInt64(a: number | bigint, b: number | bigint): number | bigint | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b
    if (Number.isSafeInteger(r)) return r
  }
  const r = BigInt(a) + BigInt(b)
  if (r > INT64_MAX || r < INT64_MIN) return undefined
  return Number.isSafeInteger(Number(r)) && BigInt(Number(r)) === r ? Number(r) : r
}

/** The integer a string value holds (Redis: only an int64 written as string2ll accepts). */
export function integerValue(v: unknown): number | bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined
  if (typeof v === 'bigint') return v <= INT64_MAX && v >= INT64_MIN ? v : undefined
  const b = stringBytes(v)
  return b === undefined ? undefined : parseInt64(b)
}

const FLOAT_RE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/
const INF_RE = /^[+-]?inf(?:inity)?$/i

/** Redis's string2ld: a decimal float (inf allowed, nan not, no spaces); undefined when invalid. */
export function parseFloat64(b: Uint8Array | string): number | undefined {
  const s = typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1', 0, b.length)
  if (s.length === 0 || s.length > 5120) return undefined
  if (INF_RE.test(s)) return s.startsWith('-') ? -Infinity : Infinity
  if (!FLOAT_RE.test(s)) return undefined
  const n = Number(s)
  return Number.isNaN(n) ? undefined : n
}

/**
 * INCRBYFLOAT's result text. Redis computes in long double and prints 17 significant digits in
 * fixed notation, trailing zeros cut; a JS double has ~16, so 15 are printed (0.1 + 0.2 prints
 * "0.3", as Redis does, not "0.30000000000000004"), in fixed notation as Redis's.
 */
export function formatFloat(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? n.toFixed(0) : BigInt(n).toString()
  let s = n.toPrecision(15)
  if (s.includes('e')) {
    const [mant, expText] = s.split('e') as [string, string]
    const exp = Number(expText)
    const neg = mant.startsWith('-')
    const digits = mant.replace('-', '').replace('.', '')
    if (exp < 0) s = `${neg ? '-' : ''}0.${'0'.repeat(-exp - 1)}${digits}`
    else s = `${neg ? '-' : ''}${digits.padEnd(exp + 1, '0').slice(0, exp + 1)}.${digits.slice(exp + 1)}`
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '')
  return s === '-0' ? '0' : s
}
