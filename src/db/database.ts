// The public face of an open database: validates input, turns calls into WriteRequests for
// the pipeline, and answers reads from the in-memory state. It owns no I/O or encoding logic
// of its own; those live in the stages it wires together at open.
import { takeSnapshot, writeCheckpoint } from '../checkpoint/checkpointWriter.js'
import type { CheckpointWritten } from '../checkpoint/checkpointWriter.js'
import { prune } from '../checkpoint/checkpointStore.js'
import { replaceWithCheckpoint } from '../checkpoint/replaceWithCheckpoint.js'
import { EventEmitter } from 'node:events'
import { ClosedError, CorruptionError, InvalidBatchError, InvalidOptionError, IslabError, ReadOnlyError } from '../errors.js'
import { EventStream } from '../changes/eventStream.js'
import type { EventsOptions } from '../changes/eventStream.js'
import type { IslabErrorCode, WriteFailure } from '../errors.js'
import { assertValidKey } from '../events/keys.js'
import type { Op } from '../events/types.js'
import { encodeValue } from '../events/valueCodec.js'
import type { DirLock } from '../io/dirLock.js'
import { ChangeFeed } from '../changes/changeFeed.js'
import { ChangeStream } from '../changes/changeStream.js'
import { HistoryIndex } from '../history/historyIndex.js'
import type { HistorySource } from '../history/historyIndex.js'
import { KeyHistory, getAt } from '../history/timeTravel.js'
import type { AsOf, HistoryOptions } from '../history/timeTravel.js'
import type { ChangeSource, ChangesOptions } from '../changes/changeStream.js'
import { GroupCommitter } from '../pipeline/groupCommit.js'
import type { WritePipeline } from '../pipeline/writePipeline.js'
import { buildWritePipeline } from '../pipeline/writePipeline.js'
import type { Condition, WriteResult } from '../pipeline/writeRequest.js'
import { WriteRequest } from '../pipeline/writeRequest.js'
import type { RecoveryReport } from '../recovery/recover.js'
import { recover } from '../recovery/recover.js'
import { MemoryState } from '../state/memoryState.js'
import { RangeRead } from '../state/rangeRead.js'
import { Snapshot } from './snapshot.js'
import type { RangeOptions } from '../state/rangeRead.js'
import { WalWriter } from '../wal/walWriter.js'
import { merge } from 'rxjs'
import type { Observable } from 'rxjs'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { nodeFileLayer } from '../io/nodeFileLayer.js'
import { applyExternal } from '../pipeline/applyExternal.js'
import type { ExternalTarget } from '../pipeline/applyExternal.js'
import { recoverReadOnly } from '../recovery/recoverReadOnly.js'
import { LogFollower } from './logFollower.js'
import { EntanglementRules, Physics, checkEntangle, checkStrength, every, metricsOf, partnersOf, physicsView, DEFAULT_STRENGTH } from '../physics/index.js'
import type { Metrics, PhysicsView } from '../physics/index.js'
import type { Tier } from '../state/entry.js'
import type { Durability, OpenOptions, ResolvedOptions } from './options.js'
import { resolveOptions } from './options.js'
import { checkMethodOptions, show } from './optionNames.js'
import { flushBeforeExit } from './exitHook.js'
import { Expiry } from './expiry.js'
import { openDir } from './openDir.js'
import { TypedView } from './typedView.js'

export interface Entry<V = unknown> {
  value: V
  seq: number
  /** Milliseconds since the epoch when the write was sequenced. */
  time: number
  /** When this version expires (ms since the epoch); absent when it never does. */
  expiresAt?: number
}

export interface WriteOptions {
  /** Write only if the key's current seq is this (0: only if the key does not exist). */
  ifSeq?: number
  /** Physics: the tier the new value starts in ('hot': decoded now, 'cold': compressed now). Default 'warm'. */
  tier?: Tier
}

/**
 * A put's options. A deadline — `ttlMs` (ms from the write's own time) or `expiresAt` (ms since the
 * epoch), not both — makes the version expire: from then on reads treat the key as absent, and an
 * expiry event (a delete with `expired: true`) is logged. A put without one clears the key's
 * deadline (as Redis SET without KEEPTTL).
 */
export interface PutOptions extends WriteOptions {
  ttlMs?: number
  expiresAt?: number
}

export interface EntangleOptions {
  /** 0.1–1. Default 0.5. */
  strength?: number
}

export interface QuantumRead<V = unknown> {
  /** The key's value (undefined when absent). */
  value: V | undefined
  /** Its entangled partners that exist, strongest first, at most `maxEntangled`. */
  entangled: Map<string, unknown>
}

export type BatchOp<V = unknown> =
  | { type: 'put'; key: string; value: V; ifSeq?: number; ttlMs?: number; expiresAt?: number }
  | { type: 'del'; key: string; ifSeq?: number }

export interface CheckpointInfo extends CheckpointWritten {
  checkpointsDeleted: string[]
  segmentsDeleted: string[]
}

/**
 * The extension point for state that cannot be derived from the log (physics masses, learned
 * links, ...): `save` is called when a checkpoint is taken and its bytes are stored in the
 * checkpoint under `name`; after open, `load` receives the bytes from the checkpoint recovery used.
 */
export interface CheckpointExtension {
  name: string
  save(): Uint8Array
  load(data: Uint8Array): void
}

export interface WaitOptions {
  /** Gives up waiting when aborted: the promise rejects with the signal's reason. */
  signal?: AbortSignal
}

export interface DatabaseStats {
  seq: number
  /** Highest seq known to be on disk and fdatasynced (equals seq in memory mode, where nothing is). */
  durableSeq: number
  keys: number
  /** Keys with an expiry deadline (as Redis's INFO keyspace `expires`; one whose deadline just passed counts until it is removed). */
  expiringKeys: number
  valueBytes: number
  durability: Durability
  walPendingBytes: number
  recovery: RecoveryReport | undefined
  checkpoint: { last: CheckpointInfo | undefined; count: number; lastError: string | undefined }
  /** Set once the write path has failed for good (see Database's 'failure' event); undefined while healthy. */
  failure: FailureInfo | undefined
  /** Set while the database replicates through NATS JetStream (islabdb/replication). */
  replication?: ReplicationStats
}

/** Where a replicated database stands (filled in by the replication face; see docs/replication.md). */
export interface ReplicationStats {
  role: 'primary' | 'replica'
  /** Primary: highest seq the stream has stored. Replica: highest seq applied from the stream. */
  appliedSeq: number
  /** The stream's last seq, as last seen (undefined before the stream was reached). */
  primarySeq: number | undefined
  /** Replica: how old the newest applied event is while the replica is behind, 0 when caught up. Primary: age of the oldest unpublished event, 0 when none. */
  lagMs: number
  /** 'connecting', 'catching-up', 'live', 'disconnected', 'fenced', 'stalled' or 'closed'. */
  state: string
}

