// Server commands: INFO, DBSIZE, CONFIG, TIME, FLUSHDB/FLUSHALL, SAVE/BGSAVE/LASTSAVE, WAIT.
import os from 'node:os'
import type { Command, CommandContext } from '../command.js'
import { NO_KEYS, command, word } from '../command.js'
import { runSubcommand } from '../commandTable.js'
import { formatNotifyFlags, parseNotifyFlags } from '../notifications.js'
import { globMatch } from '../glob.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, Errors, MapReply, OK, SimpleString, VerbatimReply } from '../resp/reply.js'
import type { ServerSettings } from '../serverState.js'
import { isLoopback } from '../serverState.js'
import { REDIS_VERSION } from '../version.js'
import { fail, intArg } from './access.js'
import { replicationInfo } from './replication.js'

const doc = (summary: string, since: string) => ({ group: 'server', summary, since })

// --- INFO ---------------------------------------------------------------------------------

type Section = [title: string, fields: () => [string, string | number][]]

function sections(ctx: CommandContext): Record<string, Section> {
  const { db, server } = ctx
  const s = server.settings
  return {
    server: [
      'Server',
      () => [
        ['redis_version', REDIS_VERSION],
        ['redis_mode', 'standalone'],
        ['islabdb', 'yes'],
        ['os', `${os.type()} ${os.release()} ${os.arch()}`],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['tcp_port', s.port],
        ['uptime_in_seconds', Math.floor((Date.now() - server.startedAt) / 1000)],
        ['uptime_in_days', Math.floor((Date.now() - server.startedAt) / 86_400_000)],
        ['executable', process.argv[1] ?? ''],
      ],
    ],
    clients: [
      'Clients',
      () => [
        ['connected_clients', server.clients.size],
        ['maxclients', s.maxclients],
        ['blocked_clients', server.blockedClients],
      ],
    ],
    memory: [
      'Memory',
      () => {
        const m = process.memoryUsage()
        return [
          ['used_memory', m.heapUsed],
          ['used_memory_rss', m.rss],
          ['used_memory_dataset', db.stats().valueBytes],
          ['maxmemory', 0],
          ['maxmemory_policy', 'noeviction'],
        ]
      },
    ],
    persistence: [
      'Persistence',
      () => {
        const st = db.stats()
        return [
          // ioredis waits for loading:0 before it calls the connection ready.
          ['loading', 0],
          ['async_loading', 0],
          ['rdb_changes_since_last_save', st.seq - (st.checkpoint.last?.seq ?? st.recovery?.checkpointSeq ?? 0)],
          ['rdb_bgsave_in_progress', 0],
          ['rdb_last_save_time', server.lastSaveAt],
          ['rdb_last_bgsave_status', st.checkpoint.lastError === undefined ? 'ok' : 'err'],
          ['aof_enabled', st.durability === 'memory' ? 0 : 1],
          ['islab_durability', st.durability],
          ['islab_seq', st.seq],
          ['islab_durable_seq', st.durableSeq],
          ['islab_wal_pending_bytes', st.walPendingBytes],
        ]
      },
    ],
    stats: [
      'Stats',
      () => [
        ['total_connections_received', server.totalConnections],
        ['total_commands_processed', server.totalCommands],
        ['rejected_connections', server.rejectedConnections],
        ['tracking_total_keys', server.tracking.keys],
        ['tracking_total_items', server.tracking.items],
        ['tracking_total_prefixes', server.tracking.prefixes],
      ],
    ],
    replication: ['Replication', () => replicationInfo(ctx)],
    cpu: [
      'CPU',
      () => {
        const u = process.cpuUsage()
        return [
          ['used_cpu_sys', (u.system / 1e6).toFixed(6)],
          ['used_cpu_user', (u.user / 1e6).toFixed(6)],
        ]
      },
    ],
    keyspace: ['Keyspace', () => (db.size > 0 ? [['db0', `keys=${db.size},expires=${db.stats().expiringKeys},avg_ttl=0`]] : [])],
  }
}

const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'keyspace']

function info(ctx: CommandContext, args: Buffer[]): Reply {
  const all = sections(ctx)
  let wanted = args.length === 1 ? DEFAULT_SECTIONS : args.slice(1).map(word)
  if (wanted.some((w) => w === 'all' || w === 'everything' || w === 'default')) wanted = DEFAULT_SECTIONS
  const parts: string[] = []
  for (const name of DEFAULT_SECTIONS) {
    if (!wanted.includes(name)) continue
    const [title, fields] = all[name]!
    parts.push(`# ${title}\r\n${fields().map(([k, v]) => `${k}:${v}\r\n`).join('')}`)
  }
  return new VerbatimReply(parts.join('\r\n'))
}

