// Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, COPY, RANDOMKEY, OBJECT.
// KEYS and SCAN walk the database's ordered key index (db.range), so both list keys in order.
import type { Command, CommandContext } from '../command.js'
import { ALL_KEYS, NO_KEYS, ONE_KEY, command, keyOf, word } from '../command.js'
import { runSubcommand } from '../commandTable.js'
import { isChangeLogKey } from '../changeLog.js'
import { globMatch, literalPrefix } from '../glob.js'
import type { Keyspace } from '../keyspace.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, Errors, OK, SimpleString } from '../resp/reply.js'
import { typeOf } from '../values.js'
import { fail, intArg } from './access.js'

const doc = (summary: string, since = '1.0.0') => ({ group: 'generic', summary, since })

function del(ctx: CommandContext, args: Buffer[]): Reply {
  const keys = args.slice(1).map(keyOf)
  let n = 0
  for (const k of keys) if (ctx.ks.del(k)) n++
  return n
}

function exists(ctx: CommandContext, args: Buffer[]): Reply {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.ks.has(keyOf(args[i]!))) n++
  return n
}

const TYPE_REPLIES = new Map(['none', 'string', 'hash', 'islab-value', 'stream'].map((t) => [t, new SimpleString(t)]))

function type(ctx: CommandContext, args: Buffer[]): Reply {
  const key = keyOf(args[1]!)
  if (isChangeLogKey(key)) return TYPE_REPLIES.get('stream')!
  const v = ctx.ks.get(key)
  return TYPE_REPLIES.get(v === undefined ? 'none' : typeOf(v))!
}

function keys(ctx: CommandContext, args: Buffer[]): Reply {
  const pattern = args[1]!.toString()
  const prefix = literalPrefix(pattern)
  const all = pattern === '*'
  const out: string[] = []
  for (const [k] of ctx.ks.entries(prefix === '' ? {} : { prefix })) if (all || globMatch(pattern, k)) out.push(k)
  return out
}

/** SCAN's options, shared with HSCAN: MATCH, COUNT (≥ 1), TYPE. */
export interface ScanOptions {
  match: string | undefined
  count: number
  type: string | undefined
  novalues: boolean
}

export function parseScanOptions(args: Buffer[], from: number, allowType: boolean, allowNoValues = false): ScanOptions {
  const o: ScanOptions = { match: undefined, count: 10, type: undefined, novalues: false }
  for (let i = from; i < args.length; i++) {
    const w = word(args[i]!)
    const hasValue = i + 1 < args.length
    if (w === 'count' && hasValue) {
      o.count = intArg(args[++i]!)
      if (o.count < 1) fail(Errors.syntax)
    } else if (w === 'match' && hasValue) o.match = args[++i]!.toString()
    else if (w === 'type' && hasValue && allowType) o.type = args[++i]!.toString().toLowerCase()
    else if (w === 'novalues' && allowNoValues) o.novalues = true
    else fail(Errors.syntax)
  }
  return o
}

const UINT64_MAX = 18446744073709551615n

/**
 * A SCAN cursor as Redis's strtoul reads it: an optional sign and decimal digits whose value fits
 * in 64 bits (a '-' wraps around there: an unknown cursor here); the empty string is 0. Anything
 * else, a leading space or 2^64 and beyond, is "ERR invalid cursor".
 */
export function cursorArg(arg: Buffer): number {
  const s = arg.toString('latin1', 0, arg.length)
  if (s === '') return 0
  if (!/^[+-]?[0-9]+$/.test(s)) fail(Errors.invalidCursor)
  const digits = s.charCodeAt(0) === 43 || s.charCodeAt(0) === 45 ? s.slice(1) : s
  const n = BigInt(digits)
  if (n > UINT64_MAX) fail(Errors.invalidCursor)
  if (n === 0n) return 0
  return s.charCodeAt(0) !== 45 && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : -1
}

function scan(ctx: CommandContext, args: Buffer[]): Reply {
  const cursor = cursorArg(args[1]!)
  const o = parseScanOptions(args, 2, true)
  const after = cursor === 0 ? undefined : ctx.server.cursors.lookup(cursor)
  const prefix = o.match === undefined ? '' : literalPrefix(o.match)
  const out: string[] = []
  let seen = 0
  let last: string | undefined
  let more = false
  for (const [k, v] of ctx.ks.entries({ after, prefix: prefix === '' ? undefined : prefix })) {
    // As Redis does: COUNT keys are visited, then MATCH and TYPE filter them (a call may return none).
    if (seen === o.count) {
      more = true
      break
    }
    seen++
    last = k
    if (o.match !== undefined && !globMatch(o.match, k)) continue
    if (o.type !== undefined && typeOf(v) !== o.type) continue
    out.push(k)
  }
  const next = more && last !== undefined ? ctx.server.cursors.remember(last) : 0
  return [String(next), out]
}

function rename(ctx: CommandContext, args: Buffer[], nx: boolean): Reply {
  const src = keyOf(args[1]!)
  const dst = keyOf(args[2]!)
  const v = ctx.ks.get(src)
  if (v === undefined) fail(Errors.noSuchKey)
  if (src === dst) return nx ? 0 : OK
  if (nx && ctx.ks.has(dst)) return 0
  // The key moves with its deadline; source first, as Redis notifies rename_from before rename_to.
  const at = ctx.ks.expiresAt(src)
  ctx.ks.del(src)
  ctx.ks.put(dst, v, at)
  return nx ? 1 : OK
}