/** What stopped the database: the error's code and message, and the seqs it lost (see FailureDetails). */
export interface FailureInfo {
  code: IslabErrorCode
  message: string
  lostFromSeq: number | undefined
  lostToSeq: number | undefined
  outcomeUnknown: boolean
}

/** Buffered mode holds at most this much encoded WAL before committing early. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024

/**
 * An open database. It is an EventEmitter with one event, `'failure'`: emitted once, with a
 * WalFailedError (`ISLAB_WAL_FAILED`) or DatabaseFailedError (`ISLAB_FAILED`), when the write
 * path stops for good — a WAL write that failed, or an exception inside a pipeline stage. In
 * buffered mode this is how an application learns that writes it saw acknowledged were lost
 * (`err.lostFromSeq..err.lostToSeq`); the same error then rejects flush(), close() and every
 * later write, and `stats().failure` describes it. (Not `'error'`, which would crash a process
 * that has no listener.) A read-only database emits it with the CorruptionError that stopped it
following the writer (docs/read-only.md). It also emits `'checkpoint'` (a CheckpointInfo) after
 * each checkpoint it writes; the file is there until a later checkpoint prunes it.
 */
export class Database<V = unknown> extends EventEmitter {
  private state = new MemoryState()
  private pipeline!: WritePipeline
  private feed!: ChangeFeed
  private history_: HistoryIndex | undefined
  private committer: GroupCommitter | undefined
  private wal: WalWriter | undefined
  private lock: DirLock | undefined
  private recovery: RecoveryReport | undefined
  private closed = false
  private closing: Promise<void> | undefined
  private checkpointChain: Promise<unknown> = Promise.resolve()
  private checkpointBusy = false
  private lastCheckpoint: CheckpointInfo | undefined
  private checkpointCount = 0
  private checkpointError: string | undefined
  private checkpointTimer: NodeJS.Timeout | undefined
  private walBytesAtCheckpoint = 0
  private readonly extensions = new Map<string, CheckpointExtension>()
  private physics_: Physics | undefined
  private expiry!: Expiry
  private rules!: EntanglementRules
  private extensionData = new Map<string, Uint8Array>()
  private unhookExit: (() => void) | undefined
  /** Read-only opens: follows the log another process writes (see logFollower.ts). */
  private follower: LogFollower | undefined
  /** Why writes are refused while the database still reads (a replica, a fenced primary); see refuseWrites. */
  private writeBlock: IslabError | undefined
  /** Settles each write's promise later (replication's ack: 'replicated'); see gateAcks. */
  private ackGate: ((r: WriteResult) => Promise<WriteResult>) | undefined
  private readonly logHolds = new Set<() => number>()
  private replicationStats: (() => ReplicationStats) | undefined
  /** replaceWithCheckpoint is swapping the log: nothing may be applied meanwhile. */
  private replacing = false
  /** replaceWithCheckpoint calls queued or running: checkpoints asked for meanwhile queue behind them. */
  private replacesQueued = 0
  /** replaceWithCheckpoint failed part way: the log is no longer this state's. */
  private replaceFailure: IslabError | undefined
  /** Why nothing more may be written: the write path failed, or a replacement did part way. */
  private get failedWith(): IslabError | undefined {
    return this.pipeline.failure ?? this.replaceFailure
  }
  private readonly onWriteFailure = (error: WriteFailure): void => {
    if (this.options.durability === 'sync' && this.committer !== undefined) {
      // Sync mode undid the writes that were not durable (revertFailed): time travel and db.seq
      // forget them too, as a reopen would. (Buffered writes were acknowledged: they stay, lost.)
      const durable = this.committer.durableSeq
      this.history_?.forgetAfter(durable)
      this.pipeline.clock.last = durable
    }
    this.feed.fail(error)
    this.emit('failure', error)
  }

  private constructor(readonly options: ResolvedOptions) {
    super()
  }

  /** Opens (creating if needed) the database in `options.dir` and replays its log. */
  static async open<V = unknown>(options?: OpenOptions): Promise<Database<V>> {
    const db = new Database<V>(resolveOptions(options))
    await db.start()
    return db
  }

  private async start(): Promise<void> {
    const o = this.options
    this.rules = new EntanglementRules(o.entanglement)
    if (o.durability === 'memory') {
      this.feed = new ChangeFeed(0, true)
      this.pipeline = buildWritePipeline(this.state, 0, undefined, this.feed, false, this.onWriteFailure)
      this.startPhysics()
      this.startExpiry()
      return
    }
    if (o.readOnly) return this.startReadOnly()
    this.lock = openDir(o.fileLayer, o.dir, o)
    try {
      await this.openLog(undefined)
    } catch (err) {
      this.lock.release()
      throw err
    }
    this.startLogServices()
  }

  /** Recovers the directory's log and starts the writer on it; `feed` is kept across a replacement (its streams stay subscribed). */
  private async openLog(feed: ChangeFeed | undefined): Promise<void> {
    const o = this.options
    const recovered = await recover(o.fileLayer, o.dir, { mode: o.recovery, onProgress: o.onProgress })
    this.state = recovered.state
    this.recovery = recovered.report
    this.extensionData = recovered.extensions
    this.wal = new WalWriter(
      o.fileLayer,
      o.dir,
      {
        format: o.walFormat,
        segmentBytes: o.segmentBytes,
        compressThreshold: o.compressThreshold,
        dsync: o.durability === 'sync',
      },
      recovered.tail,
    )
    await this.wal.syncTail()
    const lastSeq = recovered.report.lastSeq
    this.committer = new GroupCommitter(
      this.wal,
      { sync: o.durability === 'sync', syncIntervalMs: o.syncIntervalMs, maxPendingBytes: MAX_PENDING_BYTES },
      lastSeq,
    )
    this.feed = feed ?? new ChangeFeed(lastSeq, false)
    this.pipeline = buildWritePipeline(this.state, lastSeq, this.committer, this.feed, o.durability === 'sync', this.onWriteFailure)
    this.pipeline.clock.lastTime = recovered.lastTime
  }

  /** What runs beside a writable log: physics, expiry, the exit flush, checkpoint timers. */
  private startLogServices(): void {
    this.startPhysics()
    // Versions recovered past their deadline are hidden from reads at once; the first sweep logs their expiry.
    this.startExpiry()
    // Buffered writes still pending when the event loop drains are written before the process exits.
    this.unhookExit = flushBeforeExit(() => void this.committer?.flush().catch(() => undefined))
    if (this.options.checkpoint.auto) this.startCheckpointTimers()
  }