// --- CONFIG -------------------------------------------------------------------------------

interface Setting {
  get(s: ServerSettings, ctx: CommandContext): string
  /** Absent: read-only (CONFIG SET answers an error). */
  set?(ctx: CommandContext, value: string): string | undefined
}

function intSetting(name: keyof ServerSettings, min: number, apply?: (ctx: CommandContext, n: number) => void): Setting {
  return {
    get: (s) => String(s[name]),
    set: (ctx, v) => {
      if (!/^-?[0-9]+$/.test(v)) return "argument couldn't be parsed into an integer"
      const n = Number(v)
      if (n < min) return 'argument must be between ' + min + ' and 2147483647 inclusive'
      ;(ctx.server.settings as unknown as Record<string, number>)[name] = n
      apply?.(ctx, n)
      return undefined
    },
  }
}

const SETTINGS: Record<string, Setting> = {
  port: { get: (s) => String(s.port) },
  bind: { get: (s) => s.host },
  'protected-mode': { get: () => 'yes' },
  databases: { get: () => '1' },
  requirepass: {
    get: (s) => s.requirepass ?? '',
    set: (ctx, v) => {
      // Protected mode holds at runtime too: serve() refused to listen beyond loopback without a password.
      if (v === '' && !isLoopback(ctx.server.settings.host)) {
        return `refusing to remove the password while listening on ${ctx.server.settings.host} (protected mode): anyone who can reach it could read and change the database. Set another password, or serve on 127.0.0.1 to run without one.`
      }
      ctx.server.setPassword(v)
      return undefined
    },
  },
  maxclients: intSetting('maxclients', 1),
  timeout: intSetting('timeout', 0, (ctx, n) => ctx.server.onTimeoutChange?.(n)),
  'proto-max-bulk-len': { get: (s) => String(s.maxBulkBytes) },
  'client-output-buffer-limit': { get: (s) => `normal 0 0 0 pubsub ${s.pubsubOutputLimit} ${Math.floor(s.pubsubOutputLimit / 4)} 60 islab-output-limit ${s.outputLimit}` },
  appendonly: { get: (_s, ctx) => (ctx.db.stats().durability === 'memory' ? 'no' : 'yes') },
  // Redis's names for IsLabDB's durability: sync = fdatasync before the reply, buffered = group commit every syncIntervalMs.
  appendfsync: { get: (_s, ctx) => ({ sync: 'always', buffered: 'everysec', memory: 'no' })[ctx.db.stats().durability] },
  save: { get: () => '' },
  maxmemory: { get: () => '0' },
  'maxmemory-policy': { get: () => 'noeviction' },
  'notify-keyspace-events': {
    get: (_s, ctx) => formatNotifyFlags(ctx.server.notifications.flags),
    set: (ctx, v) => {
      const flags = parseNotifyFlags(v)
      if (flags === undefined) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
      ctx.server.notifications.flags = flags
      ctx.server.keyEvents?.refresh()
      return undefined
    },
  },
}

function configGet(ctx: CommandContext, args: Buffer[]): Reply {
  const out: [Reply, Reply][] = []
  const seen = new Set<string>()
  for (let i = 2; i < args.length; i++) {
    const pattern = args[i]!.toString().toLowerCase()
    for (const name of Object.keys(SETTINGS)) {
      if (seen.has(name) || !globMatch(pattern, name)) continue
      seen.add(name)
      out.push([name, SETTINGS[name]!.get(ctx.server.settings, ctx)])
    }
  }
  return new MapReply(out)
}

function configSet(ctx: CommandContext, args: Buffer[]): Reply {
  if ((args.length - 2) % 2 !== 0) return Errors.wrongArgs('config|set')
  const changes: [Setting, string, string][] = []
  for (let i = 2; i < args.length; i += 2) {
    const name = args[i]!.toString().toLowerCase()
    const setting = SETTINGS[name]
    if (setting === undefined) return new ErrorReply(`ERR Unknown option or number of arguments for CONFIG SET - '${args[i]!.toString()}'`)
    if (setting.set === undefined) return new ErrorReply(`ERR CONFIG SET failed (possibly related to argument '${name}') - can't set immutable config`)
    changes.push([setting, name, args[i + 1]!.toString()])
  }
  for (const [setting, name, value] of changes) {
    const err = setting.set!(ctx, value)
    if (err !== undefined) return new ErrorReply(`ERR CONFIG SET failed (possibly related to argument '${name}') - ${err}`)
  }
  return OK
}

