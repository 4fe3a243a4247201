// Reading a key as the Redis type a command expects: WRONGTYPE otherwise (values.ts says which
// values are which type). Errors are thrown as ErrorReply and answered by the table.
import type { Keyspace } from '../keyspace.js'
import type { ErrorReply } from '../resp/reply.js'
import { Errors } from '../resp/reply.js'
import { isHash, stringBytes, stringLength } from '../values.js'

/** Throws an error reply (the command table answers it; the command's writes are undone). */
export function fail(reply: ErrorReply): never {
  throw reply
}

/** The key's string value: its bytes (a JS string as itself); undefined when absent. */
export function readString(ks: Keyspace, key: string): Buffer | string | undefined {
  const v = ks.get(key)
  if (v === undefined) return undefined
  if (typeof v === 'string') return v
  return stringBytes(v) ?? fail(Errors.wrongType)
}

/** Like readString, but bytes always (for commands that slice or append). */
export function readBytes(ks: Keyspace, key: string): Buffer | undefined {
  const v = ks.get(key)
  if (v === undefined) return undefined
  return stringBytes(v) ?? fail(Errors.wrongType)
}

export function readStringLength(ks: Keyspace, key: string): number {
  const v = ks.get(key)
  if (v === undefined) return 0
  return stringLength(v) ?? fail(Errors.wrongType)
}

/** The key's hash (a Map; never changed in place: commands write a copy); undefined when absent. */
export function readHash(ks: Keyspace, key: string): Map<string, unknown> | undefined {
  const v = ks.get(key)
  if (v === undefined) return undefined
  return isHash(v) ? v : fail(Errors.wrongType)
}

/** An argument that must be an integer: Redis's string2ll, as a JS number. */
export function intArg(arg: Buffer, error: ErrorReply = Errors.notInteger): number {
  const s = arg.toString('latin1', 0, arg.length)
  if (s.length === 0 || s.length > 20 || !/^(0|-?[1-9][0-9]*)$/.test(s)) fail(error)
  const n = Number(s)
  if (!Number.isSafeInteger(n)) {
    const b = BigInt(s)
    if (b > 9223372036854775807n || b < -9223372036854775808n) fail(error)
    return n > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER
  }
  return n
}
