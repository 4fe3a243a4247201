// The `islab` commands, in the order `islab --help` lists them. Each module is loaded only
// when its command runs, so `islab --help` and quick commands start fast.
import type { CommandSpec, ParsedArgs } from '../args.js'

export interface CommandModule {
  spec: CommandSpec
  /** Runs the command; resolves with the exit code. */
  run(args: ParsedArgs): Promise<number>
}

export interface CommandEntry {
  name: string
  summary: string
  load: () => Promise<CommandModule>
}

export const COMMANDS: CommandEntry[] = [
  { name: 'stats', summary: 'segments, checkpoints, keys, sizes, last seq and time', load: () => import('./stats.js') },
  { name: 'dump', summary: 'print events as JSON lines (or a table)', load: () => import('./dump.js') },
  { name: 'verify', summary: 'check every checksum, header and seq; exit 0 healthy, 1 damaged', load: () => import('./verify.js') },
  { name: 'replay', summary: 'materialize the state as of a seq or time into a new database or NDJSON', load: () => import('./replay.js') },
  { name: 'backup', summary: 'copy a database, open elsewhere or not, with its history into a new directory', load: () => import('./backup.js') },
  { name: 'tail', summary: 'print the last events; -f follows new ones as they are written', load: () => import('./tail.js') },
  { name: 'get', summary: 'print the value of a key', load: () => import('./get.js') },
  { name: 'put', summary: 'store a value under a key', load: () => import('./put.js') },
  { name: 'del', summary: 'delete a key', load: () => import('./del.js') },
  { name: 'import', summary: 'write the events or entries of an NDJSON file (streaming)', load: () => import('./import.js') },
  { name: 'checkpoint', summary: 'write a checkpoint and prune the WAL it covers', load: () => import('./checkpoint.js') },
  { name: 'compact', summary: 'checkpoint, then rewrite the WAL without what checkpoints cover', load: () => import('./compact.js') },
  { name: 'convert', summary: 'rewrite the WAL segments in the json or binary entry format', load: () => import('./convert.js') },
  { name: 'serve', summary: 'serve the database over the Redis protocol (redis-cli, ioredis, …)', load: () => import('./serve.js') },
  { name: 'promote', summary: 'promote a replica served by islab serve --role replica to the primary', load: () => import('./promote.js') },
  { name: 'repair', summary: 'cut a torn tail and move damaged files aside, reporting what was lost', load: () => import('./repair.js') },
]
