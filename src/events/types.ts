// The events every write becomes. Values travel as msgpack bytes: encoded once at the API
// boundary, then stored, logged and checkpointed without being decoded again.

export type EventType = 'put' | 'del' | 'batch'

export interface PutOp {
  readonly type: 'put'
  readonly key: string
  /** msgpack encoding of the value (see valueCodec.ts). */
  readonly value: Uint8Array
}

export interface DelOp {
  readonly type: 'del'
  readonly key: string
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

export type WalEvent = PutEvent | DelEvent | BatchEvent
