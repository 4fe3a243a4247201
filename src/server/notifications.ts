// Keyspace notifications (Redis's notify-keyspace-events): the flag syntax, and the messages on
// `__keyspace@0__:<key>` (the event name) and `__keyevent@0__:<event>` (the key), fed by
// KeyEvents. Event names follow Redis's per command (set, incrby, hset, rename_from, expire, ...)
// for writes made through this server; writes through the embedded API are puts and deletes:
// `set` (and `expire` with a deadline), `del`, and `expired` for an expiry. Documented in
// docs/server.md.
import type { LogEvent, LogOp } from '../index.js'
import type { KeyEventSink } from './keyEvents.js'
import type { PubSub } from './pubsub.js'

/** Redis's event classes, in the order CONFIG GET prints them. */
const CLASSES = 'g$lshzxetd'
const ALL = new Set(CLASSES)

/** Parses Redis's flag string; undefined when a character is not one of Redis's. */
export function parseNotifyFlags(text: string): Set<string> | undefined {
  const flags = new Set<string>()
  for (const ch of text) {
    if (ch === 'A') for (const c of CLASSES) flags.add(c)
    else if ('g$lshzxetdKEmn'.includes(ch)) flags.add(ch)
    else return undefined
  }
  return flags
}

/** The flags as CONFIG GET shows them (Redis's keyspaceEventsFlagsToString). */
export function formatNotifyFlags(flags: ReadonlySet<string>): string {
  let out = ''
  if ([...ALL].every((c) => flags.has(c))) out = 'A'
  else {
    for (const c of CLASSES) if (flags.has(c)) out += c
    if (flags.has('n')) out += 'n'
  }
  for (const c of 'KEm') if (flags.has(c)) out += c
  return out
}

type Named = readonly (readonly [cls: string, event: string])[]

const SET: Named = [['$', 'set']]
const SET_EXPIRE: Named = [['$', 'set'], ['g', 'expire']]
const DEL: Named = [['g', 'del']]

/** What each command's write is called, by the op it made: 'put', 'putx' (with a new deadline), 'putk' (keeping its deadline), 'del'. */
function eventsOf(command: string, op: string): Named {
  switch (command) {
    case 'set':
    case 'setex':
    case 'psetex':
    case 'getset':
    case 'setnx':
    case 'mset':
    case 'msetnx':
      return op === 'putx' ? SET_EXPIRE : SET
    case 'append':
      return [['$', 'append']]
    case 'setrange':
      return [['$', 'setrange']]
    case 'incr':
    case 'decr':
    case 'incrby':
    case 'decrby':
      return [['$', 'incrby']]
    case 'incrbyfloat':
      return [['$', 'incrbyfloat']]
    case 'expire':
    case 'pexpire':
    case 'expireat':
    case 'pexpireat':
      return op === 'del' ? DEL : [['g', 'expire']]
    case 'getex':
      return op === 'del' ? DEL : op === 'putx' ? [['g', 'expire']] : [['g', 'persist']]
    case 'persist':
      return [['g', 'persist']]
    case 'rename':
    case 'renamenx':
      return op === 'del' ? [['g', 'rename_from']] : [['g', 'rename_to']]
    case 'copy':
      return [['g', 'copy_to']]
    case 'hset':
    case 'hmset':
    case 'hsetnx':
      return [['h', 'hset']]
    case 'hdel':
      return op === 'del' ? [['h', 'hdel'], ['g', 'del']] : [['h', 'hdel']]
    case 'hincrby':
      return [['h', 'hincrby']]
    case 'hincrbyfloat':
      return [['h', 'hincrbyfloat']]
    case 'flushdb':
    case 'flushall':
      return [] // Redis notifies nothing per key for a flush
    default:
      return op === 'del' ? DEL : op === 'putx' ? SET_EXPIRE : SET
  }
}

/** A write through the embedded API (or the database's expiry): known only as its op. */
function eventsOfOp(op: LogOp): Named {
  if (op.type === 'del') return op.expired === true ? [['x', 'expired']] : DEL
  return op.expiresAt !== undefined ? SET_EXPIRE : SET
}

export class Notifications implements KeyEventSink {
  flags: ReadonlySet<string> = new Set()

  constructor(private readonly pubsub: PubSub) {}

  /** On when at least one class and K or E are set (Redis: otherwise nothing is sent). */
  get enabled(): boolean {
    return (this.flags.has('K') || this.flags.has('E')) && [...this.flags].some((c) => ALL.has(c))
  }

  onEvent(ev: LogEvent, notes: readonly string[] | undefined): void {
    if (!this.enabled || this.pubsub.idle) return
    if (notes !== undefined) {
      for (let i = 0; i < notes.length; i += 3) this.send(notes[i]!, eventsOf(notes[i + 1]!, notes[i + 2]!))
      return
    }
    if (ev.type === 'entangle') return
    if (ev.type === 'batch') for (const op of ev.ops) this.send(op.key, eventsOfOp(op))
    else this.send(ev.key, eventsOfOp(ev))
  }

  onGap(): void {
    // Notifications are at most once, as Redis's: what was missed is not sent.
  }

  private send(key: string, events: Named): void {
    for (const [cls, event] of events) {
      if (!this.flags.has(cls)) continue
      const keyBytes = Buffer.from(key)
      if (this.flags.has('K')) this.pubsub.publish(`__keyspace@0__:${keyBytes.toString('latin1')}`, Buffer.from(event))
      if (this.flags.has('E')) this.pubsub.publish(`__keyevent@0__:${event}`, keyBytes)
    }
  }
}
