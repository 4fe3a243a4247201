// islabdb/replication. Importing it needs no NATS package: the modules that use the NATS client
// (an optional peer dependency) load when a replicated database is first opened (loadReplicated).
import { loadReplicated } from './loadReplicated.js'
import type { ReplicatedDatabase, ReplicatedOpenOptions } from './replicated.js'

export type { Replication, ReplicatedDatabase, ReplicatedOpenOptions } from './replicated.js'
export type { ReplicationOptions, SnapshotOptions } from './options.js'
export type { SnapshotInfo } from './snapshots.js'

/**
 * Opens the database in `options.dir` (as the core's open() does) and replicates it through the
 * JetStream stream `options.replication.stream`: a primary publishes its events there, a replica
 * applies them and refuses writes of its own (ISLAB_READ_ONLY). close() stops replication first.
 * Without the NATS client installed: ISLAB_REPLICATION saying what to install.
 */
export async function openReplicated(options: ReplicatedOpenOptions): Promise<ReplicatedDatabase> {
  const m = await loadReplicated(options, () => import('./replicated.js'))
  return m.openReplicated(options)
}

/** The same as openReplicated: `import { open } from 'islabdb/replication'`. */
export const open = openReplicated