  /**
   * For faces (a replica whose stream no longer holds the seqs after its own): replaces the whole
   * database, in place, with the checkpoint file `file` (in this directory, not named as a
   * checkpoint yet) of seq `seq` > db.seq, and goes on from there. Only while writes are refused
   * (refuseWrites). The log and the older checkpoints are deleted, in an order that leaves an
   * older database, never a damaged one, after a crash (see replaceWithCheckpoint.ts). Reads see
   * the old state until the new one is loaded; change streams that reach the seqs skipped fail
   * with ISLAB_HISTORY_GONE; time travel answers from `seq` on. A failure part way stops the
   * database as a WAL failure does ('failure'): close it and open it again.
   */
  replaceWithCheckpoint(file: string, seq: number): Promise<void> {
    try {
      if (this.closed) throw new ClosedError()
      if (this.committer === undefined || this.follower !== undefined) throw new InvalidOptionError('replaceWithCheckpoint needs a database that writes its own log (not memory mode, not read-only)')
      if (this.writeBlock === undefined) throw new InvalidOptionError('replaceWithCheckpoint replaces a database that refuses writes (a replica): call refuseWrites first')
      assertSeqOption(seq, 'seq')
      if (seq <= this.seq) throw new InvalidOptionError(`the checkpoint's seq ${seq} is not past db.seq ${this.seq}: nothing to replace`)
    } catch (err) {
      return Promise.reject(err)
    }
    // Checkpoints asked for from now until it ends queue behind it (checkpointBusy alone goes
    // false between the job before it and its start, where one would run beside the swap).
    this.replacesQueued++
    const run = this.checkpointChain.then(() => this.replaceNow(file, seq)).finally(() => this.replacesQueued--)
    this.checkpointChain = run.catch(() => undefined)
    return run
  }

  private async replaceNow(file: string, seq: number): Promise<void> {
    this.replacing = true
    try {
      // A failure of the log here is the database's own ('failure'): nothing was replaced yet.
      await this.committer!.flush()
      await this.committer!.idle()
      if (this.closed) throw new ClosedError()
      // Events applied while it waited its turn (behind a checkpoint) may have passed it: going
      // back would drop them from the log, and a MANIFEST recording them would not open.
      if (seq <= this.seq) throw new InvalidOptionError(`the checkpoint's seq ${seq} is not past db.seq ${this.seq} (events were applied while it waited): nothing replaced`)
      await this.swapInCheckpoint(file, seq).catch((err: unknown) => {
        const failure = err instanceof IslabError ? err : new CorruptionError(`replacing the database with the checkpoint of seq ${seq} failed: ${err instanceof Error ? err.message : String(err)}; close it and open it again`, { cause: err })
        this.replaceFailure = failure
        this.feed.fail(failure)
        this.emit('failure', failure)
        throw failure
      })
    } finally {
      this.replacing = false
    }
  }

  /** The destructive part of replaceNow: a failure here leaves the log and the state apart. */
  private async swapInCheckpoint(file: string, seq: number): Promise<void> {
    const o = this.options
    this.unhookExit?.()
    this.physics_?.stop()
    this.expiry.stop()
    if (this.checkpointTimer !== undefined) clearInterval(this.checkpointTimer)
    this.checkpointTimer = undefined
    this.committer!.stop()
    for (const sub of this.pipeline.subscriptions) sub.unsubscribe()
    this.history_?.close()
    this.history_ = undefined
    await this.wal!.close(this.committer!.durableSeq)
    this.feed.dropPending()
    replaceWithCheckpoint(o.fileLayer, o.dir, file, seq)
    await this.openLog(this.feed)
    if (this.seq !== seq) throw new CorruptionError(`the checkpoint installed for seq ${seq} opened at seq ${this.seq}`)
    this.lastCheckpoint = undefined
    this.walBytesAtCheckpoint = 0
    // Waiters (waitForSeq) and streams look again: the seqs skipped are in no log.
    this.feed.markDurable(seq)
    // Closed meanwhile: close() waited for this and stops what runs now; nothing more to start.
    if (this.closed) return
    // Extensions of faces load what the new checkpoint holds for them; physics starts afresh on it.
    const faces = new Map(this.extensions)
    this.startLogServices()
    for (const [name, ext] of faces) {
      const data = this.extensionData.get(name)
      if (this.extensions.get(name) === ext && data !== undefined) ext.load(data)
    }
  }


  /**
   * A read-only open: no lock, nothing written. The recovery is open's own, run over an overlay
   * that keeps its changes in memory (recoverReadOnly.ts); then the follower applies what the
   * writer appends. There is no WAL writer: the pipeline is memory mode's, and no write reaches
   * it (every write method refuses first). Every event applied is durable, so the feed counts it so.
   */
  private async startReadOnly(): Promise<void> {
    const o = this.options
    const recovered = await recoverReadOnly(o.fileLayer, o.dir, { mode: o.recovery, onProgress: o.onProgress })
    this.state = recovered.state
    this.recovery = recovered.report
    this.extensionData = recovered.extensions
    const lastSeq = recovered.report.lastSeq
    this.feed = new ChangeFeed(lastSeq, true)
    this.pipeline = buildWritePipeline(this.state, lastSeq, undefined, this.feed, false, this.onWriteFailure)
    this.pipeline.clock.lastTime = recovered.lastTime
    this.startPhysics()
    // Reads hide versions past their deadline; the writer logs their expiry, so no sweeper here.
    this.startExpiry(false)
    // The state is replaced when the follower reloads: read it at each event.
    const db = this
    const target: ExternalTarget = {
      get state() {
        return db.state
      },
      clock: this.pipeline.clock,
      feed: this.feed,
    }
    this.follower = new LogFollower(
      o.fileLayer,
      o.dir,
      lastSeq,
      {
        apply: (ev: WalEvent, segment: number, offset: number) => applyExternal(target, ev, segment, offset),
        reload: () => this.reloadReadOnly(),
        fail: (err) => {
          this.feed.fail(err)
          this.emit('failure', err)
        },
      },
      { intervalMs: o.followMs, watch: o.fileLayer === nodeFileLayer },
    )
    this.follower.start()
  }

  /**
   * The follower fell behind segments a checkpoint pruned: the state is rebuilt from the newest
   * checkpoint and the log after it, as at open. Change streams find the seqs they missed in the
   * log, or fail with ISLAB_HISTORY_GONE when those are gone; time travel's index is rebuilt.
   */
  private async reloadReadOnly(): Promise<number> {
    const o = this.options
    const recovered = await recoverReadOnly(o.fileLayer, o.dir, { mode: o.recovery })
    const seq = recovered.report.lastSeq
    if (this.closed) return seq
    if (seq < this.seq) {
      throw new CorruptionError(
        `The log in ${o.dir} now ends at seq ${seq}, before seq ${this.seq} that this read-only database applied: ` +
          'it was replaced or cut back. Close this database and open it again.',
      )
    }
    this.physics_?.stop()
    this.state = recovered.state
    this.recovery = recovered.report
    this.extensionData = recovered.extensions
    this.pipeline.clock.last = seq
    this.pipeline.clock.lastTime = Math.max(this.pipeline.clock.lastTime, recovered.lastTime)
    this.history_?.close()
    this.history_ = undefined
    this.startPhysics()
    this.startExpiry(false)
    this.feed.markDurable(seq)
    return seq
  }

