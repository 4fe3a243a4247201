// A database replicated through NATS JetStream. openReplicated() opens the
// database with the core's open() and attaches a primary's publisher or a replica's applier to
// it (the core knows nothing of NATS). docs/replication.md describes the protocol.
import { EventEmitter } from 'node:events'
import { decodeEvent, InvalidOptionError, IslabError, open as openCore, ReadOnlyError, ReplicationError } from '../index.js'
import type { Database, FencedError, OpenOptions, ReplicationStats } from '../index.js'
import { Applier } from './applier.js'
import { resolveReplication } from './options.js'
import type { ReplicationOptions, ResolvedReplication } from './options.js'
import { Publisher } from './publisher.js'
import { StreamLink } from './streamLink.js'
import { canRestore, openReplica, restoreInPlace } from './restore.js'
import { SnapshotBucket, SnapshotShipper } from './snapshots.js'
import type { SnapshotInfo } from './snapshots.js'

export type { ReplicationOptions, SnapshotOptions } from './options.js'
export type { SnapshotInfo } from './snapshots.js'

export interface ReplicatedOpenOptions extends OpenOptions {
  replication: ReplicationOptions
}

/**
 * The replication of one database. Events: `'fenced'` (FencedError: another primary took over;
 * the database refuses writes from then on), `'stalled'` (ReplicationError: it cannot go on by
 * itself), `'promoted'`, `'restored'` (SnapshotInfo: a replica the stream was trimmed below went
 * on from that snapshot, in place; change streams that needed the seqs it skipped end with
 * ISLAB_HISTORY_GONE).
 */
export class Replication extends EventEmitter {
  private publisher: Publisher | undefined
  private applier: Applier | undefined
  private shipper: SnapshotShipper | undefined
  private closed = false
  /** The promotion under way, if any (see promote). */
  private promoting: Promise<void> | undefined

  constructor(
    private readonly db: Database,
    private readonly o: ResolvedReplication,
    private readonly link: StreamLink,
    /** The snapshot this replica was restored from (at open, or since while it ran), if any. */
    public restoredFrom: SnapshotInfo | undefined = undefined,
    /** Snapshots can be written into the directory (see canRestore). */
    private readonly restorable = false,
  ) {
    super()
  }

  /** Primary: seq of the newest snapshot it shipped to the bucket (0: none yet), and the last shipping error. */
  get snapshots(): { shippedSeq: number; lastError: unknown } {
    return { shippedSeq: this.shipper?.shippedSeq ?? 0, lastError: this.shipper?.lastError }
  }

  /** Primary: this run's epoch, the first part of each msgID it publishes (`<epoch>:<seq>`); undefined on a replica. */
  get epoch(): string | undefined {
    return this.publisher?.epoch
  }

  /** Primary: the FencedError once another primary took over (it takes no writes from then on); undefined otherwise. */
  get fenced(): FencedError | undefined {
    return this.publisher?.fenced
  }

  get role(): 'primary' | 'replica' {
    return this.publisher !== undefined ? 'primary' : 'replica'
  }

  /** @internal */
  start(): void {
    this.db.provideReplicationStats(() => this.stats())
    if (this.o.role === 'primary') this.startPublisher(undefined)
    else this.startApplier()
  }

  stats(): ReplicationStats {
    const p = this.publisher
    if (p !== undefined) {
      return { role: 'primary', appliedSeq: p.acked, primarySeq: p.streamSeq, lagMs: p.lagMs, state: this.closed ? 'closed' : p.state }
    }
    const a = this.applier
    return {
      role: 'replica',
      appliedSeq: this.db.seq,
      primarySeq: a?.streamSeq,
      lagMs: a?.lagMs ?? 0,
      state: this.closed ? 'closed' : (a?.state ?? 'promoting'),
    }
  }

  /** Primary: resolves once the stream holds `seq` (rejects with ISLAB_FENCED if it never will). */
  replicated(seq: number): Promise<void> {
    if (this.publisher === undefined) return Promise.reject(new ReadOnlyError('wait with replicated(seq)', 'it is a replica', 'replicated(seq) is for a primary; a replica waits with db.waitForSeq(seq).'))
    return this.publisher.replicated(seq)
  }

  /**
   * Turns this replica into the primary: applies what the stream holds beyond it, stops
   * consuming, and publishes its next writes with expected-last-sequence = its seq. The old
   * primary, if alive, is fenced at its next publish after this primary's first write (whichever
   * of the two publishes first at that seq wins; the other is fenced). Rejects with
   * ISLAB_REPLICATION when the replica is stalled.
   */
  promote(): Promise<void> {
    // A second call while one runs (REPLICAOF NO ONE from two clients, islab promote run again)
    // shares it: each running its own would stop one applier twice and start two publishers.
    this.promoting ??= this.promoteNow().finally(() => (this.promoting = undefined))
    return this.promoting
  }

