// String commands: GET, SET and their variants, counters, ranges. Values written here are stored
// as Buffers (a Redis string is bytes); counters keep a JS number or bigint when that is what
// the key held (a counter set through the embedded API stays a number), else store their text.
import type { Command, CommandContext } from '../command.js'
import { ALL_KEYS, ONE_KEY, command, keyOf, word } from '../command.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, Errors, OK } from '../resp/reply.js'
import { addInt64, formatFloat, integerValue, parseFloat64, parseInt64, stringBytes } from '../values.js'
import { fail, intArg, readBytes, readString, readStringLength } from './access.js'
import { expiryDeadline } from './expiry.js'
import type { ExpiryUnit } from './expiry.js'

/** proto-max-bulk-len: the largest string SETRANGE and APPEND may make. */
const MAX_STRING = 512 * 1024 * 1024

const doc = (summary: string, since = '1.0.0') => ({ group: 'string', summary, since })

function get(ctx: CommandContext, args: Buffer[]): Reply {
  return readString(ctx.ks, keyOf(args[1]!)) ?? null
}

interface SetOptions {
  nx: boolean
  xx: boolean
  get: boolean
  keepTtl: boolean
  /** EX/PX/EXAT/PXAT as an absolute deadline in ms; undefined: none given. */
  expiresAt: number | undefined
}

/** SET's options, with Redis's checks (one of NX/XX, one expiry form). */
function parseSetOptions(args: Buffer[], from: number): SetOptions {
  const o: SetOptions = { nx: false, xx: false, get: false, keepTtl: false, expiresAt: undefined }
  let expiry = false
  let unit: ExpiryUnit | undefined
  let time: Buffer | undefined
  for (let i = from; i < args.length; i++) {
    const w = word(args[i]!)
    if (w === 'nx' && !o.xx) o.nx = true
    else if (w === 'xx' && !o.nx) o.xx = true
    else if (w === 'get') o.get = true
    else if (w === 'keepttl' && !expiry) {
      o.keepTtl = true
      expiry = true
    } else if ((w === 'ex' || w === 'px' || w === 'exat' || w === 'pxat') && !expiry && i + 1 < args.length) {
      unit = w
      time = args[++i]!
      expiry = true
    } else fail(Errors.syntax)
  }
  // As Redis: the time is checked once every option has been read (a syntax error comes first).
  if (time !== undefined) o.expiresAt = expiryDeadline(time, unit!, 'set')
  return o
}

function set(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const o = args.length > 3 ? parseSetOptions(args, 3) : undefined
  if (o === undefined) {
    ctx.ks.put(key, args[2]!)
    return OK
  }
  const old = o.get ? readString(ctx.ks, key) : undefined
  if ((o.nx || o.xx) && ctx.ks.has(key) === o.nx) return o.get ? (old ?? null) : null
  // KEEPTTL keeps the key's deadline; otherwise SET replaces it (none given: none).
  if (o.keepTtl) ctx.ks.update(key, args[2]!)
  else ctx.ks.put(key, args[2]!, o.expiresAt)
  return o.get ? (old ?? null) : OK
}

function setnx(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  if (ctx.ks.has(key)) return 0
  ctx.ks.put(key, args[2]!)
  return 1
}

function getset(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const old = readString(ctx.ks, key)
  ctx.ks.put(key, args[2]!)
  return old ?? null
}

function getdel(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const old = readString(ctx.ks, key)
  if (old !== undefined) ctx.ks.del(key)
  return old ?? null
}

function mget(ctx: CommandContext, args: Buffer[]): Reply {
  const out: Reply[] = new Array(args.length - 1)
  for (let i = 1; i < args.length; i++) {
    const v = ctx.ks.get(keyOf(args[i]!))
    // MGET answers nil for a key of another type, not WRONGTYPE.
    out[i - 1] = typeof v === 'string' ? v : (stringBytes(v) ?? null)
  }
  return out
}

function pairs(args: Buffer[], name: string): string[] {
  if ((args.length - 1) % 2 !== 0) fail(Errors.wrongArgs(name))
  const keys: string[] = []
  for (let i = 1; i < args.length; i += 2) keys.push(keyOf(args[i]!))
  return keys
}

function mset(ctx: CommandContext, args: Buffer[]): Reply {
  const keys = pairs(args, 'mset')
  for (let i = 0; i < keys.length; i++) ctx.ks.put(keys[i]!, args[2 + 2 * i]!)
  return OK
}

function msetnx(ctx: CommandContext, args: Buffer[]): Reply {
  const keys = pairs(args, 'msetnx')
  for (const k of keys) if (ctx.ks.has(k)) return 0
  for (let i = 0; i < keys.length; i++) ctx.ks.put(keys[i]!, args[2 + 2 * i]!)
  return 1
}

function append(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const old = readBytes(ctx.ks, key)
  const add = args[2]!
  if (old === undefined) {
    ctx.ks.put(key, add)
    return add.length
  }
  if (old.length + add.length > MAX_STRING) fail(Errors.tooBig)
  const next = Buffer.concat([old, add])
  ctx.ks.update(key, next)
  return next.length
}

function strlen(ctx: CommandContext, args: Buffer[]): Reply {
  return readStringLength(ctx.ks, keyOf(args[1]!))
}

