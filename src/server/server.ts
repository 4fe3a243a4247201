// serve(db, options): IsLabDB over the Redis protocol. Listens on loopback unless told otherwise,
// and refuses to listen elsewhere without a password (Redis's protected mode). The database is
// the caller's: closing the server leaves it open.
import net from 'node:net'
import { ClosedError, InvalidOptionError } from '../index.js'
import type { Database } from '../index.js'
import { CommandTable } from './commandTable.js'
import { ALL_COMMANDS } from './commands/index.js'
import { Connection } from './connection.js'
import { KeyEvents } from './keyEvents.js'
import type { ReplicationControl } from './commands/replication.js'
import { DEFAULT_LIMITS } from './resp/requestParser.js'
import { ServerState, isLoopback } from './serverState.js'
import type { ServerSettings } from './serverState.js'

/** How long close() lets connections send the replies of commands they already ran. */
const CLOSE_GRACE_MS = 2000

export interface ServeOptions {
  /** TCP port; 0 picks a free one (see RedisServer.port). Default 6379. */
  port?: number
  /** Address to listen on. Default '127.0.0.1'. Any other than loopback needs `requirepass`. */
  host?: string
  /** Clients must AUTH (or HELLO … AUTH) with this password first. */
  requirepass?: string
  /** Most clients connected at once; one more is told "max number of clients reached". Default 10000. */
  maxclients?: number
  /** Close a client idle this many seconds; 0: never (Redis's default). */
  timeout?: number
  /** Stop reading a client whose unsent replies pass this many bytes, until they drain. Default 64 MiB. */
  outputLimit?: number
  /**
   * Close a subscriber whose unsent output passes this many bytes, or a quarter of it for 60 s
   * (Redis's `client-output-buffer-limit pubsub 32mb 8mb 60`): messages are not held back for a
   * client that does not read. Default 32 MiB.
   */
  pubsubOutputLimit?: number
  /** Largest argument in bytes (proto-max-bulk-len). Default 512 MiB. */
  maxBulkBytes?: number
  /** Longest inline command in bytes. Default 64 KiB. */
  maxInlineBytes?: number
  /** Most arguments in one request. Default 1048576. */
  maxArgs?: number
  /**
   * The replication of a replicated database (`db.replication` of islabdb/replication): ROLE and
   * INFO report it, REPLICAOF NO ONE promotes a replica, and a replica's write commands get
   * Redis's READONLY error.
   */
  replication?: ReplicationControl
}

export interface RedisServer {
  /** The port listened on (the one picked when `port` was 0). */
  readonly port: number
  readonly host: string
  /** Clients connected now. */
  readonly clients: number
  /**
   * Stops listening, answers the commands each connection already ran, then closes the
   * connections (any left after 2 s are cut). The database stays open.
   */
  close(): Promise<void>
}

const OPTION_NAMES = new Set(['port', 'host', 'requirepass', 'maxclients', 'timeout', 'outputLimit', 'pubsubOutputLimit', 'maxBulkBytes', 'maxInlineBytes', 'maxArgs', 'replication'])

function settingsOf(options: ServeOptions): ServerSettings {
  for (const k of Object.keys(options)) if (!OPTION_NAMES.has(k)) throw new InvalidOptionError(`serve: unknown option '${k}'; the options are ${[...OPTION_NAMES].join(', ')}`)
  const int = (name: keyof ServeOptions, v: unknown, def: number, min: number): number => {
    if (v === undefined) return def
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new InvalidOptionError(`serve: ${name} must be an integer ≥ ${min}, not ${String(v)}`)
    return v
  }
  const host = options.host ?? '127.0.0.1'
  if (typeof host !== 'string' || host === '') throw new InvalidOptionError('serve: host must be an address such as 127.0.0.1')
  const requirepass = options.requirepass === '' ? undefined : options.requirepass
  if (requirepass !== undefined && typeof requirepass !== 'string') throw new InvalidOptionError('serve: requirepass must be a string')
  if (!isLoopback(host) && requirepass === undefined) {
    throw new InvalidOptionError(
      `serve: refusing to listen on ${host} without a password (protected mode): anyone who can reach it could read and change the database. ` +
        'Set requirepass (islab serve --requirepass …), or listen on 127.0.0.1',
    )
  }
  return {
    port: int('port', options.port, 6379, 0),
    host,
    requirepass,
    maxclients: int('maxclients', options.maxclients, 10_000, 1),
    timeout: int('timeout', options.timeout, 0, 0),
    outputLimit: int('outputLimit', options.outputLimit, 64 * 1024 * 1024, 1),
    pubsubOutputLimit: int('pubsubOutputLimit', options.pubsubOutputLimit, 32 * 1024 * 1024, 1),
    maxBulkBytes: int('maxBulkBytes', options.maxBulkBytes, DEFAULT_LIMITS.maxBulkBytes, 1),
    maxInlineBytes: int('maxInlineBytes', options.maxInlineBytes, DEFAULT_LIMITS.maxInlineBytes, 16),
    maxArgs: int('maxArgs', options.maxArgs, DEFAULT_LIMITS.maxArgs, 1),
  }
}

