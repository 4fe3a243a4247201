// Expiry commands: EXPIRE and its forms, TTL and its forms, PERSIST, SETEX/PSETEX, GETEX. A key's
// deadline is part of its entry in the database (put's `expiresAt`), so setting or clearing one
// is a write of the key's value with the new deadline (one event, as any write); the database
// then hides the key once the deadline passes and logs the expiry as a delete with `expired`.
// Deadlines follow Redis's arithmetic (int64 milliseconds, its overflow errors), and a deadline
// already past deletes the key at once, as Redis does (a plain delete, not an expiry).
import type { Command, CommandContext } from '../command.js'
import { ONE_KEY, command, keyOf, word } from '../command.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, Errors, OK } from '../resp/reply.js'
import { parseInt64, stringBytes } from '../values.js'
import { fail } from './access.js'

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n
/**
 * The latest deadline a database entry holds exactly (ms, a JS number: 2^53 - 1, the year 287396).
 * Redis takes any int64; a later one here is refused with Redis's own error for a deadline out of
 * range rather than stored rounded (PEXPIRETIME would answer another number).
 */
const MAX_DEADLINE = BigInt(Number.MAX_SAFE_INTEGER)

const doc = (summary: string, since: string, group = 'generic') => ({ group, summary, since })

export type ExpiryUnit = 'ex' | 'px' | 'exat' | 'pxat'

export function invalidExpireTime(command: string): ErrorReply {
  return new ErrorReply(`ERR invalid expire time in '${command}' command`)
}

/**
 * The deadline (ms since the epoch) of SET's, GETEX's and SETEX's EX/PX/EXAT/PXAT argument, with
 * Redis's checks (getExpireMillisecondsOrReply): an integer, > 0, no int64 overflow once in ms
 * and added to now.
 */
export function expiryDeadline(arg: Buffer, unit: ExpiryUnit, commandName: string, now = Date.now()): number {
  const n = parseInt64(arg) ?? fail(Errors.notInteger)
  let ms = BigInt(n)
  const seconds = unit === 'ex' || unit === 'exat'
  if (ms <= 0n || (seconds && ms > INT64_MAX / 1000n)) fail(invalidExpireTime(commandName))
  if (seconds) ms *= 1000n
  if (unit === 'ex' || unit === 'px') {
    if (ms > INT64_MAX - BigInt(now)) fail(invalidExpireTime(commandName))
    ms += BigInt(now)
  }
  if (ms > MAX_DEADLINE) fail(invalidExpireTime(commandName))
  return Number(ms)
}

/** Writes `value` to `key` with the deadline `at`, or deletes it when `at` has already passed. */
function setDeadline(ctx: CommandContext, key: string, value: unknown, at: number, now: number): void {
  if (at <= now) ctx.ks.del(key)
  else ctx.ks.put(key, value, at)
}

const EXPIRE_FLAGS = new Set(['nx', 'xx', 'gt', 'lt'])

/** EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]: Redis's expireGenericCommand, step for step. */
function expireGeneric(ctx: CommandContext, args: Buffer[], name: string, seconds: boolean, relative: boolean): Reply {
  const flags = new Set<string>()
  for (let i = 3; i < args.length; i++) {
    const w = word(args[i]!)
    if (!EXPIRE_FLAGS.has(w)) fail(new ErrorReply(`ERR Unsupported option ${args[i]!.toString()}`))
    flags.add(w)
  }
  if (flags.has('nx') && (flags.has('xx') || flags.has('gt') || flags.has('lt'))) {
    fail(new ErrorReply('ERR NX and XX, GT or LT options at the same time are not compatible'))
  }
  if (flags.has('gt') && flags.has('lt')) fail(new ErrorReply('ERR GT and LT options at the same time are not compatible'))
  const n = parseInt64(args[2]!) ?? fail(Errors.notInteger)
  let when = BigInt(n)
  if (seconds) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) fail(invalidExpireTime(name))
    when *= 1000n
  }
  const now = Date.now()
  const base = relative ? BigInt(now) : 0n
  if (when > INT64_MAX - base) fail(invalidExpireTime(name))
  when += base
  const key = keyOf(args[1]!)
  const value = ctx.ks.get(key)
  if (value === undefined) return 0
  // After the key (Redis answers 0 for a missing one): our limit, not an int64 overflow.
  if (when > MAX_DEADLINE) fail(invalidExpireTime(name))
  if (flags.size > 0) {
    const current = ctx.ks.expiresAt(key)
    if (flags.has('nx') && current !== undefined) return 0
    if (flags.has('xx') && current === undefined) return 0
    // No deadline counts as an infinite one: GT never beats it, LT always does.
    if (flags.has('gt') && (current === undefined || when <= BigInt(current))) return 0
    if (flags.has('lt') && current !== undefined && when >= BigInt(current)) return 0
  }
  setDeadline(ctx, key, value, Number(when), now)
  return 1
}