  /** Physics shapes the state's entries and observes reads; its masses and wormholes live in checkpoints. */
  private startPhysics(): void {
    if (this.options.physics === false) return
    this.physics_ = new Physics(this.state, this.rules, this.options.physics)
    this.registerCheckpointExtension(this.physics_.checkpointExtension())
  }

  /** `sweep` false: a database that takes no writes of its own (read-only, replica) only hides expired versions. */
  private startExpiry(sweep = true): void {
    this.expiry?.stop()
    this.expiry = new Expiry(this.state, this.options.expiry, (key, seq) => {
      // A read-only database or a replica learns of expiry from its writer's log: writing its own
      // expiry events would fork its log from the one it follows.
      if (this.closed || this.pipeline.failure !== undefined || this.follower !== undefined || this.writeBlock !== undefined) return false
      // A conflict means the key changed after the read or sweep saw it expire: nothing to do.
      this.submit(WriteRequest.expire(key, seq)).catch(ignore)
      return true
    })
    if (sweep) this.expiry.start()
  }

  private startCheckpointTimers(): void {
    const { intervalMs, walBytes } = this.options.checkpoint
    let lastTimed = Date.now()
    // One cheap tick checks both triggers: elapsed time and WAL written since the last checkpoint.
    this.checkpointTimer = setInterval(() => {
      const dueByTime = Date.now() - lastTimed >= intervalMs
      const dueBySize = (this.wal?.bytesWritten ?? 0) - this.walBytesAtCheckpoint >= walBytes
      if (!dueByTime && !dueBySize) return
      lastTimed = Date.now()
      this.checkpoint().catch((err: unknown) => {
        this.checkpointError = err instanceof Error ? err.message : String(err)
      })
    }, Math.min(intervalMs, 1000))
    this.checkpointTimer.unref()
  }

  /**
   * Registers state to be saved in checkpoints (see CheckpointExtension). If the checkpoint
   * recovery loaded holds data under this name, `load` is called with it at once.
   */
  registerCheckpointExtension(ext: CheckpointExtension): void {
    this.extensions.set(ext.name, ext)
    const data = this.extensionData.get(ext.name)
    if (data !== undefined) ext.load(data)
  }

  /**
   * Writes a checkpoint of the state as of now, then keeps the newest `checkpoint.keep` and
   * deletes WAL segments none of them needs. Writers are not stopped meanwhile. Resolves with
   * undefined in 'memory' mode, which has no disk.
   */
  checkpoint(): Promise<CheckpointInfo | undefined> {
    if (this.closed) return Promise.reject(new ClosedError())
    if (this.follower !== undefined) return Promise.reject(new ReadOnlyError('checkpoint', READ_ONLY_CHECKPOINT))
    if (this.committer === undefined) return Promise.resolve(undefined)
    // A replacement that failed part way left the log and the state apart: nothing may be written from them.
    if (this.replaceFailure !== undefined) return Promise.reject(this.replaceFailure)
    // When idle, the snapshot is taken synchronously, so it holds exactly the writes made before this call.
    const run = this.checkpointBusy || this.replacesQueued > 0 ? this.checkpointChain.then(() => this.writeCheckpointNow()) : this.writeCheckpointNow()
    this.checkpointChain = run.catch(() => undefined)
    return run
  }

  private async writeCheckpointNow(): Promise<CheckpointInfo> {
    this.checkpointBusy = true
    try {
      return await this.writeCheckpointOnce()
    } finally {
      this.checkpointBusy = false
    }
  }

  private async writeCheckpointOnce(): Promise<CheckpointInfo> {
    const o = this.options
    const seq = this.seq
    if (this.lastCheckpoint !== undefined && this.lastCheckpoint.seq === seq) return this.lastCheckpoint
    const extensions = Array.from(this.extensions.values(), (e) => ({ name: e.name, data: e.save() }))
    const snap = takeSnapshot(this.state, seq, extensions)
    const walBytes = this.wal!.bytesWritten
    // The log must hold every event up to `seq` before a checkpoint may let older segments go.
    await this.committer!.flush()
    // The records after the checkpoint go to a new segment: the covered one is then prunable, and open never walks it.
    await this.committer!.startSegmentAfter(seq)
    const written = await writeCheckpoint(o.fileLayer, o.dir, snap)
    const pruned = await prune(o.fileLayer, o.dir, o.checkpoint.keep, { segments: o.history.retainSegments, ms: o.history.retainMs, fromSeq: this.heldFrom() })
    // Time travel forgets what the deleted segments held, for every key at once.
    if (pruned.segmentsDeleted.length > 0) this.history_?.trimToLog()
    this.walBytesAtCheckpoint = walBytes
    this.lastCheckpoint = { ...written, ...pruned }
    this.checkpointCount++
    this.checkpointError = undefined
    // For faces (replication ships checkpoints as snapshots): the file exists until the next prune.
    this.emit('checkpoint', this.lastCheckpoint)
    return this.lastCheckpoint
  }

  /** The lowest seq a holder of the log still needs (see holdLog), or undefined. */
  private heldFrom(): number | undefined {
    let from: number | undefined
    for (const h of this.logHolds) {
      const f = h()
      if (from === undefined || f < from) from = f
    }
    return from
  }

  /** The last sequence number assigned (0 for an empty database). */
  get seq(): number {
    return this.pipeline.clock.last
  }

  /** Highest seq on disk and fdatasynced (db.seq in memory mode); stats().durableSeq without the rest of stats(). */
  get durableSeq(): number {
    return this.committer === undefined ? this.seq : this.committer.durableSeq
  }

  /**
   * Number of keys. Like Redis's DBSIZE it may count keys whose deadline passed but whose expiry
   * event the sweeper has not written yet (at most one sweep interval, unless the backlog
   * exceeds a sweep's budget); reads never return those.
   */
  get size(): number {
    return this.state.size
  }

  get isOpen(): boolean {
    return !this.closed
  }

  /** Opened with `readOnly: true`: reads follow the log another process writes; writes reject with ISLAB_READ_ONLY. */
  get readOnly(): boolean {
    return this.options.readOnly
  }

