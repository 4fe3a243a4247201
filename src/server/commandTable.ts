// Finds a command by name and runs it with Redis's checks, in Redis's order: unknown command,
// arity, authentication, then queueing inside MULTI. The families register their commands in
// commands/index.ts; this file knows none of them.
import { IslabError } from '../index.js'
import type { Command, CommandContext } from './command.js'
import { KeyError, word } from './command.js'
import type { Reply } from './resp/reply.js'
import { ErrorReply, Errors, QUEUED, truncate } from './resp/reply.js'
import { READONLY_REPLICA } from './commands/replication.js'

/** What a RESP2 client may send while subscribed (Redis's subscribe mode). */
const SUBSCRIBE_MODE = new Set(['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe', 'ping', 'quit', 'reset'])

/** Commands that act on the transaction itself instead of being queued by MULTI. */
const TRANSACTION_CONTROL = new Set(['multi', 'exec', 'discard', 'watch', 'quit', 'reset'])

interface Entry {
  command: Command
  noAuth: boolean
  noMulti: boolean
  control: boolean
  /** Allowed to a RESP2 client in subscribe mode. */
  subscribeMode: boolean
  /** Flagged 'write': a read-only replica refuses it. */
  write: boolean
  /** The name's bytes, lower case (see find). */
  bytes: Buffer
}

/** ASCII upper-case letters to lower case; every other byte as it is. */
function fold(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c
}

export class CommandTable {
  private readonly byName = new Map<string, Entry>()
  /**
   * The entries by (name length, first letter): a request's command is found from its bytes
   * without making a string of them (dispatch runs once per command, a pipeline runs millions).
   */
  private readonly byBytes = new Map<number, Entry[]>()

  constructor(commands: readonly Command[]) {
    for (const c of commands) {
      const entry: Entry = {
        command: c,
        noAuth: c.flags.includes('no-auth'),
        noMulti: c.flags.includes('no-multi'),
        control: TRANSACTION_CONTROL.has(c.name),
        subscribeMode: SUBSCRIBE_MODE.has(c.name),
        write: c.flags.includes('write'),
        bytes: Buffer.from(c.name, 'latin1'),
      }
      this.byName.set(c.name, entry)
      const k = bucketOf(entry.bytes.length, entry.bytes[0]!)
      const bucket = this.byBytes.get(k)
      if (bucket === undefined) this.byBytes.set(k, [entry])
      else bucket.push(entry)
    }
  }

  /** The entry whose name `arg` is, in any case (as word(arg) looked up in byName). */
  private find(arg: Buffer): Entry | undefined {
    const n = arg.length
    if (n === 0) return undefined
    const bucket = this.byBytes.get(bucketOf(n, fold(arg[0]!)))
    if (bucket === undefined) return undefined
    outer: for (let j = 0; j < bucket.length; j++) {
      const b = bucket[j]!.bytes
      for (let i = 1; i < n; i++) if (fold(arg[i]!) !== b[i]) continue outer
      return bucket[j]
    }
    return undefined
  }

  /** The command `arg` names, in any case. */
  lookup(arg: Buffer): Command | undefined {
    return this.find(arg)?.command
  }

  get commands(): Command[] {
    return [...this.byName.values()].map((e) => e.command)
  }

  get(name: string): Command | undefined {
    return this.byName.get(name)?.command
  }

