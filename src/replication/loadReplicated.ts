// The NATS client packages are optional peer dependencies: the modules that use them are loaded
// when a replicated database is first opened, and a missing one is an error that says what to
// install instead of Node's ERR_MODULE_NOT_FOUND.
import { ReplicationError } from '../index.js'
import type { ReplicatedOpenOptions } from './replicated.js'

const NATS_INSTALL = 'npm install @nats-io/transport-node@~3.3.1 @nats-io/jetstream@~3.3.1 @nats-io/obj@~3.3.1'

export async function loadReplicated<M>(options: ReplicatedOpenOptions, load: () => Promise<M>): Promise<M> {
  try {
    return await load()
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const missing = /'(@nats-io\/[^/']+)/.exec(e.message ?? '')
    if (e.code !== 'ERR_MODULE_NOT_FOUND' || missing === null) throw err
    const stream = typeof options?.replication?.stream === 'string' ? options.replication.stream : '?'
    throw new ReplicationError(stream, `the NATS client package ${missing[1]} is not installed (an optional peer dependency of islabdb): ${NATS_INSTALL}`, { cause: err })
  }
}