  private async promoteNow(): Promise<void> {
    const a = this.applier
    if (a === undefined) throw new ReplicationError(this.o.stream, 'promote(): this database is the primary already')
    if (a.stalled !== undefined) throw a.stalled
    await a.stop()
    try {
      // The consumer may have stopped short of the stream's end: apply the rest one message at a time.
      const st = await this.link.state()
      if (st === undefined) throw new ReplicationError(this.o.stream, 'promote(): the stream does not exist')
      await this.db.flush()
      for (let seq = this.db.seq + 1; seq <= st.lastSeq; seq++) {
        const data = await this.link.messageAt(seq)
        if (data === undefined) throw new ReplicationError(this.o.stream, `promote(): the stream lost seq ${seq}`)
        await this.db.applyReplicated(decodeEvent(data))
      }
      await this.db.flush()
    } catch (err) {
      // Still a replica: it follows the stream again (its consumer was stopped for good before).
      if (!this.closed) this.startApplier()
      if (err instanceof IslabError) throw err
      // A NATS error (a timeout while the server is away) is not a value with a code.
      throw new ReplicationError(this.o.stream, `promote(): NATS did not answer (${err instanceof Error ? err.message : String(err)}); this database is still a replica and follows the stream again: promote it once NATS is reachable`, { cause: err })
    }
    // Stopped (closed) meanwhile: stop() looked for a publisher before this one would exist.
    if (this.closed) throw new ReplicationError(this.o.stream, 'promote(): replication was stopped (close()) before the promotion ended; this database stays a replica')
    this.applier = undefined
    this.db.refuseWrites(undefined)
    this.startPublisher(this.db.seq)
    this.emit('promoted')
  }

  private startPublisher(knownAcked: number | undefined): void {
    const p = new Publisher(this.db, this.link, knownAcked)
    p.on('fenced', (err) => this.emit('fenced', err))
    p.on('stalled', (err) => this.emit('stalled', err))
    this.publisher = p
    if (this.o.ack === 'replicated') this.db.gateAcks(p.gate)
    p.start()
    if (this.o.snapshots.enabled) {
      this.shipper = new SnapshotShipper(this.db, this.link, new SnapshotBucket(this.link), (seq) => p.replicated(seq))
      this.shipper.start()
    }
  }

  private startApplier(): void {
    this.db.refuseWrites(new ReadOnlyError('write', `it is a replica of stream ${JSON.stringify(this.o.stream)}`, 'Write to the primary, or promote() this replica first.'))
    const bucket = new SnapshotBucket(this.link)
    const a = new Applier(this.db, this.link, this.restorable ? (signal) => restoreInPlace(this.db, this.link, bucket, signal) : undefined)
    a.on('stalled', (err) => this.emit('stalled', err))
    a.on('restored', (snap: SnapshotInfo) => {
      this.restoredFrom = snap
      this.emit('restored', snap)
    })
    this.applier = a
    a.start()
  }

  /** Stops replicating and closes the NATS connection (the database stays open). */
  async stop(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.applier?.stop()
    await this.shipper?.stop()
    await this.publisher?.stop()
    await this.link.close()
  }
}

export type ReplicatedDatabase = Database & {
  readonly replication: Replication
  /** See Replication.promote. */
  promote(): Promise<void>
}

/**
 * Opens the database in `options.dir` (as the core's open() does) and replicates it through the
 * JetStream stream `options.replication.stream`: a primary publishes its events there, a replica
 * applies them and refuses writes of its own (ISLAB_READ_ONLY). close() stops replication first.
 */
export async function openReplicated(options: ReplicatedOpenOptions): Promise<ReplicatedDatabase> {
  const { replication, ...rest } = options
  const o = resolveReplication(replication, options)
  if (rest.durability === 'memory') throw new InvalidOptionError("replication needs a log: durability 'memory' cannot replicate")
  const link = new StreamLink(o)
  let db: Database
  let restoredFrom: SnapshotInfo | undefined
  try {
    if (o.role === 'replica') ({ db, snapshot: restoredFrom } = await openReplica(rest, link))
    else db = await openCore(rest)
  } catch (err) {
    await link.close()
    throw err
  }
  const r = new Replication(db, o, link, restoredFrom, canRestore(link, rest))
  const close = db.close.bind(db)
  const rdb = Object.assign(db, {
    replication: r,
    promote: () => r.promote(),
    close: async () => {
      // A primary's last writes get their chance to reach the stream before the connection goes.
      if (r.role === 'primary' && db.isOpen) await db.flush().then(() => withTimeout(r.replicated(db.seq), 2000)).catch(() => undefined)
      await r.stop()
      return close()
    },
  })
  r.start()
  return rdb
}


function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer))
}
