// Key rules: non-empty strings whose UTF-8 encoding fits the WAL's u16 length field.
import { InvalidKeyError } from '../errors.js'

export const MAX_KEY_BYTES = 65535

export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidKeyError(`expected a string, got ${describe(key)}`)
  // A UTF-8 string is at most 3 bytes per UTF-16 unit, so short keys skip the byte count.
  if (key.length === 0) throw new InvalidKeyError('the empty string is not a key')
  // A lone surrogate would come back from the log as U+FFFD: a different key.
  if (!key.isWellFormed()) {
    throw new InvalidKeyError('it contains a lone UTF-16 surrogate, which UTF-8 cannot represent')
  }
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidKeyError(`it is ${Buffer.byteLength(key, 'utf8')} UTF-8 bytes long`)
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v
}
