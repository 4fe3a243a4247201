// The shape of a command: its Redis metadata (arity, flags, key positions — what COMMAND
// reports and what clients such as ioredis' cluster mode read) and its implementation.
import type { Database } from '../index.js'
import type { ClientState } from './clientState.js'
import type { CommandTable } from './commandTable.js'
import type { Keyspace } from './keyspace.js'
import type { Reply } from './resp/reply.js'
import { ErrorReply } from './resp/reply.js'
import type { ServerState } from './serverState.js'

export interface CommandContext {
  readonly db: Database
  /** Reads and the write set of this command (or of the transaction being executed). */
  readonly ks: Keyspace
  readonly client: ClientState
  readonly server: ServerState
  readonly table: CommandTable
  /** True while EXEC runs the queued commands (they must answer synchronously). */
  readonly inExec: boolean
}

/**
 * A command's implementation. It validates everything before it writes (a command that fails
 * leaves no write behind: inside EXEC the others still apply), then answers. Most answer at
 * once; the few that wait (SAVE, WAIT) return a promise and are flagged `no-multi`.
 */
export type CommandRun = (ctx: CommandContext, args: Buffer[]) => Reply | Promise<Reply>

export interface Command {
  /** Lower case, as COMMAND lists it ('client|list' for a subcommand). */
  name: string
  /** Redis's arity: N exactly N arguments counting the name, -N at least N. */
  arity: number
  /** Redis's flags as COMMAND reports them; 'no-auth' and 'no-multi' also steer dispatch. */
  flags: readonly string[]
  firstKey: number
  lastKey: number
  step: number
  /** For COMMAND DOCS: the group and a one-line summary. */
  group: string
  summary: string
  since: string
  run: CommandRun
  subcommands?: readonly Command[]
}

/**
 * IsLabDB keys are non-empty UTF-8 strings (a Redis key is any bytes): a key that is not valid
 * UTF-8, or the empty key, is refused with this error rather than stored under another name.
 */
export class KeyError extends Error {
  readonly reply: ErrorReply
  constructor(why: string) {
    super(why)
    this.reply = new ErrorReply(`ERR invalid key: ${why}`)
  }
}

/** The key an argument names: its UTF-8 text. Throws KeyError (answered as an error reply). */
export function keyOf(arg: Buffer): string {
  if (arg.length === 0) throw new KeyError('IsLabDB keys are not empty')
  // toString() without arguments is UTF-8 and skips Node's encoding lookup (once per command).
  const s = arg.toString()
  // Invalid UTF-8 decodes to U+FFFD; only then compare bytes (a real U+FFFD round-trips).
  if (s.includes('\ufffd') && !Buffer.from(s).equals(arg)) throw new KeyError('IsLabDB keys are UTF-8 text; these bytes are not valid UTF-8')
  if (arg.length > 65535) throw new KeyError(`it is ${arg.length} bytes long; IsLabDB keys are at most 65535`)
  return s
}

/** A hash field: UTF-8 text like a key, but the empty field is allowed (a Map key can be ''). */
export function fieldOf(arg: Buffer): string {
  const s = arg.toString()
  if (s.includes('\ufffd') && !Buffer.from(s).equals(arg)) throw new KeyError('IsLabDB hash fields are UTF-8 text; these bytes are not valid UTF-8')
  return s
}

/** An argument as lower-case ASCII text (option words, subcommand names). */
export function word(arg: Buffer): string {
  return arg.toString('latin1', 0, arg.length).toLowerCase()
}

/** Declares a command; the table fills key positions and flags for COMMAND. */
export function command(
  name: string,
  arity: number,
  flags: readonly string[],
  keys: [first: number, last: number, step: number],
  doc: { group: string; summary: string; since: string },
  run: CommandRun,
  subcommands?: readonly Command[],
): Command {
  return { name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], ...doc, run, subcommands }
}

export const NO_KEYS: [number, number, number] = [0, 0, 0]
export const ONE_KEY: [number, number, number] = [1, 1, 1]
export const ALL_KEYS: [number, number, number] = [1, -1, 1]