  /** Runs one request (or queues it inside MULTI) and returns its reply. */
  dispatch(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply> {
    const client = ctx.client
    ctx.server.totalCommands++
    const entry = this.find(args[0]!)
    if (entry === undefined) {
      if (client.multi !== undefined) client.multiFailed = true
      return unknownCommand(args)
    }
    const cmd = entry.command
    const name = cmd.name
    // Arity before authentication, as Redis's processCommand (an unauthenticated `GET` with no
    // key gets the arity error, `GET k` gets NOAUTH).
    if (cmd.arity > 0 ? args.length !== cmd.arity : args.length < -cmd.arity) return reject(client, name, Errors.wrongArgs(name))
    if (!client.authenticated && !entry.noAuth) return reject(client, name, Errors.noAuth)
    if (client.protocol === 2 && client.subscriptions > 0 && !entry.subscribeMode) {
      return reject(client, name, new ErrorReply(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`))
    }
    // Redis's processCommand: a read-only replica refuses writes before they are queued.
    if (entry.write && ctx.server.replication?.role === 'replica') return reject(client, name, READONLY_REPLICA)
    client.lastCommand = name
    if (client.multi !== undefined && !entry.control) {
      if (entry.noMulti) {
        client.multiFailed = true
        return Errors.notAllowedInMulti
      }
      client.multi.push(args)
      return QUEUED
    }
    return this.run(ctx, cmd, args)
  }

  /** Runs a command whose name and arity were checked (EXEC runs its queue through this). */
  run(ctx: CommandContext, cmd: Command, args: Buffer[]): Reply | Promise<Reply> {
    const mark = ctx.ks.savepoint()
    try {
      const r = cmd.run(ctx, args)
      if (ctx.ks.events?.active === true && ctx.ks.savepoint() > mark) ctx.ks.noteSince(mark, cmd.name)
      if (ctx.client.tracking !== undefined) this.track(ctx, cmd, args)
      return r instanceof Promise ? r.catch((err: unknown) => this.errorReply(err)) : r
    } catch (err) {
      // A command that threw midway leaves none of its writes (inside EXEC the others stay).
      ctx.ks.rollback(mark)
      return this.errorReply(err)
    }
  }

  /** CLIENT TRACKING: the keys a read-only command read; CLIENT CACHING applies to one command. */
  private track(ctx: CommandContext, cmd: Command, args: Buffer[]): void {
    if (cmd.flags.includes('readonly')) ctx.server.tracking.read(ctx.client, cmd, args)
    if (cmd.name !== 'client') ctx.client.cachingNext = undefined
  }

  /** An exception from a command or a rejected write, as an error reply. */
  errorReply(err: unknown): ErrorReply {
    if (err instanceof ErrorReply) return err
    if (err instanceof KeyError) return err.reply
    if (err instanceof IslabError) return new ErrorReply(`ERR ${err.code}: ${err.message}`)
    return new ErrorReply(`ERR internal error: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/**
 * A command refused before it runs (Redis's rejectCommand): inside MULTI the transaction fails;
 * a refused EXEC discards it and says why, without the ERR code ("EXECABORT Transaction discarded
 * because of: wrong number of arguments for 'exec' command").
 */
function reject(client: CommandContext['client'], name: string, err: ErrorReply): ErrorReply {
  if (name !== 'exec') {
    if (client.multi !== undefined) client.multiFailed = true
    return err
  }
  client.endTransaction()
  const why = err.line.startsWith('ERR ') ? err.line.slice(4) : err.line
  return new ErrorReply(`EXECABORT Transaction discarded because of: ${why}`)
}

/** A bucket's key: distinct for every (length, first byte), as a byte is below 256. */
function bucketOf(length: number, first: number): number {
  return length * 256 + first
}

/** Redis's text: "ERR unknown command 'foo', with args beginning with: 'a' 'b' " (trailing space included). */
function unknownCommand(args: Buffer[]): ErrorReply {
  let rest = ''
  for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${truncate(args[i]!.toString(), 128 - rest.length)}' `
  return new ErrorReply(`ERR unknown command '${truncate(args[0]!.toString(), 128)}', with args beginning with: ${rest}`)
}

/**
 * Runs a container's subcommand (CLIENT LIST, CONFIG GET, …) with Redis's checks: an unknown one
 * gets "ERR unknown subcommand 'x'. Try CLIENT HELP.", a wrong count "… for 'client|list' command".
 */
export function runSubcommand(ctx: CommandContext, args: Buffer[], container: string, subs: readonly Command[]): Reply | Promise<Reply> {
  const sub = word(args[1]!)
  const cmd = subs.find((c) => c.name === `${container}|${sub}`)
  if (cmd === undefined) return Errors.unknownSubcommand(args[1]!.toString(), container)
  if (cmd.arity > 0 ? args.length !== cmd.arity : args.length < -cmd.arity) return Errors.wrongArgs(cmd.name)
  return cmd.run(ctx, args)
}
