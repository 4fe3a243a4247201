// A write on its way through the pipeline. One object per write carries everything the stages
// need — it *is* the event once assignSeq has stamped it — so the hot path allocates little.
// Its fields are those of every WalEvent variant at once (a batch's `ops`, an entangle's
// `partners` and `strength`, a put's `key` and `value`), so TypeScript accepts it wherever the
// pipeline, the log, the change feed and the history index take a WalEvent: one event type.
import type { Op, WalEvent } from '../events/types.js'
import type { Undo } from '../state/memoryState.js'
import type { Displaced } from '../state/retainedVersions.js'

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

/** The write whose promise is being made: one shared executor instead of a closure per pending write. */
let capturing: WriteRequest | undefined

function captureResolvers(resolve: (r: WriteResult) => void, reject: (err: unknown) => void): void {
  capturing!.attach(resolve, reject)
  capturing = undefined
}

export class WriteRequest {
  seq = 0
  time = 0
  /** Puts: when this version expires (PutEvent.expiresAt); set from `ttlMs` by assignSeq. */
  expiresAt: number | undefined = undefined
  /**
   * A deadline relative to the event's time, resolved by assignSeq: a put's ttl in ms, or for a
   * batch one per op (undefined for ops without). Undefined when nothing is relative.
   */
  ttlMs: number | readonly (number | undefined)[] | undefined = undefined
  /** Deletes: an expiry (DelEvent.expired), conditional on the expired version's seq. */
  expired = false
  /** What applying it replaced; kept until the event is durable so a failed commit can be undone. */
  undo: Undo = undefined
  /** The deadline records its puts replaced, kept with `undo` (MemoryState.apply's `keep`). */
  displaced: Displaced = undefined
  /** Where the WAL record went (segment first seq, byte offset); -1 before appendToWal or in memory mode. */
  walSegment = -1
  walOffset = -1
  /** Its promise is settled by a commit's outcome (sync mode; buffered writes held back while a commit is due). */
  awaitsCommit = false
  /**
   * The caller's promise is made only once the pipeline pass is over (see promise()): a write
   * settled during that pass — most buffered writes, every conflict — gets an already settled
   * promise, with no executor closure or resolving functions. Until then the outcome waits here.
   */
  private settled: 0 | 1 | 2 = 0
  private outcome: unknown = undefined
  private resolveFn: ((r: WriteResult) => void) | undefined = undefined
  private rejectFn: ((err: unknown) => void) | undefined = undefined

  private constructor(
    readonly type: 'put' | 'del' | 'batch' | 'entangle',
    readonly key: string,
    readonly value: Uint8Array,
    readonly ops: readonly Op[],
    readonly conditions: readonly Condition[] | undefined,
    private readonly entanglement: Entanglement | undefined = undefined,
  ) {}

  /** Settles the write with its seq. Settling a settled write is a no-op, as with a promise. */
  resolve(r: WriteResult): void {
    if (this.settled !== 0) return
    this.settled = 1
    if (this.resolveFn !== undefined) this.resolveFn(r)
    else this.outcome = r
  }

  reject(err: unknown): void {
    if (this.settled !== 0) return
    this.settled = 2
    if (this.rejectFn !== undefined) this.rejectFn(err)
    else this.outcome = err
  }

  /** Called by the shared executor only. */
  attach(resolve: (r: WriteResult) => void, reject: (err: unknown) => void): void {
    this.resolveFn = resolve
    this.rejectFn = reject
  }

  /** The caller's promise; called once, right after the write went into the pipeline. */
  promise(): Promise<WriteResult> {
    if (this.settled === 1) return Promise.resolve(this.outcome as WriteResult)
    if (this.settled === 2) return Promise.reject(this.outcome)
    capturing = this
    return new Promise<WriteResult>(captureResolvers)
  }

  /** Entangle requests: the partners (EntangleEvent.partners). */
  get partners(): readonly string[] {
    return this.entanglement?.partners ?? NO_PARTNERS
  }

  /** Entangle requests: the strength (EntangleEvent.strength). */
  get strength(): number {
    return this.entanglement?.strength ?? 0
  }

  static put(key: string, value: Uint8Array, ifSeq: number | undefined): WriteRequest {
    return new WriteRequest('put', key, value, NO_OPS, ifSeq === undefined ? undefined : [{ key, ifSeq }])
  }

  /** A put whose version expires at `expiresAt`, or `ttlMs` after the event's time. */
  static putExpiring(key: string, value: Uint8Array, ifSeq: number | undefined, expiresAt: number | undefined, ttlMs: number | undefined): WriteRequest {
    const req = WriteRequest.put(key, value, ifSeq)
    req.expiresAt = expiresAt
    req.ttlMs = ttlMs
    return req
  }

  /** The expiry of version `seq` of `key`: a delete that applies only while the key is still at that seq. */
  static expire(key: string, seq: number): WriteRequest {
    const req = WriteRequest.del(key, seq)
    req.expired = true
    return req
  }

  static del(key: string, ifSeq: number | undefined): WriteRequest {
    return new WriteRequest('del', key, NO_VALUE, NO_OPS, ifSeq === undefined ? undefined : [{ key, ifSeq }])
  }

  static batch(ops: readonly Op[], conditions: readonly Condition[] | undefined, ttlMs?: readonly (number | undefined)[]): WriteRequest {
    const req = new WriteRequest('batch', '', NO_VALUE, ops, conditions)
    req.ttlMs = ttlMs
    return req
  }

  static entangle(key: string, partners: readonly string[], strength: number): WriteRequest {
    return new WriteRequest('entangle', key, NO_VALUE, NO_OPS, undefined, { partners, strength })
  }

  /**
   * The request of an event sequenced elsewhere (another process's log, a replication stream),
   * whole: a put's deadline and an expiry's flag too — dropping either would make a version that
   * expires there live forever here. No conditions: they held where the event was sequenced.
   * `copyValues`: the value bytes are copied (see applyExternal). Seq and time are the caller's.
   */
  static ofEvent(ev: WalEvent, copyValues: boolean): WriteRequest {
    switch (ev.type) {
      case 'put': {
        const req = WriteRequest.put(ev.key, copyValues ? ev.value.slice() : ev.value, undefined)
        req.expiresAt = ev.expiresAt
        return req
      }
      case 'del': {
        const req = WriteRequest.del(ev.key, undefined)
        req.expired = ev.expired === true
        return req
      }
      case 'batch':
        return WriteRequest.batch(copyValues ? ev.ops.map(copyOp) : ev.ops, undefined)
      case 'entangle':
        return WriteRequest.entangle(ev.key, ev.partners, ev.strength)
    }
  }
}


/** A batch op with its value bytes copied (its deadline or expiry flag kept). */
function copyOp(op: Op): Op {
  return op.type === 'put' ? { ...op, value: op.value.slice() } : op
}
