// The events every write becomes. Values travel as msgpack bytes: encoded once at the API
// boundary, then stored, logged and checkpointed without being decoded again.

export type EventType = 'put' | 'del' | 'batch' | 'entangle'

export interface PutOp {
  readonly type: 'put'
  readonly key: string
  /** msgpack encoding of the value (see valueCodec.ts). */
  readonly value: Uint8Array
  /** When this version expires (ms since the epoch); absent: never. See src/state/deadlines.ts. */
  readonly expiresAt?: number
}

export interface DelOp {
  readonly type: 'del'
  readonly key: string
  /** True for an expiry: the delete the database wrote because the key's deadline passed. */
  readonly expired?: boolean
}

export type Op = PutOp | DelOp

export interface PutEvent extends PutOp {
  readonly seq: number
  readonly time: number
}

export interface DelEvent extends DelOp {
  readonly seq: number
  readonly time: number
}

/** Several operations applied atomically under one sequence number. */
export interface BatchEvent {
  readonly type: 'batch'
  readonly seq: number
  readonly time: number
  readonly ops: readonly Op[]
}

/**
 * Quantum entanglement: from now on, reading `key` with quantumGet also returns `partners`, at
 * this strength (0 removes these links). Entanglements are state, so they are logged like writes.
 */
export interface EntangleEvent {
  readonly type: 'entangle'
  readonly seq: number
  readonly time: number
  readonly key: string
  readonly partners: readonly string[]
  /** 0 (remove) or 0.1–1. */
  readonly strength: number
}

export type WalEvent = PutEvent | DelEvent | BatchEvent | EntangleEvent
