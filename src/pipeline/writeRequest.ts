// A write on its way through the pipeline. One object per write carries everything the stages
// need — it *is* the event once assignSeq has stamped it — so the hot path allocates little.
// Its fields are those of every WalEvent variant at once (a batch's `ops`, an entangle's
// `partners` and `strength`, a put's `key` and `value`), so TypeScript accepts it wherever the
// pipeline, the log, the change feed and the history index take a WalEvent: one event type.
import type { Op } from '../events/types.js'
import type { Undo } from '../state/memoryState.js'

export interface WriteResult {
  seq: number
}

/** Expected current seq of a key (0 = must not exist), checked against the state before the write. */
export interface Condition {
  key: string
  ifSeq: number
}

const NO_VALUE = new Uint8Array(0)
const NO_PARTNERS: readonly string[] = []
const NO_OPS: readonly Op[] = []

/** The body of an entangle request (one field, so puts do not carry two unused ones). */
interface Entanglement {
  readonly partners: readonly string[]
  readonly strength: number
}

export class WriteRequest {
  seq = 0
  time = 0
  /** What applying it replaced; kept until the event is durable so a failed commit can be undone. */
  undo: Undo = undefined
  /** Where the WAL record went (segment first seq, byte offset); -1 before appendToWal or in memory mode. */
  walSegment = -1
  walOffset = -1
  /** Its promise is settled by a commit's outcome (sync mode; buffered writes held back while a commit is due). */
  awaitsCommit = false

  private constructor(
    readonly type: 'put' | 'del' | 'batch' | 'entangle',
    readonly key: string,
    readonly value: Uint8Array,
    readonly ops: readonly Op[],
    readonly conditions: readonly Condition[] | undefined,
    readonly resolve: (r: WriteResult) => void,
    readonly reject: (err: unknown) => void,
    private readonly entanglement: Entanglement | undefined = undefined,
  ) {}

  /** Entangle requests: the partners (EntangleEvent.partners). */
  get partners(): readonly string[] {
    return this.entanglement?.partners ?? NO_PARTNERS
  }

  /** Entangle requests: the strength (EntangleEvent.strength). */
  get strength(): number {
    return this.entanglement?.strength ?? 0
  }

  static put(key: string, value: Uint8Array, ifSeq: number | undefined, resolve: (r: WriteResult) => void, reject: (e: unknown) => void): WriteRequest {
    return new WriteRequest('put', key, value, NO_OPS, ifSeq === undefined ? undefined : [{ key, ifSeq }], resolve, reject)
  }

  static del(key: string, ifSeq: number | undefined, resolve: (r: WriteResult) => void, reject: (e: unknown) => void): WriteRequest {
    return new WriteRequest('del', key, NO_VALUE, NO_OPS, ifSeq === undefined ? undefined : [{ key, ifSeq }], resolve, reject)
  }

  static batch(
    ops: readonly Op[],
    conditions: readonly Condition[] | undefined,
    resolve: (r: WriteResult) => void,
    reject: (e: unknown) => void,
  ): WriteRequest {
    return new WriteRequest('batch', '', NO_VALUE, ops, conditions, resolve, reject)
  }

  static entangle(
    key: string,
    partners: readonly string[],
    strength: number,
    resolve: (r: WriteResult) => void,
    reject: (e: unknown) => void,
  ): WriteRequest {
    return new WriteRequest('entangle', key, NO_VALUE, NO_OPS, undefined, resolve, reject, { partners, strength })
  }
}