  /**
   * Resolves (with db.seq) once every event up to `seq` is applied here: a read-only database
   * has followed the writer that far, a writer has sequenced it. Rejects with ISLAB_CLOSED when
   * the database closes first, with the failure that stops it (see 'failure'), or with the
   * signal's reason when `opts.signal` aborts.
   */
  waitForSeq(seq: number, opts: WaitOptions = {}): Promise<number> {
    try {
      if (this.closed) throw new ClosedError()
      assertSeqOption(seq, 'seq')
      checkMethodOptions('waitForSeq', opts, WAIT_OPTIONS)
      opts.signal?.throwIfAborted()
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.seq >= seq) return Promise.resolve(this.seq)
    return new Promise<number>((resolve, reject) => {
      const signal = opts.signal
      const done = (err: unknown): void => {
        sub.unsubscribe()
        signal?.removeEventListener('abort', onAbort)
        if (err === undefined) resolve(this.seq)
        else reject(err)
      }
      const onAbort = (): void => done(signal!.reason)
      const check = (): void => {
        const failure = this.pipeline.failure ?? this.feed.failure
        if (this.seq >= seq) done(undefined)
        else if (failure !== undefined) done(failure)
      }
      // applied$: each event as it is applied; durableProgress$: a read-only reload's jump, a failure.
      const sub = merge(this.feed.applied$, this.feed.durableProgress$).subscribe({ next: check, complete: () => done(new ClosedError()) })
      signal?.addEventListener('abort', onAbort, { once: true })
      check()
    })
  }

  /**
   * A read-only database applies what the writer has written by now (it also does so by itself
   * every `followMs`, and when the directory changes) and resolves with db.seq. A writer resolves at once.
   */
  refresh(): Promise<number> {
    if (this.closed) return Promise.reject(new ClosedError())
    if (this.follower === undefined) return Promise.resolve(this.seq)
    return this.follower.refresh().then(() => this.seq)
  }

  put(key: string, value: V, opts?: PutOptions): Promise<WriteResult> {
    let bytes: Uint8Array
    let ifSeq: number | undefined
    let tier: Tier | undefined
    let expiring = false
    try {
      this.assertWritable()
      assertValidKey(key)
      bytes = encodeValue(value)
      if (opts !== undefined) {
        checkMethodOptions('put', opts, PUT_OPTIONS)
        expiring = checkDeadline('put', opts)
      }
      ifSeq = opts?.ifSeq
      if (ifSeq !== undefined) assertSeqOption(ifSeq)
      tier = opts?.tier
      if (tier !== undefined && tier !== 'hot' && tier !== 'warm' && tier !== 'cold') throw new InvalidOptionError(`tier must be 'hot', 'warm' or 'cold', not ${show(tier)}`)
    } catch (err) {
      return Promise.reject(err)
    }
    const p = this.submit(expiring ? WriteRequest.putExpiring(key, bytes, ifSeq, opts!.expiresAt, opts!.ttlMs) : WriteRequest.put(key, bytes, ifSeq))
    if (tier !== undefined) this.physics_?.hint(key, tier)
    return p
  }

