// Hash commands. A hash is a JS Map (field → Buffer) stored as one value: every change writes
// a new Map (a whole-value write per HSET, as a hash is one value in IsLabDB's log). An empty
// hash is no key, as in Redis.
import type { Command, CommandContext } from '../command.js'
import { ONE_KEY, command, fieldOf, keyOf, word } from '../command.js'
import { globMatch } from '../glob.js'
import type { Reply } from '../resp/reply.js'
import { Errors, MapReply, OK } from '../resp/reply.js'
import { addInt64, formatFloat, integerValue, parseFloat64, parseInt64, stringBytes, stringLength } from '../values.js'
import { fail, intArg, readHash } from './access.js'
import { cursorArg, parseScanOptions } from './keys.js'

const doc = (summary: string, since = '2.0.0') => ({ group: 'hash', summary, since })

/** A field's value as a reply (a JS string as itself, numbers as text). */
function fieldReply(v: unknown): Reply {
  if (v === undefined) return null
  return typeof v === 'string' ? v : stringBytes(v)!
}

function hset(ctx: CommandContext, args: Buffer[], name: string): Reply {
  if ((args.length - 2) % 2 !== 0) fail(Errors.wrongArgs(name))
  const key = keyOf(args[1]!)
  const old = readHash(ctx.ks, key)
  const next = new Map(old)
  let added = 0
  for (let i = 2; i < args.length; i += 2) {
    const f = fieldOf(args[i]!)
    if (!next.has(f)) added++
    next.set(f, args[i + 1]!)
  }
  ctx.ks.update(key, next)
  return name === 'hmset' ? OK : added
}

function hsetnx(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const f = fieldOf(args[2]!)
  const old = readHash(ctx.ks, key)
  if (old?.has(f)) return 0
  const next = new Map(old)
  next.set(f, args[3]!)
  ctx.ks.update(key, next)
  return 1
}

function hget(ctx: CommandContext, args: Buffer[]): Reply {
  return fieldReply(readHash(ctx.ks, keyOf(args[1]!))?.get(fieldOf(args[2]!)))
}

function hmget(ctx: CommandContext, args: Buffer[]): Reply {
  const h = readHash(ctx.ks, keyOf(args[1]!))
  const out: Reply[] = []
  for (let i = 2; i < args.length; i++) out.push(fieldReply(h?.get(fieldOf(args[i]!))))
  return out
}

function hgetall(ctx: CommandContext, args: Buffer[]): Reply {
  const h = readHash(ctx.ks, keyOf(args[1]!))
  const entries: [Reply, Reply][] = []
  if (h !== undefined) for (const [f, v] of h) entries.push([f, fieldReply(v)])
  return new MapReply(entries)
}

function hdel(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const fields = args.slice(2).map(fieldOf)
  const old = readHash(ctx.ks, key)
  if (old === undefined) return 0
  const next = new Map(old)
  let n = 0
  for (const f of fields) if (next.delete(f)) n++
  if (n === 0) return 0
  if (next.size === 0) ctx.ks.del(key)
  else ctx.ks.update(key, next)
  return n
}

function hincrby(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const f = fieldOf(args[2]!)
  const delta = parseInt64(args[3]!) ?? fail(Errors.notInteger)
  const old = readHash(ctx.ks, key)
  const cur = old?.get(f)
  const current = cur === undefined ? 0 : (integerValue(cur) ?? fail(Errors.hashNotInteger))
  const result = addInt64(current, delta) ?? fail(Errors.overflow)
  const next = new Map(old)
  next.set(f, Buffer.from(String(result)))
  ctx.ks.update(key, next)
  return result
}

function hincrbyfloat(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const f = fieldOf(args[2]!)
  const incr = parseFloat64(args[3]!) ?? fail(Errors.notFloat)
  const old = readHash(ctx.ks, key)
  const cur = old?.get(f)
  const current = cur === undefined ? 0 : (parseFloat64(stringBytes(cur)!) ?? fail(Errors.hashNotFloat))
  const result = current + incr
  if (!Number.isFinite(result)) fail(Errors.nanOrInfinity)
  const text = formatFloat(result)
  const next = new Map(old)
  next.set(f, Buffer.from(text))
  ctx.ks.update(key, next)
  return text
}

