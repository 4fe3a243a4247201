// `islab serve`: the database over the Redis protocol (docs/server.md), until SIGINT/SIGTERM,
// then the server and the database are closed cleanly (the log flushed, the lock released).
import { InvalidOptionError } from '../../errors.js'
import { serve } from '../../server/index.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { UsageError, choice, stringOption } from '../args.js'
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
  },
  description: `
Serves the database in <dir> (default ./data, created when missing) over the Redis protocol:
redis-cli, ioredis, node-redis, redis-py, Jedis, go-redis … connect to it as to a Redis server.
Opens the database, so it needs it closed. Listens on 127.0.0.1 unless --host says otherwise;
any other address needs --requirepass (protected mode). Ctrl-C (SIGINT) or SIGTERM stops it:
the database is closed cleanly.

Supported commands, value mapping and differences from Redis: docs/server.md.`,
  examples: ['islab serve ./data', 'islab serve ./data --port 6380 --durability sync', 'islab serve ./data --host 0.0.0.0 --requirepass "$ISLAB_PASSWORD"'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const dir = args.positionals[0] ?? './data'
  const portText = stringOption(args, 'port') ?? '6379'
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw new UsageError(`--port must be a port number (0-65535), not '${portText}'`)
  const durability = choice(args, 'durability', ['sync', 'buffered'] as const, 'buffered')
  const host = stringOption(args, 'host') ?? '127.0.0.1'
  const requirepass = stringOption(args, 'requirepass')
  const db = await openForWriting(dir, 'serve', { durability, checkpoint: { auto: true } })
  let server
  try {
    server = await serve(db, { port: Number(portText), host, requirepass })
  } catch (err) {
    await db.close()
    if (err instanceof InvalidOptionError) throw new UsageError(err.message.replace(/^serve: /, ''))
    throw err
  }
  say(`islab serve: ${dir} on ${host}:${server.port} (durability ${durability}); Ctrl-C stops`)
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
