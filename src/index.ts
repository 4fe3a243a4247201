// IsLabDB's public API. Everything not exported here is internal.
import { Database } from './db/database.js'
import type { OpenOptions } from './db/options.js'

/**
 * Opens (creating if needed) a database. See OpenOptions for durability and WAL settings.
 * `open<V>()` types the values (put takes a V, get returns a V); a type only, checked by the
 * compiler, not at run time. For a database holding several kinds, see `db.typed<T>(prefix)`.
 */
export function open<V = unknown>(options?: OpenOptions): Promise<Database<V>> {
  return Database.open<V>(options)
}

export { Database }
export { TypedView } from './db/typedView.js'
export type { BatchOp, CheckpointExtension, CheckpointInfo, DatabaseStats, FailureInfo, EntangleOptions, Entry, PutOptions, QuantumRead, ReplicationStats, WriteOptions } from './db/database.js'
export { EventStream } from './changes/eventStream.js'
export type { EventsOptions } from './changes/eventStream.js'
export type { WalEvent as LogEvent, Op as LogOp } from './events/types.js'
export { decodeEvent, encodeEvent } from './wal/eventRecord.js'
/** A put's value as a LogEvent carries it (msgpack bytes), decoded as getEntry's `value` is. */
export { decodeValue } from './events/valueCodec.js'
export type {
  DemonOptions,
  DemonState,
  EntanglementRule,
  EntropyReading,
  MemoryOptions,
  Metrics,
  PhysicsOptions,
  PhysicsView,
  Spread,
  TierBudget,
  Wormhole,
  WormholeOptions,
} from './physics/index.js'
export type { Tier } from './state/entry.js'
export type { Durability, OpenOptions } from './db/options.js'
export type { ExpiryOptions } from './db/expiry.js'
export type { WriteResult } from './pipeline/writeRequest.js'
export { ChangeStream } from './changes/changeStream.js'
export { Snapshot } from './db/snapshot.js'
export type { Change, ChangesOptions } from './changes/changeStream.js'
export type { AsOf, HistoryEntry, HistoryOptions, HistoryStart, KeyHistory } from './history/timeTravel.js'
export type { RangeOptions, RangeRead } from './state/rangeRead.js'
export type { RecoveryMode, RecoveryProgress, RecoveryReport } from './recovery/recover.js'
export type { WalFormat } from './wal/format.js'
export type { AppendFile, FileLayer } from './io/fileLayer.js'
export { MAX_KEY_BYTES } from './events/keys.js'
export {
  ClosedError,
  ConflictError,
  CorruptionError,
  HistoryGoneError,
  InvalidBatchError,
  InvalidKeyError,
  InvalidOptionError,
  IslabError,
  LockedError,
  ExistsError,
  NotFoundError,
  NotWritableError,
  NotRepresentableError,
  ReadOnlyError,
  UnserializableError,
  WalFailedError,
  DatabaseFailedError,
  FencedError,
  ReplicationError,
} from './errors.js'
export type { IslabErrorCode, FailureDetails, WriteFailure } from './errors.js'