function ttlGeneric(ctx: CommandContext, args: Buffer[], ms: boolean): Reply {
  const key = keyOf(args[1]!)
  if (!ctx.ks.has(key)) return -2
  const at = ctx.ks.expiresAt(key)
  if (at === undefined) return -1
  const left = Math.max(0, at - Date.now())
  return ms ? left : Math.floor((left + 500) / 1000)
}

function expireTime(ctx: CommandContext, args: Buffer[], ms: boolean): Reply {
  const key = keyOf(args[1]!)
  if (!ctx.ks.has(key)) return -2
  const at = ctx.ks.expiresAt(key)
  if (at === undefined) return -1
  return ms ? at : Math.floor(at / 1000)
}

function persist(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  const value = ctx.ks.get(key)
  if (value === undefined || ctx.ks.expiresAt(key) === undefined) return 0
  ctx.ks.put(key, value)
  return 1
}

/** SETEX/PSETEX key time value. */
function setex(ctx: CommandContext, args: Buffer[], unit: 'ex' | 'px', name: string): Reply {
  const key = keyOf(args[1]!)
  ctx.ks.put(key, args[3]!, expiryDeadline(args[2]!, unit, name))
  return OK
}

/** GETEX key [EX s | PX ms | EXAT ts | PXAT ts | PERSIST]. */
function getex(ctx: CommandContext, args: Buffer[]): Reply {
  let unit: ExpiryUnit | 'persist' | undefined
  let time: Buffer | undefined
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]!)
    const hasNext = i + 1 < args.length
    if (unit === undefined && (w === 'ex' || w === 'px' || w === 'exat' || w === 'pxat') && hasNext) {
      unit = w
      time = args[++i]!
    } else if (unit === undefined && w === 'persist') unit = 'persist'
    else fail(Errors.syntax)
  }
  // Redis's order: options, then the key (missing: nil, whatever the time says), its type, the time.
  const key = keyOf(args[1]!)
  const value = ctx.ks.get(key)
  if (value === undefined) return null
  const reply = typeof value === 'string' ? value : (stringBytes(value) ?? fail(Errors.wrongType))
  const now = Date.now()
  const at = time === undefined ? undefined : expiryDeadline(time, unit as ExpiryUnit, 'getex', now)
  if (at !== undefined) setDeadline(ctx, key, value, at, now)
  else if (unit === 'persist' && ctx.ks.expiresAt(key) !== undefined) ctx.ks.put(key, value)
  return reply
}

export const expiryCommands: Command[] = [
  command('expire', -3, ['write', 'fast'], ONE_KEY, doc("Sets the expiration time of a key in seconds.", '1.0.0'), (ctx, a) => expireGeneric(ctx, a, 'expire', true, true)),
  command('pexpire', -3, ['write', 'fast'], ONE_KEY, doc('Sets the expiration time of a key in milliseconds.', '2.6.0'), (ctx, a) => expireGeneric(ctx, a, 'pexpire', false, true)),
  command('expireat', -3, ['write', 'fast'], ONE_KEY, doc('Sets the expiration time of a key to a Unix timestamp.', '1.2.0'), (ctx, a) => expireGeneric(ctx, a, 'expireat', true, false)),
  command('pexpireat', -3, ['write', 'fast'], ONE_KEY, doc('Sets the expiration time of a key to a Unix milliseconds timestamp.', '2.6.0'), (ctx, a) => expireGeneric(ctx, a, 'pexpireat', false, false)),
  command('ttl', 2, ['readonly', 'fast'], ONE_KEY, doc('Returns the expiration time in seconds of a key.', '1.0.0'), (ctx, a) => ttlGeneric(ctx, a, false)),
  command('pttl', 2, ['readonly', 'fast'], ONE_KEY, doc('Returns the expiration time in milliseconds of a key.', '2.6.0'), (ctx, a) => ttlGeneric(ctx, a, true)),
  command('expiretime', 2, ['readonly', 'fast'], ONE_KEY, doc('Returns the expiration time of a key as a Unix timestamp.', '7.0.0'), (ctx, a) => expireTime(ctx, a, false)),
  command('pexpiretime', 2, ['readonly', 'fast'], ONE_KEY, doc('Returns the expiration time of a key as a Unix milliseconds timestamp.', '7.0.0'), (ctx, a) => expireTime(ctx, a, true)),
  command('persist', 2, ['write', 'fast'], ONE_KEY, doc('Removes the expiration time of a key.', '2.2.0'), persist),
  command('setex', 4, ['write', 'denyoom'], ONE_KEY, doc('Sets the string value and expiration time of a key. Creates the key if it doesn\'t exist.', '2.0.0', 'string'), (ctx, a) => setex(ctx, a, 'ex', 'setex')),
  command('psetex', 4, ['write', 'denyoom'], ONE_KEY, doc('Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn\'t exist.', '2.6.0', 'string'), (ctx, a) =>
    setex(ctx, a, 'px', 'psetex'),
  ),
  command('getex', -2, ['write', 'fast'], ONE_KEY, doc('Returns the string value of a key after setting its expiration time.', '6.2.0', 'string'), getex),
]