function copy(ctx: CommandContext, args: Buffer[]): Reply {
  const src = keyOf(args[1]!)
  const dst = keyOf(args[2]!)
  let replace = false
  for (let i = 3; i < args.length; i++) {
    const w = word(args[i]!)
    if (w === 'replace') replace = true
    else if (w === 'db' && i + 1 < args.length) {
      if (intArg(args[++i]!) !== 0) fail(Errors.dbIndex)
    } else fail(Errors.syntax)
  }
  if (src === dst) fail(new ErrorReply('ERR source and destination objects are the same'))
  const v = ctx.ks.get(src)
  if (v === undefined) return 0
  if (!replace && ctx.ks.has(dst)) return 0
  ctx.ks.put(dst, v, ctx.ks.expiresAt(src))
  return 1
}

/** Uniform among the first keys for a small database; for a large one, the key after a random point. */
function randomkey(ctx: CommandContext): Reply {
  const ks: Keyspace = ctx.ks
  const size = ks.size
  if (size === 0) return null
  if (size <= 10_000) {
    let skip = Math.floor(Math.random() * size)
    for (const [k] of ks.entries()) if (skip-- === 0) return k
  }
  const probe = String.fromCharCode(32 + Math.floor(Math.random() * 95)) + Math.random().toString(36).slice(2)
  for (const [k] of ks.entries({ after: probe })) return k
  for (const [k] of ks.entries()) return k
  return null
}

const objectSubcommands: Command[] = [
  command('object|encoding', 3, ['readonly'], [2, 2, 1], doc("Returns the internal encoding of a Redis object: here the key's physics tier (hot, warm, cold).", '2.2.3'), (ctx, a) => {
    const key = keyOf(a[2]!)
    if (!ctx.ks.has(key)) return null
    return ctx.db.physics.tier(key) ?? 'warm'
  }),
  command('object|freq', 3, ['readonly'], [2, 2, 1], doc("Returns the logarithmic access frequency counter of a Redis object: here the key's physics mass, rounded.", '4.0.0'), (ctx, a) => {
    const key = keyOf(a[2]!)
    if (!ctx.ks.has(key)) return null
    return Math.round(ctx.db.physics.mass(key))
  }),
  command('object|refcount', 3, ['readonly'], [2, 2, 1], doc('Returns the reference count of a value of a key.', '2.2.3'), (ctx, a) => (ctx.ks.has(keyOf(a[2]!)) ? 1 : null)),
  command('object|idletime', 3, ['readonly'], [2, 2, 1], doc('Returns the time since the last access to a Redis object (not tracked here: 0).', '2.2.3'), (ctx, a) =>
    ctx.ks.has(keyOf(a[2]!)) ? 0 : null,
  ),
  command('object|help', 2, ['loading', 'stale'], NO_KEYS, doc('Returns helpful text about the different subcommands.', '6.2.0'), () => [
    'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'ENCODING <key>',
    "    Return the kind of internal representation used in order to store the value associated with a <key>: here the physics tier.",
    'FREQ <key>',
    "    Return the access frequency index of the <key>: here its physics mass.",
    'IDLETIME <key>',
    '    Return the idle time of the <key> (not tracked: 0).',
    'REFCOUNT <key>',
    '    Return the number of references of the value associated with the specified <key>.',
    'HELP',
    '    Print this help.',
  ]),
]

export const keyCommands: Command[] = [
  command('del', -2, ['write'], ALL_KEYS, doc('Deletes one or more keys.'), del),
  command('unlink', -2, ['write', 'fast'], ALL_KEYS, doc('Asynchronously deletes one or more keys.', '4.0.0'), del),
  command('exists', -2, ['readonly', 'fast'], ALL_KEYS, doc('Determines whether one or more keys exist.'), exists),
  command('type', 2, ['readonly', 'fast'], ONE_KEY, doc('Determines the type of value stored at a key.'), type),
  command('keys', 2, ['readonly'], NO_KEYS, doc('Returns all key names that match a pattern.'), keys),
  command('scan', -2, ['readonly'], NO_KEYS, doc('Iterates over the key names in the database.', '2.8.0'), scan),
  command('rename', 3, ['write'], [1, 2, 1], doc('Renames a key and overwrites the destination.'), (ctx, a) => rename(ctx, a, false)),
  command('renamenx', 3, ['write', 'fast'], [1, 2, 1], doc('Renames a key only when the target key name doesn\'t exist.'), (ctx, a) => rename(ctx, a, true)),
  command('copy', -3, ['write', 'denyoom'], [1, 2, 1], doc('Copies the value of a key to a new key.', '6.2.0'), copy),
  command('randomkey', 1, ['readonly'], NO_KEYS, doc('Returns a random key name from the database.'), randomkey),
  command('object', -2, [], NO_KEYS, doc('A container for object introspection commands.', '2.2.3'), (ctx, a) => runSubcommand(ctx, a, 'object', objectSubcommands), objectSubcommands),
]
