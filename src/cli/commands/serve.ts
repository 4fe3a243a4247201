// `islab serve`: the database over the Redis protocol (docs/server.md), until SIGINT/SIGTERM,
// then the server and the database are closed cleanly (the log flushed, the lock released).
import { InvalidOptionError } from '../../errors.js'
import { serve } from '../../server/index.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { UsageError, choice, stringOption } from '../args.js'
import { LockedError } from '../../errors.js'
import type { ReplicatedDatabase } from '../../replication/index.js'
import { lockedError } from '../dbDir.js'
import { openForWriting } from '../edit.js'
import { say } from '../output.js'

export const spec: CommandSpec = {
  name: 'serve',
  args: ['dir?'],
  options: {
    port: { type: 'string', short: 'p', value: '<port>', desc: 'TCP port (default 6379; 0 picks a free one)' },
    host: { type: 'string', value: '<address>', desc: 'address to listen on (default 127.0.0.1)' },
    durability: { type: 'string', value: 'sync|buffered', desc: "when a write is answered: 'sync' once on disk, 'buffered' (default) at once, on disk within 100 ms" },
    requirepass: { type: 'string', value: '<password>', desc: 'clients must AUTH with this password; needed to listen beyond loopback' },
    nats: { type: 'string', value: '<servers>', desc: 'replicate through NATS JetStream (comma-separated servers, e.g. 127.0.0.1:4222); needs --stream' },
    stream: { type: 'string', value: '<name>', desc: 'the JetStream stream of the replication' },
    role: { type: 'string', value: 'primary|replica', desc: "with --nats: publish this database's events (primary, default) or follow the stream read-only (replica)" },
    ack: { type: 'string', value: 'local|replicated', desc: "with --nats on a primary: answer a write once durable here (local, default) or once the stream stored it (replicated)" },
  },
  description: `
Serves the database in <dir> (default ./data, created when missing) over the Redis protocol:
redis-cli, ioredis, node-redis, redis-py, Jedis, go-redis … connect to it as to a Redis server.
Opens the database, so it needs it closed. Listens on 127.0.0.1 unless --host says otherwise;
any other address needs --requirepass (protected mode). Ctrl-C (SIGINT) or SIGTERM stops it:
the database is closed cleanly.

With --nats and --stream the database is replicated (docs/replication.md): a primary publishes
every event to the stream; a replica follows it, answers reads, and refuses writes with Redis's
READONLY error. ROLE and INFO replication say which it is; REPLICAOF NO ONE (or
\`islab promote --port <port>\`) promotes a replica.

Supported commands, value mapping and differences from Redis: docs/server.md.`,
  examples: [
    'islab serve ./data',
    'islab serve ./data --port 6380 --durability sync',
    'islab serve ./data --host 0.0.0.0 --requirepass "$ISLAB_PASSWORD"',
    'islab serve ./primary --port 6380 --nats 127.0.0.1:4222 --stream orders',
    'islab serve ./replica --port 6381 --nats 127.0.0.1:4222 --stream orders --role replica',
  ],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0] ?? './data'
  const portText = stringOption(args, 'port') ?? '6379'
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw new UsageError(`--port must be a port number (0-65535), not '${portText}'`)
  const durability = choice(args, 'durability', ['sync', 'buffered'] as const, 'buffered')
  const host = stringOption(args, 'host') ?? '127.0.0.1'
  const requirepass = stringOption(args, 'requirepass')
  const replication = replicationOf(args)
  const replicated = replication === undefined ? undefined : await openReplicatedForServe(dir, durability, replication)
  const db = replicated ?? (await openForWriting(dir, 'serve', { durability, checkpoint: { auto: true } }))
  let server
  try {
    server = await serve(db, { port: Number(portText), host, requirepass, replication: replicated?.replication })
  } catch (err) {
    await db.close()
    if (err instanceof InvalidOptionError) throw new UsageError(err.message.replace(/^serve: /, ''))
    throw err
  }
  const as = replication === undefined ? '' : `, ${replication.role} of stream ${replication.stream}`
  say(`islab serve: ${dir} on ${host}:${server.port} (durability ${durability}${as}); Ctrl-C stops`)
  if (replicated !== undefined) reportReplication(replicated)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await server.close()
  await db.close()
  say('islab serve: stopped; the database is closed')
  return 0
}

interface ServeReplication {
  servers: string[]
  stream: string
  role: 'primary' | 'replica'
  ack: 'local' | 'replicated'
}

function replicationOf(args: ParsedArgs): ServeReplication | undefined {
  const nats = stringOption(args, 'nats')
  const stream = stringOption(args, 'stream')
  if (nats === undefined) {
    for (const o of ['stream', 'role', 'ack']) if (stringOption(args, o) !== undefined) throw new UsageError(`--${o} is for a replicated database: add --nats <servers> (and --stream <name>)`)
    return undefined
  }
  if (stream === undefined) throw new UsageError('--nats needs --stream <name>: the JetStream stream to replicate through')
  const role = choice(args, 'role', ['primary', 'replica'] as const, 'primary')
  const ack = choice(args, 'ack', ['local', 'replicated'] as const, 'local')
  if (role === 'replica' && stringOption(args, 'ack') !== undefined) throw new UsageError('--ack is for a primary: a replica takes no writes')
  return { servers: nats.split(',').map((x) => x.trim()).filter((x) => x !== ''), stream, role, ack }
}

/**
 * The replication face, loaded only for --nats: a plain `islab serve` needs no NATS package.
 * A directory another process holds is the same LockedError message as without --nats.
 */
async function openReplicatedForServe(dir: string, durability: 'sync' | 'buffered', r: ServeReplication): Promise<ReplicatedDatabase> {
  const { openReplicated } = await import('../../replication/index.js')
  try {
    return await openReplicated({ dir, durability, checkpoint: { auto: true }, replication: { servers: r.servers, stream: r.stream, role: r.role, ack: r.ack } })
  } catch (err) {
    if (err instanceof LockedError) throw lockedError(dir, 'serve', err.holderPid)
    // The message names the API's option; the user typed the flag.
    if (err instanceof InvalidOptionError) throw new UsageError(err.message.replace('replication.stream', '--stream').replace('replication.servers', '--nats'))
    throw err
  }
}

/** What replication does that an operator must know, on stderr as it happens (INFO replication has the rest). */
function reportReplication(db: ReplicatedDatabase): void {
  const r = db.replication
  r.on('fenced', (err: Error) => say(`islab serve: fenced, writes are refused from now on: ${err.message}`))
  r.on('stalled', (err: Error) => say(`islab serve: replication stalled: ${err.message}`))
  r.on('promoted', () => say(`islab serve: promoted: the primary of its stream from seq ${db.seq}`))
  r.on('restored', (snap: { seq: number }) => say(`islab serve: the stream was trimmed below this replica: restored from the snapshot of seq ${snap.seq}`))
}
