// Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT.
import type { Command, CommandContext } from '../command.js'
import { NO_KEYS, command, word } from '../command.js'
import { runSubcommand } from '../commandTable.js'
import type { Reply } from '../resp/reply.js'
import { trackingSubcommands } from './tracking.js'
import { ErrorReply, Errors, MapReply, OK, PONG, SimpleString, VerbatimReply } from '../resp/reply.js'
import { REDIS_VERSION } from '../version.js'
import { fail, intArg } from './access.js'

const doc = (summary: string, since: string) => ({ group: 'connection', summary, since })

/** Client names and library names: printable ASCII without spaces (Redis's rule). */
function validName(b: Buffer): boolean {
  for (const c of b) if (c < 33 || c > 126) return false
  return true
}

function hello(ctx: CommandContext, args: Buffer[]): Reply {
  const client = ctx.client
  let version: number | undefined
  if (args.length >= 2) {
    version = intArg(args[1]!, new ErrorReply('ERR Protocol version is not an integer or out of range'))
    if (version < 2 || version > 3) return new ErrorReply('NOPROTO unsupported protocol version')
  }
  let password: Buffer | undefined
  let username: Buffer | undefined
  let name: Buffer | undefined
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]!)
    const more = args.length - 1 - i
    if (w === 'auth' && more >= 2) {
      username = args[++i]!
      password = args[++i]!
    } else if (w === 'setname' && more >= 1) {
      name = args[++i]!
    } else {
      return new ErrorReply(`ERR Syntax error in HELLO option '${args[i]!.toString()}'`)
    }
  }
  if (username !== undefined && !authenticate(ctx, username, password!)) return Errors.wrongPass
  if (!client.authenticated) {
    return new ErrorReply(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    )
  }
  if (name !== undefined) {
    if (!validName(name)) return new ErrorReply('ERR Client names cannot contain spaces, newlines or special characters.')
    client.name = name.toString()
  }
  if (version !== undefined) client.protocol = version as 2 | 3
  return new MapReply([
    ['server', 'islabdb'],
    ['version', REDIS_VERSION],
    ['proto', client.protocol],
    ['id', client.id],
    ['mode', 'standalone'],
    ['role', ctx.server.replication?.role === 'replica' ? 'replica' : 'master'],
    ['modules', []],
  ])
}

/**
 * The one user is 'default'. Without requirepass it has no password (any is accepted, as Redis's
 * nopass user); with one, the password is compared in constant time (ServerState.checkPassword).
 */
function authenticate(ctx: CommandContext, username: Buffer, password: Buffer): boolean {
  if (username.toString() !== 'default') return false
  if (!ctx.server.needsAuth) return true
  if (!ctx.server.checkPassword(password)) return false
  ctx.client.authenticated = true
  return true
}

function auth(ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length > 3) return Errors.syntax
  if (args.length === 2 && !ctx.server.needsAuth) {
    return new ErrorReply('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?')
  }
  const [username, password] = args.length === 3 ? [args[1]!, args[2]!] : [Buffer.from('default'), args[1]!]
  return authenticate(ctx, username, password) ? OK : Errors.wrongPass
}

function select(_ctx: CommandContext, args: Buffer[]): Reply {
  const index = intArg(args[1]!)
  return index === 0 ? OK : Errors.dbIndex
}

const RESET = new SimpleString('RESET')

function reset(ctx: CommandContext): Reply {
  const client = ctx.client
  client.endTransaction()
  ctx.server.pubsub.leave(client)
  ctx.server.tracking.off(client)
  ctx.server.keyEvents?.refresh()
  client.protocol = 2
  client.name = ''
  client.authenticated = !ctx.server.needsAuth
  return RESET
}

function clientKill(ctx: CommandContext, args: Buffer[]): Reply {
  const clients = [...ctx.server.clients.values()]
  if (args.length === 3) {
    // The old form: CLIENT KILL addr:port.
    const addr = args[2]!.toString()
    const target = clients.find((c) => c.addr === addr)
    if (target === undefined) return new ErrorReply('ERR No such client')
    target.close()
    return OK
  }
  let skipMe = true
  const filters: ((c: (typeof clients)[number]) => boolean)[] = []
  for (let i = 2; i < args.length; i += 2) {
    if (i + 1 >= args.length) return Errors.syntax
    const w = word(args[i]!)
    const v = args[i + 1]!.toString()
    if (w === 'id') {
      const id = intArg(args[i + 1]!, new ErrorReply('ERR client-id should be greater than 0'))
      if (id <= 0) return new ErrorReply('ERR client-id should be greater than 0')
      filters.push((c) => c.id === id)
    } else if (w === 'addr') filters.push((c) => c.addr === v)
    else if (w === 'laddr') filters.push((c) => c.laddr === v)
    else if (w === 'user') filters.push(() => v === 'default')
    else if (w === 'type') {
      const t = v.toLowerCase()
      if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(t)) return new ErrorReply(`ERR Unknown client type '${v}'`)
      filters.push(() => t === 'normal')
    } else if (w === 'skipme') {
      const y = v.toLowerCase()
      if (y !== 'yes' && y !== 'no') return Errors.syntax
      skipMe = y === 'yes'
    } else return Errors.syntax
  }
  let n = 0
  for (const c of clients) {
    if (skipMe && c === ctx.client) continue
    if (filters.every((f) => f(c))) {
      c.close()
      n++
    }
  }
  return n
}