/** HRANDFIELD key [count [WITHVALUES]]: count > 0 distinct fields, count < 0 may repeat. */
function hrandfield(ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length > 4) fail(Errors.syntax)
  const key = keyOf(args[1]!)
  const count = args.length >= 3 ? intArg(args[2]!) : undefined
  const withValues = args.length === 4 ? word(args[3]!) === 'withvalues' || fail(Errors.syntax) : false
  if (count !== undefined && (count > Number.MAX_SAFE_INTEGER / 2 || count < -Number.MAX_SAFE_INTEGER / 2)) fail(Errors.notInteger)
  const h = readHash(ctx.ks, key)
  if (count === undefined) {
    if (h === undefined || h.size === 0) return null
    const fields = [...h.keys()]
    return fields[Math.floor(Math.random() * fields.length)]!
  }
  if (h === undefined || count === 0) return []
  const fields = [...h.keys()]
  let picked: string[]
  if (count < 0) {
    picked = Array.from({ length: -count }, () => fields[Math.floor(Math.random() * fields.length)]!)
  } else if (count >= fields.length) {
    picked = fields
  } else {
    // A partial Fisher–Yates shuffle: `count` distinct fields.
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(Math.random() * (fields.length - i))
      ;[fields[i], fields[j]] = [fields[j]!, fields[i]!]
    }
    picked = fields.slice(0, count)
  }
  if (!withValues) return picked
  // RESP3 gets [field, value] pairs, RESP2 a flat list (Redis 7's shapes).
  return ctx.client.protocol === 3 ? picked.map((f) => [f, fieldReply(h.get(f))]) : picked.flatMap((f) => [f, fieldReply(h.get(f))])
}

/** HSCAN returns every field in one call, cursor 0 (Redis does the same for small hashes). */
function hscan(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  cursorArg(args[2]!)
  const o = parseScanOptions(args, 3, false, true)
  const h = readHash(ctx.ks, key)
  const out: Reply[] = []
  if (h !== undefined) {
    for (const [f, v] of h) {
      if (o.match !== undefined && !globMatch(o.match, f)) continue
      out.push(f)
      if (!o.novalues) out.push(fieldReply(v))
    }
  }
  return ['0', out]
}

export const hashCommands: Command[] = [
  command('hset', -4, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Creates or modifies the value of a field in a hash.'), (ctx, a) => hset(ctx, a, 'hset')),
  command('hmset', -4, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Sets the values of multiple fields.'), (ctx, a) => hset(ctx, a, 'hmset')),
  command('hsetnx', 4, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Sets the value of a field in a hash only when the field doesn\'t exist.'), hsetnx),
  command('hget', 3, ['readonly', 'fast'], ONE_KEY, doc('Returns the value of a field in a hash.'), hget),
  command('hmget', -3, ['readonly', 'fast'], ONE_KEY, doc('Returns the values of all fields in a hash.'), hmget),
  command('hgetall', 2, ['readonly'], ONE_KEY, doc('Returns all fields and values in a hash.'), hgetall),
  command('hdel', -3, ['write', 'fast'], ONE_KEY, doc('Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.'), hdel),
  command('hexists', 3, ['readonly', 'fast'], ONE_KEY, doc('Determines whether a field exists in a hash.'), (ctx, a) =>
    readHash(ctx.ks, keyOf(a[1]!))?.has(fieldOf(a[2]!)) ? 1 : 0,
  ),
  command('hlen', 2, ['readonly', 'fast'], ONE_KEY, doc('Returns the number of fields in a hash.'), (ctx, a) => readHash(ctx.ks, keyOf(a[1]!))?.size ?? 0),
  command('hkeys', 2, ['readonly'], ONE_KEY, doc('Returns all fields in a hash.'), (ctx, a) => [...(readHash(ctx.ks, keyOf(a[1]!))?.keys() ?? [])]),
  command('hvals', 2, ['readonly'], ONE_KEY, doc('Returns all values in a hash.'), (ctx, a) => [...(readHash(ctx.ks, keyOf(a[1]!))?.values() ?? [])].map(fieldReply)),
  command('hstrlen', 3, ['readonly', 'fast'], ONE_KEY, doc('Returns the length of the value of a field.', '3.2.0'), (ctx, a) => {
    const v = readHash(ctx.ks, keyOf(a[1]!))?.get(fieldOf(a[2]!))
    return v === undefined ? 0 : stringLength(v)!
  }),
  command('hincrby', 4, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn\'t exist.'), hincrby),
  command('hincrbyfloat', 4, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn\'t exist.', '2.6.0'), hincrbyfloat),
  command('hrandfield', -2, ['readonly'], ONE_KEY, doc('Returns one or more random fields from a hash.', '6.2.0'), hrandfield),
  command('hscan', -3, ['readonly'], ONE_KEY, doc('Iterates over fields and values of a hash.', '2.8.0'), hscan),
]