  delete(key: string, opts?: WriteOptions): Promise<WriteResult> {
    let ifSeq: number | undefined
    try {
      this.assertWritable()
      assertValidKey(key)
      if (opts !== undefined) checkMethodOptions('delete', opts, WRITE_OPTIONS)
      ifSeq = opts?.ifSeq
      if (ifSeq !== undefined) assertSeqOption(ifSeq)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.submit(WriteRequest.del(key, ifSeq))
  }

  /** Applies all operations atomically as one event with one sequence number, or none of them. */
  batch(ops: readonly BatchOp<V>[]): Promise<WriteResult> {
    let encoded: Op[]
    let conditions: Condition[] | undefined
    let ttls: (number | undefined)[] | undefined
    try {
      this.assertWritable()
      if (!Array.isArray(ops)) throw new InvalidBatchError('expected an array')
      if (ops.length === 0) throw new InvalidBatchError('it is empty')
      encoded = new Array<Op>(ops.length)
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i] as Partial<BatchOp<V>> | null
        if (typeof op !== 'object' || op === null) throw new InvalidBatchError(`op ${i} is not an object`)
        if (op.type !== 'put' && op.type !== 'del') {
          throw new InvalidBatchError(`op ${i} has type ${JSON.stringify(op.type)}`)
        }
        checkMethodOptions(`batch op ${i}`, op, op.type === 'put' ? BATCH_PUT_FIELDS : BATCH_DEL_FIELDS)
        assertValidKey(op.key)
        if (op.type === 'put') {
          if (!('value' in op)) throw new InvalidBatchError(`op ${i} (put) has no value`)
          if (checkDeadline(`batch op ${i}`, op)) {
            // Its own object: assignSeq completes a ttl into expiresAt in place (see resolveTtl).
            encoded[i] = { type: 'put', key: op.key, value: encodeValue(op.value), expiresAt: op.expiresAt }
            if (op.ttlMs !== undefined) (ttls ??= new Array<number | undefined>(ops.length))[i] = op.ttlMs
          } else {
            encoded[i] = { type: 'put', key: op.key, value: encodeValue(op.value) }
          }
        } else {
          encoded[i] = { type: 'del', key: op.key }
        }
        if (op.ifSeq !== undefined) {
          assertSeqOption(op.ifSeq)
          ;(conditions ??= []).push({ key: op.key, ifSeq: op.ifSeq })
        }
      }
    } catch (err) {
      return Promise.reject(err)
    }
    return this.submit(WriteRequest.batch(encoded, conditions, ttls))
  }



  /**
   * The log's events with seq > `since`, one per seq (a batch whole), caught up from the log and
   * then live: what a face needs to ship the log elsewhere (replication). Changes for
   * applications are db.changes().
   */
  events(opts: EventsOptions = {}): EventStream {
    if (this.closed) throw new ClosedError()
    checkMethodOptions('events', opts, EVENTS_OPTIONS)
    if (opts.since !== undefined) assertSeqOption(opts.since, 'since')
    if (opts.fromLog === true && this.logFiles === undefined) throw new InvalidOptionError("events({ fromLog: true }) reads the log, and durability 'memory' keeps none: leave fromLog out")
    return new EventStream(this.changeSource(), opts)
  }

  /**
   * For faces (replication): applies an event that already has its seq and time — the next seq,
   * exactly — to the log, the state, time travel and change streams, as if it had been written
   * here; refuseWrites() does not stop it. Resolves as a write does in this durability mode.
   */
  applyReplicated(ev: WalEvent): Promise<WriteResult> {
    let req: WriteRequest
    try {
      if (this.closed) throw new ClosedError()
      const failure = this.failedWith
      if (failure !== undefined) throw failure
      if (this.replacing) throw new InvalidOptionError('applyReplicated: the database is being replaced from a checkpoint; apply after replaceWithCheckpoint resolves')
      if (ev.seq !== this.seq + 1) throw new InvalidOptionError(`applyReplicated: event seq ${ev.seq} is not the next seq ${this.seq + 1}`)
      req = WriteRequest.ofEvent(ev, false)
    } catch (err) {
      return Promise.reject(err)
    }
    // The pass up to the WAL hand-off is synchronous: the pin covers exactly this event.
    this.pipeline.clock.pinnedTime = ev.time
    try {
      this.pipeline.requests.next(req)
    } catch (err) {
      req.reject(err)
    } finally {
      this.pipeline.clock.pinnedTime = 0
    }
    return req.promise()
  }

  /**
   * For faces: from now on every write (put, delete, batch, entangle) rejects with `reason` (a
   * replica's ISLAB_READ_ONLY, a fenced primary's ISLAB_FENCED) while reads go on; undefined
   * takes writes again (a promoted replica).
   */
  refuseWrites(reason: IslabError | undefined): void {
    this.writeBlock = reason
  }

  /**
   * For faces: each write's promise settles only once `gate` resolves with its result (replication's
   * ack: 'replicated' waits for the stream to store it); undefined removes the gate.
   */
  gateAcks(gate: ((r: WriteResult) => Promise<WriteResult>) | undefined): void {
    this.ackGate = gate
  }

  /**
   * For faces: true while a write's promise means only that it was applied (durability 'buffered'
   * or 'memory', no gateAcks gate), so a write that took a seq may be answered without waiting.
   */
  get acksOnApply(): boolean {
    return this.options.durability !== 'sync' && this.ackGate === undefined
  }

  /**
   * For faces: checkpoints keep every WAL segment holding `from()` or a later seq (a publisher
   * not yet caught up still reads them). Returns the release.
   */
  holdLog(from: () => number): () => void {
    this.logHolds.add(from)
    return () => this.logHolds.delete(from)
  }

  /** For the replication face: what stats().replication reports. */
  provideReplicationStats(source: (() => ReplicationStats) | undefined): void {
    this.replicationStats = source
  }

  /** The current value, synchronously from memory; undefined when absent. */
  get<T extends V = V>(key: string): NoInfer<T> | undefined {
    if (this.closed) throw new ClosedError()
    if (typeof key !== 'string') assertValidKey(key)
    // Expired versions are absent (lazy expiry); nothing is looked up while no key has a deadline.
    if (this.state.deadlines.size !== 0 && this.expiry.hidesKey(key)) return undefined
    // A key in the Map (every key once read or written) takes the short way, small enough to be
    // inlined into the caller's loop; keys still in the base table go through state.read.
    const e = this.state.entries.get(key)
    if (e !== undefined) return (this.physics_ === undefined ? e.value() : this.physics_.read(e, key)) as T
    return this.state.readBase(key, this.physics_) as T | undefined
  }

  getEntry<T extends V = V>(key: string): Entry<NoInfer<T>> | undefined {
    if (this.closed) throw new ClosedError()
    if (typeof key !== 'string') assertValidKey(key)
    const e = this.state.readEntry(key, this.physics_) as Entry<T> | undefined
    if (e === undefined || this.state.deadlines.size === 0) return e
    if (this.expiry.hides(key, e.seq)) return undefined
    const at = this.state.deadlines.of(key, e.seq)
    if (at !== undefined) e.expiresAt = at
    return e
  }

  /**
   * When the current version of `key` expires (ms since the epoch); undefined when it has no
   * deadline or is absent. Reads no value (getEntry(key).expiresAt decodes the value too).
   */
  expiresAt(key: string): number | undefined {
    if (this.closed) throw new ClosedError()
    if (typeof key !== 'string') assertValidKey(key)
    if (this.state.deadlines.size === 0) return undefined
    const seq = this.state.seqOf(key)
    if (seq === 0 || this.expiry.hides(key, seq)) return undefined
    return this.state.deadlines.of(key, seq)
  }

  /**
   * Quantum entanglement: from now on quantumGet(key) also returns `partners` (at most 10 per key;
   * the strongest are kept). Logged like a write: it gets a seq, replays and survives restarts.
   */
  entangle(key: string, partners: readonly string[], opts: EntangleOptions = {}): Promise<WriteResult> {
    let list: string[]
    let strength: number
    try {
      this.assertWritable()
      list = checkEntangle(key, partners)
      strength = opts.strength === undefined ? DEFAULT_STRENGTH : checkStrength(opts.strength)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.submit(WriteRequest.entangle(key, list, strength))
  }

  /** Removes entanglements of `key` (with `partners`, or all of them); logged like entangle. */
  disentangle(key: string, partners?: readonly string[]): Promise<WriteResult> {
    let list: string[]
    try {
      this.assertWritable()
      assertValidKey(key)
      list = partners === undefined ? Array.from(this.state.entanglements.of(key)?.keys() ?? []) : checkEntangle(key, partners)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.submit(WriteRequest.entangle(key, list, 0))
  }

  /**
   * Reads `key` and its entangled partners (declared with entangle() or by the `entanglement`
   * rules), strongest first. Counts as a read of each key returned.
   */
  quantumGet<T extends V = V>(key: string): QuantumRead<NoInfer<T>> {
    const value = this.get<T>(key)
    const entangled = new Map<string, unknown>()
    for (const [p] of partnersOf(key, this.state.entanglements, this.rules)) {
      if (entangled.size >= this.options.maxEntangled) break
      const e = this.state.get(p)
      if (e !== undefined && (this.state.deadlines.size === 0 || !this.expiry.hides(p, e.seq))) {
        entangled.set(p, this.physics_ === undefined ? e.value() : this.physics_.read(e, p))
      }
    }
    return { value, entangled }
  }

  /** The physics layer's controls and views (docs/physics.md). */
  get physics(): PhysicsView {
    return physicsView(this.physics_, this.state)
  }

  /** Tier sizes, hit ratios, evictions, promotions, entanglement and wormhole counts, entropy. */
  metrics(): Metrics {
    return metricsOf(this.physics_, this.state, this.rules)
  }

  /** metrics() now and then every second while subscribed. */
  get metrics$(): Observable<Metrics> {
    return every(1000, () => this.metrics())
  }

  has(key: string): boolean {
    if (this.closed) throw new ClosedError()
    if (typeof key !== 'string') assertValidKey(key)
    if (this.state.deadlines.size !== 0 && this.expiry.hidesKey(key)) return false
    return this.state.has(key)
  }

  /**
   * Changes with seq > `since` (default: db.seq at this call, however late iteration starts):
   * first caught up from the log, then live, with no gap and no duplicate. See ChangesOptions for
   * filters and durability.
   */
  changes<T extends V = V>(opts: ChangesOptions = {}): ChangeStream<NoInfer<T>> {
    if (this.closed) throw new ClosedError()
    checkMethodOptions('changes', opts, CHANGES_OPTIONS)
    if (opts.since !== undefined) assertSeqOption(opts.since, 'since')
    return new ChangeStream<T>(this.changeSource(), opts)
  }

  private changeSource(): ChangeSource {
    return {
      files: this.logFiles,
      dir: this.options.dir,
      feed: this.feed,
      seq: () => this.seq,
      flush: () => this.flush(),
      isOpen: () => !this.closed,
      holdLog: (from) => this.holdLog(from),
    }
  }

  /**
   * The value of `key` as of a seq or a time (undefined if it did not exist then). Exact within
   * the retained log, pruned or not: a key unchanged since before the oldest retained segment is
   * answered from the state (or from a checkpoint when it changed later). A point nothing
   * retained can answer rejects with ISLAB_HISTORY_GONE, whose `oldestSeq` is the oldest seq
   * from which on this key can be read. A time stands for the newest event written at or before it.
   */
  getAt<T extends V = V>(key: string, at: AsOf): Promise<NoInfer<T> | undefined> {
    try {
      if (this.closed) throw new ClosedError()
      assertValidKey(key)
      checkAsOf(at, this.seq)
    } catch (err) {
      return Promise.reject(err)
    }
    return getAt<T>(this.historyIndex(), this.historySource(), key, at)
  }

  /**
   * The versions of `key`, oldest first (or newest first with `reverse`): every change the
   * retained log holds, led by the key's last write before the log when a checkpoint (or the
   * state) still holds it. `await h.start()` tells where the listing starts (`from`) and whether
   * the key's whole history is there (`complete`); `opts.from` before what is known rejects with
   * ISLAB_HISTORY_GONE when iterated.
   */
  history<T extends V = V>(key: string, opts: HistoryOptions = {}): KeyHistory<NoInfer<T>> {
    if (this.closed) throw new ClosedError()
    assertValidKey(key)
    checkMethodOptions('history', opts, HISTORY_OPTIONS)
    return new KeyHistory<T>(this.historyIndex(), this.historySource(), key, opts)
  }

  private historySource(): HistorySource {
    return {
      files: this.logFiles,
      dir: this.options.dir,
      feed: this.feed,
      seq: () => this.seq,
      flush: () => this.flush(),
      current: (key) => this.state.get(key),
    }
  }

  /** The file layer when there is a log to read (not in memory mode). */
  private get logFiles(): FileLayer | undefined {
    return this.committer === undefined && this.follower === undefined ? undefined : this.options.fileLayer
  }

  private historyIndex(): HistoryIndex {
    this.history_ ??= new HistoryIndex(this.historySource())
    // A writer trims after its own prunes; a read-only database learns of them here.
    if (this.follower !== undefined) this.history_.trimToLog()
    return this.history_
  }

  /**
   * Keys in order between bounds, with their values, as of this call: writes made while the
   * result is read are not seen. The first call starts building an ordered index (kept from
   * then on) in time slices; reading the result asynchronously waits for it without stalling.
   */
  range<T extends V = V>(opts: RangeOptions = {}): RangeRead<NoInfer<T>> {
    if (this.closed) throw new ClosedError()
    checkMethodOptions('range', opts, RANGE_OPTIONS)
    // Versions expired as of this call are left out, as the writes after it are.
    const now = Date.now()
    const hidden = this.state.deadlines.size === 0 ? undefined : (k: string, seq: number): boolean => this.expiry.hides(k, seq, now)
    return new RangeRead<T>(this.state.orderedIndex().snapshotAsOfNow(), opts, hidden)
  }

  /**
   * The database as of now (db.seq), read synchronously with get/getEntry/has/range while writes
   * go on. O(1): nothing is copied; while it is open, writes keep the versions they replace.
   * Close it when done.
   */
  snapshot(): Snapshot<V> {
    if (this.closed) throw new ClosedError()
    return new Snapshot<V>(this.state, this.seq, () => !this.closed)
  }

  /**
   * The keys under `prefix` with values typed T: `db.typed<User>('user:').get('user:alice')` is a
   * User | undefined, and put takes a User. Keys outside the prefix are refused (TypedView).
   */
  typed<T extends V = V>(prefix: string): TypedView<T> {
    return new TypedView<T>(this, prefix)
  }

  /**
   * Resolves when every write made so far is on disk and fdatasynced. After a failure (see the
   * 'failure' event) rejects with it.
   */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError())
    const failure = this.failedWith
    if (failure !== undefined) return Promise.reject(failure)
    return this.committer === undefined ? Promise.resolve() : this.committer.flush()
  }

  stats(): DatabaseStats {
    return {
      seq: this.seq,
      durableSeq: this.committer === undefined ? this.seq : this.committer.durableSeq,
      keys: this.state.size,
      expiringKeys: this.state.deadlines.size,
      valueBytes: this.state.valueBytes(),
      durability: this.options.durability,
      walPendingBytes: this.wal?.pendingBytes ?? 0,
      recovery: this.recovery,
      checkpoint: { last: this.lastCheckpoint, count: this.checkpointCount, lastError: this.checkpointError },
      failure: failureInfo(this.failedWith ?? this.follower?.failure),
      ...(this.replicationStats === undefined ? {} : { replication: this.replicationStats() }),
    }
  }

  /**
   * Flushes pending writes, closes the log and releases the directory lock. Idempotent. After a
   * failure that lost acknowledged writes, left their outcome unknown, or came from inside the
   * pipeline (ISLAB_FAILED), it still closes everything, then rejects with that failure; after a
   * sync-mode WAL failure, whose writes were all rejected and cut back, it resolves.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closed = true
    this.closing = this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.unhookExit?.()
    await this.follower?.stop()
    this.physics_?.stop()
    this.expiry?.stop()
    if (this.checkpointTimer !== undefined) clearInterval(this.checkpointTimer)
    let flushError: unknown
    let releaseError: unknown
    try {
      await this.checkpointChain
      if (this.committer !== undefined) await this.committer.flush()
      await this.checkpointOnClose()
    } catch (err) {
      flushError = err
    } finally {
      try {
        // After a failure flush() rejects at once; a commit may still be in flight on the file.
        await this.committer?.idle()
      } finally {
        this.committer?.stop()
        this.pipeline.requests.complete()
        for (const s of this.pipeline.subscriptions) s.unsubscribe()
        this.history_?.close()
        this.feed.complete()
        try {
          // A clean close records the log's end in the MANIFEST (see WalWriter.close).
          const clean = flushError === undefined && this.pipeline.failure === undefined
          await this.wal?.close(clean ? this.committer?.durableSeq : undefined)
        } finally {
          try {
            this.lock?.release()
          } catch (err) {
            releaseError = err
          }
        }
      }
    }
    // What the application must learn first: a failure that lost or may have kept writes.
    const failure = this.pipeline.failure
    if (failure !== undefined && (failure.code === 'ISLAB_FAILED' || failure.lostFromSeq !== undefined || failure.outcomeUnknown)) throw failure
    if (releaseError !== undefined) throw releaseError
    // A sync-mode WAL failure was already reported to every write it affected; close succeeds.
    if (flushError !== undefined && !(flushError instanceof IslabError)) throw flushError
  }

  /**
   * A checkpoint at close when enough events were logged since the newest one (checkpoint.onClose),
   * so the next open loads it instead of replaying them. Only on a healthy log; a failure to
   * write it is reported in stats().checkpoint.lastError, not by close(): the log holds everything.
   */
  private async checkpointOnClose(): Promise<void> {
    const min = this.options.checkpoint.onClose
    if (min === false || this.committer === undefined || this.failedWith !== undefined) return
    const covered = this.lastCheckpoint?.seq ?? this.recovery?.checkpointSeq ?? 0
    if (this.seq === covered || this.seq - covered < min) return
    try {
      await this.writeCheckpointNow()
    } catch (err) {
      this.checkpointError = err instanceof Error ? err.message : String(err)
    }
  }

  /** Runs a write through the pipeline; its promise is made afterwards (settled already when the pass settled it). */
  private submit(req: WriteRequest): Promise<WriteResult> {
    try {
      this.pipeline.requests.next(req)
    } catch (err) {
      req.reject(err)
    }
    const gate = this.ackGate
    return gate === undefined ? req.promise() : req.promise().then(gate)
  }

  private assertWritable(): void {
    if (this.closed) throw new ClosedError()
    if (this.follower !== undefined) throw new ReadOnlyError('write')
    const failure = this.pipeline.failure
    if (failure !== undefined) throw failure
    if (this.writeBlock !== undefined) throw this.writeBlock
  }
}