function clientList(ctx: CommandContext, args: Buffer[]): Reply {
  let clients = [...ctx.server.clients.values()]
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]!)
    if (w === 'type' && i + 1 < args.length) {
      const t = word(args[++i]!)
      if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(t)) return new ErrorReply(`ERR Unknown client type '${args[i]!.toString()}'`)
      if (t !== 'normal') clients = []
    } else if (w === 'id' && i + 1 < args.length) {
      const ids = new Set<number>()
      while (i + 1 < args.length) {
        const id = intArg(args[++i]!, new ErrorReply('ERR Invalid client ID'))
        if (id <= 0) return new ErrorReply('ERR Invalid client ID')
        ids.add(id)
      }
      clients = clients.filter((c) => ids.has(c.id))
    } else return Errors.syntax
  }
  const now = Date.now()
  return new VerbatimReply(clients.map((c) => `${c.describe(now)}\n`).join(''))
}

function clientSetinfo(ctx: CommandContext, args: Buffer[]): Reply {
  const attr = word(args[2]!)
  const value = args[3]!
  if (attr !== 'lib-name' && attr !== 'lib-ver') return new ErrorReply(`ERR Unrecognized option '${args[2]!.toString()}'`)
  if (!validName(value) && value.length > 0) return new ErrorReply(`ERR ${attr} cannot contain spaces, newlines or special characters.`)
  if (attr === 'lib-name') ctx.client.libName = value.toString()
  else ctx.client.libVer = value.toString()
  return OK
}

const clientDoc = (summary: string, since: string) => doc(summary, since)

const clientSubcommands: Command[] = [
  command('client|id', 2, ['noscript', 'loading', 'stale'], NO_KEYS, clientDoc('Returns the unique client ID of the connection.', '5.0.0'), (ctx) => ctx.client.id),
  command('client|getname', 2, ['noscript', 'loading', 'stale'], NO_KEYS, clientDoc('Returns the name of the connection.', '2.6.9'), (ctx) => ctx.client.name === '' ? null : ctx.client.name),
  command('client|setname', 3, ['noscript', 'loading', 'stale'], NO_KEYS, clientDoc('Sets the connection name.', '2.6.9'), (ctx, a) => {
    if (!validName(a[2]!) && a[2]!.length > 0) return new ErrorReply('ERR Client names cannot contain spaces, newlines or special characters.')
    ctx.client.name = a[2]!.toString()
    return OK
  }),
  command('client|setinfo', 4, ['noscript', 'loading', 'stale'], NO_KEYS, clientDoc('Sets information specific to the client or connection.', '7.2.0'), clientSetinfo),
  command('client|list', -2, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, clientDoc('Lists open connections.', '2.4.0'), clientList),
  command('client|info', 2, ['noscript', 'loading', 'stale'], NO_KEYS, clientDoc('Returns information about the connection.', '6.2.0'), (ctx) => new VerbatimReply(`${ctx.client.describe()}\n`)),
  command('client|kill', -3, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, clientDoc('Terminates open connections.', '2.4.0'), clientKill),
  ...trackingSubcommands,
  command('client|help', 2, ['loading', 'stale'], NO_KEYS, clientDoc('Returns helpful text about the different subcommands.', '5.0.0'), () => [
    'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'ID', '    Return the ID of the current connection.',
    'GETNAME', '    Return the name of the current connection.',
    'SETNAME <name>', '    Assign the name <name> to the current connection.',
    'SETINFO <option> <value>', '    Set client meta attr (LIB-NAME, LIB-VER).',
    'INFO', '    Return information about the current client connection.',
    'LIST [TYPE <type>] [ID <id> [<id> ...]]', '    Return information about client connections.',
    'KILL <ip:port> | KILL <option> <value> [<option> <value> [...]]', '    Kill connections (ID, ADDR, LADDR, USER, TYPE, SKIPME).',
    'HELP', '    Print this help.',
  ]),
]

export const connectionCommands: Command[] = [
  command('ping', -1, ['fast', 'sentinel'], NO_KEYS, doc('Returns the server\'s liveliness response.', '1.0.0'), (ctx, a) => {
    if (a.length > 2) fail(Errors.wrongArgs('ping'))
    // A RESP2 client in subscribe mode reads arrays only: ["pong", message].
    if (ctx.client.protocol === 2 && ctx.client.subscriptions > 0) return ['pong', a.length === 2 ? a[1]! : '']
    return a.length === 2 ? a[1]! : PONG
  }),
  command('echo', 2, ['fast'], NO_KEYS, doc('Returns the given string.', '1.0.0'), (_ctx, a) => a[1]!),
  command('hello', -1, ['noscript', 'loading', 'stale', 'fast', 'no-auth', 'sentinel', 'allow-busy'], NO_KEYS, doc('Handshakes with the Redis server.', '6.0.0'), hello),
  command('auth', -2, ['noscript', 'loading', 'stale', 'fast', 'no-auth', 'sentinel', 'allow-busy'], NO_KEYS, doc('Authenticates the connection.', '1.0.0'), auth),
  command('select', 2, ['loading', 'stale', 'fast'], NO_KEYS, doc('Changes the selected database (only 0 exists here).', '1.0.0'), select),
  command('quit', -1, ['noscript', 'loading', 'stale', 'fast', 'no-auth', 'allow-busy'], NO_KEYS, doc('Closes the connection.', '1.0.0'), (ctx) => {
    ctx.client.close()
    return OK
  }),
  command('reset', 1, ['noscript', 'loading', 'stale', 'fast', 'no-auth', 'allow-busy'], NO_KEYS, doc('Resets the connection.', '6.2.0'), reset),
  command('client', -2, ['sentinel'], NO_KEYS, doc('A container for client connection commands.', '2.4.0'), (ctx, a) => runSubcommand(ctx, a, 'client', clientSubcommands), clientSubcommands),
]
