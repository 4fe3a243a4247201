// ROLE and REPLICAOF/SLAVEOF over a replicated database (islab serve --nats …): the Redis way to
// ask a server what it is and to promote a replica (`REPLICAOF NO ONE`). A replica here follows a
// NATS JetStream stream, not a Redis master, so `REPLICAOF <host> <port>` is refused with what
// to do instead. Writes to a replica get Redis's READONLY error (commandTable.ts).
import type { Command, CommandContext } from '../command.js'
import { NO_KEYS, command, word } from '../command.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, OK } from '../resp/reply.js'

/** What the server needs of a replicated database: `db.replication` of islabdb/replication is one. */
export interface ReplicationControl {
  readonly role: 'primary' | 'replica'
  stats(): { appliedSeq: number; primarySeq?: number; lagMs: number; state: string }
  promote(): Promise<void>
  /** A primary another primary took over from (FencedError, ISLAB_FENCED); undefined otherwise. */
  readonly fenced?: unknown
}

export const READONLY_REPLICA = new ErrorReply("READONLY You can't write against a read only replica.")

/** Redis's replica link states, from the applier's. */
function linkState(state: string): string {
  if (state === 'live' || state === 'catching-up') return 'connected'
  return state === 'connecting' || state === 'restoring' ? 'connecting' : 'connect'
}

/** INFO's replication section. */
export function replicationInfo(ctx: CommandContext): [string, string | number][] {
  const r = ctx.server.replication
  const master: [string, string | number][] = [['role', 'master'], ['connected_slaves', 0], ['master_repl_offset', ctx.db.seq]]
  if (r === undefined) return master
  const s = r.stats()
  // A primary's appliedSeq is the highest seq the stream holds from it.
  if (r.role === 'primary') return [...master, ['islab_replication_state', s.state], ['islab_stream_seq', s.appliedSeq]]
  return [
    ['role', 'slave'],
    ['master_link_status', linkState(s.state) === 'connected' ? 'up' : 'down'],
    ['slave_repl_offset', s.appliedSeq],
    ['slave_read_only', 1],
    ['islab_replication_state', s.state],
    ['islab_primary_seq', s.primarySeq ?? -1],
    ['islab_lag_ms', s.lagMs],
  ]
}

function role(ctx: CommandContext): Reply {
  const r = ctx.server.replication
  if (r === undefined || r.role === 'primary') return ['master', ctx.db.seq, []]
  const s = r.stats()
  // The "master" is a NATS stream: no host and port to name.
  return ['slave', 'nats', 0, linkState(s.state), s.appliedSeq]
}

async function replicaOf(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const name = word(args[0]!)
  if (word(args[1]!) !== 'no' || word(args[2]!) !== 'one') {
    return new ErrorReply(`ERR ${name.toUpperCase()} <host> <port> is not supported: an islab replica follows a NATS JetStream stream (islab serve --nats <servers> --stream <name> --role replica); promote one with ${name.toUpperCase()} NO ONE`)
  }
  const r = ctx.server.replication
  if (r === undefined) return OK
  if (r.role === 'primary') {
    // Another primary took over: this one is no primary any more, whatever ROLE says of its past.
    if (r.fenced !== undefined) throw r.fenced
    return OK
  }
  await r.promote()
  return OK
}

export const replicationCommands: Command[] = [
  command('role', 1, ['noscript', 'loading', 'stale', 'fast'], NO_KEYS, { summary: 'Returns the replication role.', since: '2.8.12', group: 'server' }, role),
  command('replicaof', 3, ['admin', 'noscript', 'stale', 'no-multi'], NO_KEYS, { summary: 'Configures a server as replica of another, or promotes it to a master (here: REPLICAOF NO ONE promotes a replica of a NATS stream).', since: '5.0.0', group: 'server' }, replicaOf),
  command('slaveof', 3, ['admin', 'noscript', 'stale', 'no-multi'], NO_KEYS, { summary: 'Sets a Redis server as a replica of another, or promotes it to being a master (deprecated: REPLICAOF).', since: '1.0.0', group: 'server' }, replicaOf),
]
