// Every command family the server answers. A new family (streams over the change log,
// pub/sub, expiry) is one module here.
import type { Command } from '../command.js'
import { connectionCommands } from './connection.js'
import { expiryCommands } from './expiry.js'
import { hashCommands } from './hashes.js'
import { introspectionCommands } from './introspection.js'
import { keyCommands } from './keys.js'
import { pubsubCommands } from './pubsub.js'
import { replicationCommands } from './replication.js'
import { serverCommands } from './server.js'
import { streamCommands } from './streams.js'
import { stringCommands } from './strings.js'
import { transactionCommands } from './transactions.js'

export const ALL_COMMANDS: readonly Command[] = [
  ...connectionCommands,
  ...serverCommands,
  ...replicationCommands,
  ...introspectionCommands,
  ...stringCommands,
  ...keyCommands,
  ...expiryCommands,
  ...hashCommands,
  ...streamCommands,
  ...pubsubCommands,
  ...transactionCommands,
]