function failureInfo(f: WriteFailure | Error | undefined): FailureInfo | undefined {
  if (f === undefined) return undefined
  if (!(f instanceof IslabError)) return { code: 'ISLAB_FAILED', message: f.message, lostFromSeq: undefined, lostToSeq: undefined, outcomeUnknown: false }
  const w = f as Partial<WriteFailure>
  return { code: f.code, message: f.message, lostFromSeq: w.lostFromSeq, lostToSeq: w.lostToSeq, outcomeUnknown: w.outcomeUnknown ?? false }
}

function ignore(): void {}

/**
 * Checks a put's deadline options; true when it has one. Both, or a value that is not a finite
 * non-negative number, is ISLAB_INVALID_OPTION (before anything is logged).
 */
function checkDeadline(where: string, o: { ttlMs?: unknown; expiresAt?: unknown }): boolean {
  const { ttlMs, expiresAt } = o
  if (ttlMs === undefined && expiresAt === undefined) return false
  if (ttlMs !== undefined && expiresAt !== undefined) {
    throw new InvalidOptionError(`${where}: give either ttlMs (ms from now) or expiresAt (ms since the epoch), not both`)
  }
  if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0)) {
    throw new InvalidOptionError(`${where}: ttlMs must be a finite number of milliseconds ≥ 0, not ${show(ttlMs)}; leave it out for a key that never expires`)
  }
  if (expiresAt !== undefined && (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || expiresAt < 0)) {
    throw new InvalidOptionError(
      `${where}: expiresAt must be a finite time in milliseconds since the epoch (e.g. Date.now() + 60000), not ${show(expiresAt)}; leave it out for a key that never expires`,
    )
  }
  return true
}