function getrange(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  let start = intArg(args[2]!)
  let end = intArg(args[3]!)
  const v = readBytes(ctx.ks, key)
  const empty = Buffer.alloc(0)
  if (v === undefined) return empty
  const len = v.length
  // Redis's getrangeCommand, step for step.
  if (start < 0 && end < 0 && start > end) return empty
  if (start < 0) start = len + start
  if (end < 0) end = len + end
  if (start < 0) start = 0
  if (end < 0) end = 0
  if (end >= len) end = len - 1
  if (start > end || len === 0) return empty
  return v.subarray(start, end + 1)
}

function setrange(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const offset = intArg(args[2]!)
  const value = args[3]!
  if (offset < 0) fail(Errors.offset)
  const old = readBytes(ctx.ks, key)
  if (old === undefined && value.length === 0) return 0
  if (value.length === 0) return old!.length
  if (offset + value.length > MAX_STRING) fail(Errors.tooBig)
  const base = old ?? Buffer.alloc(0)
  const next = Buffer.alloc(Math.max(base.length, offset + value.length))
  base.copy(next)
  value.copy(next, offset)
  ctx.ks.update(key, next)
  return next.length
}

/** INCR/DECR/INCRBY/DECRBY: int64 arithmetic with Redis's errors. */
function incrBy(ctx: CommandContext, key: string, delta: number | bigint): Reply {
  const v = ctx.ks.get(key)
  let current: number | bigint = 0
  if (v !== undefined) {
    if (stringBytes(v) === undefined) fail(Errors.wrongType)
    current = integerValue(v) ?? fail(Errors.notInteger)
  }
  const next = addInt64(current, delta) ?? fail(Errors.overflow)
  // A number or bigint set through the API stays one; otherwise Redis's text, as bytes.
  // A modification of the value: the key keeps its deadline (nothing to look up for a new key).
  const stored = typeof v === 'number' && typeof next === 'number' ? next : typeof v === 'bigint' ? BigInt(next) : Buffer.from(String(next))
  if (v === undefined) ctx.ks.put(key, stored)
  else ctx.ks.update(key, stored)
  return next
}

function deltaArg(arg: Buffer): number | bigint {
  return parseInt64(arg) ?? fail(Errors.notInteger)
}

function incrbyfloat(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const incr = parseFloat64(args[2]!) ?? fail(Errors.notFloat)
  const v = ctx.ks.get(key)
  let current = 0
  if (v !== undefined) {
    const bytes = stringBytes(v) ?? fail(Errors.wrongType)
    current = (typeof v === 'number' ? v : parseFloat64(bytes)) ?? fail(Errors.notFloat)
  }
  const next = current + incr
  if (!Number.isFinite(next)) fail(Errors.nanOrInfinity)
  const text = formatFloat(next)
  ctx.ks.update(key, typeof v === 'number' ? Number(text) : Buffer.from(text))
  return text
}

export const stringCommands: Command[] = [
  command('get', 2, ['readonly', 'fast'], ONE_KEY, doc('Returns the string value of a key.'), get),
  command('set', -3, ['write', 'denyoom'], ONE_KEY, doc('Sets the string value of a key, ignoring its type. The key is created if it doesn\'t exist.'), set),
  command('setnx', 3, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Set the string value of a key only when the key doesn\'t exist.'), setnx),
  command('getset', 3, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Returns the previous string value of a key after setting it to a new value.'), getset),
  command('getdel', 2, ['write', 'fast'], ONE_KEY, doc('Returns the string value of a key after deleting the key.', '6.2.0'), getdel),
  command('mget', -2, ['readonly', 'fast'], ALL_KEYS, doc('Atomically returns the string values of one or more keys.'), mget),
  command('mset', -3, ['write', 'denyoom'], [1, -1, 2], doc('Atomically creates or modifies the string values of one or more keys.', '1.0.1'), mset),
  command('msetnx', -3, ['write', 'denyoom'], [1, -1, 2], doc('Atomically modifies the string values of one or more keys only when all keys don\'t exist.', '1.0.1'), msetnx),
  command('append', 3, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Appends a string to the value of a key. Creates the key if it doesn\'t exist.', '2.0.0'), append),
  command('strlen', 2, ['readonly', 'fast'], ONE_KEY, doc('Returns the length of a string value.', '2.2.0'), strlen),
  command('getrange', 4, ['readonly'], ONE_KEY, doc('Returns a substring of the string stored at a key.', '2.4.0'), getrange),
  command('setrange', 4, ['write', 'denyoom'], ONE_KEY, doc('Overwrites a part of a string value with another by an offset. Creates the key if it doesn\'t exist.', '2.2.0'), setrange),
  command('incr', 2, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Increments the integer value of a key by one. Uses 0 as initial value if the key doesn\'t exist.'), (ctx, a) => incrBy(ctx, keyOf(a[1]!), 1)),
  command('decr', 2, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn\'t exist.'), (ctx, a) => incrBy(ctx, keyOf(a[1]!), -1)),
  command('incrby', 3, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.'), (ctx, a) =>
    incrBy(ctx, keyOf(a[1]!), deltaArg(a[2]!)),
  ),
  command('decrby', 3, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn\'t exist.'), (ctx, a) => {
    const key = keyOf(a[1]!)
    const d = deltaArg(a[2]!)
    if (d === -9223372036854775808n) fail(new ErrorReply('ERR decrement would overflow'))
    return incrBy(ctx, key, -d)
  }),
  command('incrbyfloat', 3, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.', '2.6.0'), incrbyfloat),
]
