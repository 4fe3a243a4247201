// The replica's half: reads the stream with an ordered consumer from the seq after the last one
// this database applied (its own log and checkpoints say which, so a restart resumes from disk),
// and applies each event with its own seq and time, strictly in order. The stream's seq must be
// the event's seq and the next one: anything else stops the replica ('stalled'), never skips.
import { EventEmitter } from 'node:events'
import { DeliverPolicy } from '@nats-io/jetstream'
import type { ConsumerMessages } from '@nats-io/jetstream'
import { decodeEvent, IslabError, ReplicationError } from '../index.js'
import type { Database, WriteResult } from '../index.js'
import { trimmedBelow } from './restore.js'
import type { SnapshotInfo } from './snapshots.js'
import { backoff } from './streamLink.js'
import type { StreamLink } from './streamLink.js'

/** Applies are not awaited one by one (a sync-mode replica would wait a fsync per event); every this many, the newest is. */
const APPLY_WINDOW = 512
/** How long one pull request waits on the server (see consume). */
const PULL_EXPIRES_MS = 5000

const noop = (): void => undefined

/** The stream no longer holds the seq this replica needs next (a snapshot may bridge the gap). */
class TrimmedError extends Error {}

export class Applier extends EventEmitter {
  state = 'connecting'
  /** The stream's last seq as last seen. */
  streamSeq: number | undefined
  stalled: ReplicationError | undefined
  private lastTime = 0
  private stopped = false
  private messages: ConsumerMessages | undefined
  private running: Promise<void> | undefined
  /** Aborts a restore's download: while NATS is away it waits for the server, and stop() must not. */
  private restoring: AbortController | undefined

  constructor(
    private readonly db: Database,
    private readonly link: StreamLink,
    /**
     * Replaces the database with the newest snapshot the stream goes on from (restore.ts);
     * undefined without snapshots. `signal` abandons its download (stop()).
     */
    private readonly restore: ((signal: AbortSignal) => Promise<SnapshotInfo | undefined>) | undefined,
  ) {
    super()
  }

  start(): void {
    this.running = this.run()
  }

  get lagMs(): number {
    const head = this.streamSeq ?? this.db.seq
    return head <= this.db.seq || this.lastTime === 0 ? 0 : Math.max(0, Date.now() - this.lastTime)
  }

  /** Stops consuming; resolves once no event is being applied any more. */
  async stop(): Promise<void> {
    this.stopped = true
    this.restoring?.abort(new Error('replication is stopped'))
    await this.messages?.close().catch(() => undefined)
    await this.running
  }

  private async run(): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      try {
        await this.consume(() => (failures = 0))
      } catch (caught) {
        if (this.stopped) return
        const err = caught instanceof TrimmedError ? await this.restoreFrom(caught) : caught
        if (err === undefined) {
          failures = 0
          continue
        }
        if (err instanceof IslabError) {
          const stalled = err instanceof ReplicationError ? err : new ReplicationError(this.link.o.stream, err.message, { cause: err })
          this.stalled = stalled
          this.state = 'stalled'
          this.emit('stalled', stalled)
          return
        }
        this.state = 'disconnected'
      }
      if (!this.stopped) await backoff(failures++)
    }
  }

  /**
   * The stream was trimmed below this replica: goes on from the newest snapshot, in place.
   * Undefined when restored; an IslabError to stall with (no snapshot, or the swap failed); a
   * NATS error to retry after.
   */
  private async restoreFrom(trimmed: TrimmedError): Promise<unknown> {
    const stream = this.link.o.stream
    if (this.restore === undefined) return new ReplicationError(stream, `${trimmed.message}: this replica runs with snapshots: false (or with a fileLayer of its own, which snapshots are not written into); open it with snapshots on and it restores from the newest snapshot`)
    this.state = 'restoring'
    const ctl = new AbortController()
    this.restoring = ctl
    try {
      const snap = await this.restore(ctl.signal)
      if (snap === undefined) return new ReplicationError(stream, `${trimmed.message}, and the bucket holds no snapshot the stream goes on from: the primary ships one after each checkpoint; reopen the replica once it has`)
      this.emit('restored', snap)
      return undefined
    } catch (err) {
      return err
    } finally {
      this.restoring = undefined
    }
  }

  private async consume(connected: () => void): Promise<void> {
    const { stream, subject } = this.link.o
    const st = await this.link.state()
    if (st === undefined) {
      this.state = 'connecting'
      throw new Error(`stream ${stream} does not exist yet`)
    }
    this.streamSeq = st.lastSeq
    if (trimmedBelow(this.db, st)) throw new TrimmedError(`the stream starts at seq ${st.firstSeq} but this replica needs ${this.db.seq + 1} next (it was trimmed below this replica)`)
    if (st.lastSeq < this.db.seq) {
      throw new ReplicationError(stream, `the stream ends at seq ${st.lastSeq} but this replica has applied ${this.db.seq}: it follows a different or recreated stream`)
    }
    const js = await this.link.js()
    const consumer = await js.consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.db.seq + 1 })
    // Pulls expire after 5 s (default 30 s): a pull lost to a server restart is noticed by its missed
    // heartbeats, so the replica stalled up to ~40 s after NATS came back; now a few seconds.
    const messages = await consumer.consume({ max_messages: 1024, expires: PULL_EXPIRES_MS })
    this.messages = messages
    if (this.stopped) {
      // Stopped while the consumer was being made. Not awaited: an ordered consumer's close()
      // before its first iteration never resolves (seen with @nats-io/jetstream 3.4).
      messages.close().catch(noop)
      return
    }
    connected()
    this.state = st.lastSeq > this.db.seq ? 'catching-up' : 'live'
    let last: Promise<WriteResult> | undefined
    let sinceAwait = 0
    for await (const m of messages) {
      if (this.stopped) break
      const seq = m.seq
      if (seq <= this.db.seq) continue
      if (seq !== this.db.seq + 1) throw new TrimmedError(`the stream skips from seq ${this.db.seq} to ${seq} (trimmed below this replica)`)
      const ev = decodeEvent(m.data)
      if (ev.seq !== seq) throw new ReplicationError(stream, `stream seq ${seq} holds event seq ${ev.seq}`)
      last = this.db.applyReplicated(ev)
      // Awaited only now and then below; a failure of one in between fails every later one too.
      last.catch(noop)
      this.lastTime = ev.time
      this.streamSeq = seq + m.info.pending
      this.state = m.info.pending > 0 ? 'catching-up' : 'live'
      if (++sinceAwait >= APPLY_WINDOW || m.info.pending === 0) {
        sinceAwait = 0
        await last
      }
    }
    await last
    if (!this.stopped) throw new Error('the consumer ended')
  }
}