const READ_ONLY_CHECKPOINT = 'it was opened with readOnly: true; checkpoints are written by the process that writes'

function assertSeqOption(seq: unknown, name = 'ifSeq'): void {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new InvalidOptionError(`${name} must be a non-negative integer sequence number, not ${show(seq)}`)
  }
}

// The names each method's options may have (checked: a misspelt one is an error, see optionNames.ts).
const WRITE_OPTIONS = ['ifSeq', 'tier'] as const satisfies readonly (keyof WriteOptions)[]
const PUT_OPTIONS = ['ifSeq', 'tier', 'ttlMs', 'expiresAt'] as const satisfies readonly (keyof PutOptions)[]
const BATCH_PUT_FIELDS = ['type', 'key', 'value', 'ifSeq', 'ttlMs', 'expiresAt'] as const
const BATCH_DEL_FIELDS = ['type', 'key', 'ifSeq'] as const
const CHANGES_OPTIONS = ['since', 'prefix', 'keys', 'live', 'durableOnly'] as const satisfies readonly (keyof ChangesOptions)[]
const EVENTS_OPTIONS = ['since', 'live', 'durableOnly', 'fromLog'] as const satisfies readonly (keyof EventsOptions)[]
const HISTORY_OPTIONS = ['from', 'to', 'limit', 'reverse'] as const satisfies readonly (keyof HistoryOptions)[]
const WAIT_OPTIONS = ['signal'] as const satisfies readonly (keyof WaitOptions)[]
const RANGE_OPTIONS = ['gte', 'gt', 'lte', 'lt', 'prefix', 'limit', 'reverse'] as const satisfies readonly (keyof RangeOptions)[]

/** getAt's point: exactly one of `seq` (not past the current seq) or `time`. */
function checkAsOf(at: unknown, current: number): void {
  checkMethodOptions('getAt', at, ['seq', 'time'])
  const a = at as { seq?: unknown; time?: unknown }
  if ((a.seq === undefined) === (a.time === undefined)) throw new InvalidOptionError('getAt: give exactly one of { seq } or { time }')
  if (typeof a.seq === 'number' && a.seq > current) {
    throw new InvalidOptionError(`getAt: seq ${a.seq} is after the current seq ${current}; the past goes up to db.seq`)
  }
}

// Every option name of each method is listed above (a new option fails to compile until it is).
type Exactly<L extends string, K> = [Exclude<K, L>] extends [never] ? true : never
const _listed: [
  Exactly<(typeof WRITE_OPTIONS)[number], keyof WriteOptions>,
  Exactly<(typeof PUT_OPTIONS)[number], keyof PutOptions>,
  Exactly<(typeof CHANGES_OPTIONS)[number], keyof ChangesOptions>,
  Exactly<(typeof EVENTS_OPTIONS)[number], keyof EventsOptions>,
  Exactly<(typeof HISTORY_OPTIONS)[number], keyof HistoryOptions>,
  Exactly<(typeof RANGE_OPTIONS)[number], keyof RangeOptions>,
  Exactly<(typeof WAIT_OPTIONS)[number], keyof WaitOptions>,
] = [true, true, true, true, true, true, true]
void _listed