const configSubcommands: Command[] = [
  command('config|get', -3, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, doc('Returns the effective values of configuration parameters.', '2.0.0'), configGet),
  command('config|set', -4, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, doc('Sets configuration parameters in-flight.', '2.0.0'), configSet),
  command('config|resetstat', 2, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, doc('Resets the server\'s statistics.', '2.0.0'), (ctx) => {
    ctx.server.totalCommands = 0
    ctx.server.totalConnections = 0
    ctx.server.rejectedConnections = 0
    return OK
  }),
  command('config|rewrite', 2, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, doc('Persists the effective configuration to file.', '2.8.0'), () =>
    new ErrorReply('ERR The server is running without a config file'),
  ),
  command('config|help', 2, ['loading', 'stale'], NO_KEYS, doc('Returns helpful text about the different subcommands.', '5.0.0'), () => [
    'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'GET <pattern>', '    Return parameters matching the glob-like <pattern> and their values.',
    'SET <directive> <value>', '    Set the configuration <directive> to <value>.',
    'RESETSTAT', '    Reset statistics reported by the INFO command.',
    'HELP', '    Print this help.',
  ]),
]

// --- Persistence and the rest -------------------------------------------------------------

function flush(ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length > 2) return Errors.syntax
  if (args.length === 2) {
    const w = word(args[1]!)
    if (w !== 'async' && w !== 'sync') return Errors.syntax
  }
  // One batch deleting every key: an event like any other (change streams and history see it).
  const keys: string[] = []
  for (const [k] of ctx.ks.entries()) keys.push(k)
  for (const k of keys) ctx.ks.del(k)
  return OK
}

async function save(ctx: CommandContext): Promise<Reply> {
  await ctx.db.checkpoint()
  ctx.server.lastSaveAt = Math.floor(Date.now() / 1000)
  return OK
}

const BGSAVE_STARTED = new SimpleString('Background saving started')

function bgsave(ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length > 2 || (args.length === 2 && word(args[1]!) !== 'schedule')) return Errors.syntax
  ctx.db.checkpoint().then(
    () => {
      ctx.server.lastSaveAt = Math.floor(Date.now() / 1000)
    },
    // The failure is in db.stats().checkpoint.lastError (INFO: rdb_last_bgsave_status:err).
    () => undefined,
  )
  return BGSAVE_STARTED
}

/** WAIT: no replicas here; answers 0 once every write so far is durable (db.flush()). */
async function wait(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  intArg(args[1]!)
  const timeout = intArg(args[2]!, new ErrorReply('ERR timeout is not an integer or out of range'))
  if (timeout < 0) fail(new ErrorReply('ERR timeout is negative'))
  await ctx.db.flush()
  return 0
}

export const serverCommands: Command[] = [
  command('info', -1, ['loading', 'stale', 'sentinel'], NO_KEYS, doc('Returns information and statistics about the server.', '1.0.0'), info),
  command('dbsize', 1, ['readonly', 'fast'], NO_KEYS, doc('Returns the number of keys in the database.', '1.0.0'), (ctx) => ctx.ks.size),
  command('config', -2, [], NO_KEYS, doc('A container for server configuration commands.', '2.0.0'), (ctx, a) => runSubcommand(ctx, a, 'config', configSubcommands), configSubcommands),
  command('time', 1, ['loading', 'stale', 'fast'], NO_KEYS, doc('Returns the server time.', '2.6.0'), (ctx) => {
    // The wall clock (as Redis's gettimeofday) in µs: Date.now()'s ms plus the sub-ms of
    // performance.now(). The two clocks' milliseconds do not start together, so that sum can go
    // back by under 1 ms: never answer below the last answer.
    const now = Date.now() * 1000 + Math.floor((performance.now() % 1) * 1000)
    const us = Math.max(now, ctx.server.lastTimeUs)
    ctx.server.lastTimeUs = us
    return [String(Math.floor(us / 1_000_000)), String(us % 1_000_000)]
  }),
  command('flushdb', -1, ['write'], NO_KEYS, doc('Remove all keys from the current database.', '1.0.0'), flush),
  command('flushall', -1, ['write'], NO_KEYS, doc('Removes all keys from all databases.', '1.0.0'), flush),
  command('save', 1, ['admin', 'noscript', 'no-multi'], NO_KEYS, doc('Synchronously saves the database(s) to disk: here a checkpoint.', '1.0.0'), save),
  command('bgsave', -1, ['admin', 'noscript', 'no-multi'], NO_KEYS, doc('Asynchronously saves the database(s) to disk: here a checkpoint.', '1.0.0'), bgsave),
  command('lastsave', 1, ['loading', 'stale', 'fast'], NO_KEYS, doc('Returns the Unix timestamp of the last successful save to disk.', '1.0.0'), (ctx) => ctx.server.lastSaveAt),
  command('wait', 3, ['noscript', 'no-multi'], NO_KEYS, doc('Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed: here until they are durable.', '3.0.0'), wait),
]