const TOO_MANY = Buffer.from('-ERR max number of clients reached\r\n')

/** Serves `db` over the Redis protocol; resolves once listening. */
export async function serve(db: Database, options: ServeOptions = {}): Promise<RedisServer> {
  if (!db.isOpen) throw new ClosedError()
  const settings = settingsOf(options)
  const state = new ServerState(settings)
  state.replication = options.replication
  const table = new CommandTable(ALL_COMMANDS)
  const connections = new Set<Connection>()
  state.keyEvents = new KeyEvents(db, [state.notifications, state.tracking, state.watches], () => (state.notifications.enabled && !state.pubsub.idle) || state.tracking.count > 0 || state.watches.size > 0)
  state.watches.onActiveChange = () => state.keyEvents?.refresh()
  state.onTimeoutChange = (seconds) => {
    for (const c of connections) c.setIdleTimeout(seconds)
  }

  const server = net.createServer((socket) => {
    state.totalConnections++
    if (connections.size >= settings.maxclients) {
      state.rejectedConnections++
      socket.on('error', () => undefined)
      socket.end(TOO_MANY)
      return
    }
    const conn = new Connection(socket, db, state, table, (c) => {
      connections.delete(c)
      state.clients.delete(c.client.id)
      state.pubsub.leave(c.client)
      state.tracking.off(c.client)
      c.client.unwatch()
      state.keyEvents?.refresh()
    })
    connections.add(conn)
    state.clients.set(conn.client.id, conn.client)
  })

  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => reject(listenError(err, settings.host, settings.port))
    server.once('error', failed)
    server.listen(settings.port, settings.host, () => {
      server.off('error', failed)
      resolve()
    })
  })
  settings.port = (server.address() as net.AddressInfo).port
  // An accept that fails (EMFILE, ...) is reported on the server; without a listener it would
  // crash the process. The client it concerns is simply not served.
  server.on('error', () => {
    state.rejectedConnections++
  })

  let closing: Promise<void> | undefined
  return {
    port: settings.port,
    host: settings.host,
    get clients() {
      return connections.size
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        state.keyEvents?.stop()
        // Resolves once every connection has ended: each first sends the replies of the commands
        // it already ran; one still waiting after the grace (a client blocked in XREAD, one not
        // reading) is cut.
        const grace = setTimeout(() => {
          for (const c of connections) c.destroy()
        }, CLOSE_GRACE_MS)
        grace.unref()
        server.close(() => {
          clearTimeout(grace)
          resolve()
        })
        for (const c of connections) c.endAfterReplies()
      })
      return closing
    },
  }
}

/** A failed listen as an error that says what to do (EADDRINUSE, EACCES, EADDRNOTAVAIL). */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const at = `${host}:${port}`
  const why =
    err.code === 'EADDRINUSE'
      ? `${at} is already in use by another process (EADDRINUSE): pick another port (islab serve --port …, or port 0 for any free one) or stop that process`
      : err.code === 'EACCES'
        ? `this process may not listen on ${at} (EACCES): ports below 1024 need privileges; pick a port from 1024 up`
        : err.code === 'EADDRNOTAVAIL'
          ? `${host} is not an address of this machine (EADDRNOTAVAIL): pick one it has, such as 127.0.0.1`
          : undefined
  if (why === undefined) return err
  const e = new InvalidOptionError(`serve: cannot listen: ${why}`)
  ;(e as { cause?: unknown }).cause = err
  return e
}
