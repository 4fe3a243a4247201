// The replica's half: reads the stream with an ordered consumer from the seq after the last one
// this database applied (its own log and checkpoints say which, so a restart resumes from disk),
// and applies each event with its own seq and time, strictly in order. The stream's seq must be
// the event's seq and the next one: anything else stops the replica ('stalled'), never skips.
import { EventEmitter } from 'node:events'
import { DeliverPolicy } from '@nats-io/jetstream'
import type { ConsumerMessages } from '@nats-io/jetstream'
import { decodeEvent, ReplicationError } from '../index.js'
import type { Database, WriteResult } from '../index.js'
import { backoff } from './streamLink.js'
import type { StreamLink } from './streamLink.js'

/** Applies are not awaited one by one (a sync-mode replica would wait a fsync per event); every this many, the newest is. */
const APPLY_WINDOW = 512
/** How long one pull request waits on the server (see consume). */
const PULL_EXPIRES_MS = 5000

const noop = (): void => undefined

export class Applier extends EventEmitter {
  state = 'connecting'
  /** The stream's last seq as last seen. */
  streamSeq: number | undefined
  stalled: ReplicationError | undefined
  private lastTime = 0
  private stopped = false
  private messages: ConsumerMessages | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly db: Database,
    private readonly link: StreamLink,
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
    await this.messages?.close().catch(() => undefined)
    await this.running
  }

  private async run(): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      try {
        await this.consume(() => (failures = 0))
      } catch (err) {
        if (this.stopped) return
        if (err instanceof ReplicationError) {
          this.stalled = err
          this.state = 'stalled'
          this.emit('stalled', err)
          return
        }
        this.state = 'disconnected'
      }
      if (!this.stopped) await backoff(failures++)
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
    if (st.lastSeq > this.db.seq && st.firstSeq > this.db.seq + 1) {
      throw new ReplicationError(stream, `the stream starts at seq ${st.firstSeq} but this replica needs ${this.db.seq + 1} next (it was trimmed below this replica): close and reopen the replica, it then starts from the newest snapshot`)
    }
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
      if (seq !== this.db.seq + 1) throw new ReplicationError(stream, `the stream skips from seq ${this.db.seq} to ${seq} (trimmed below this replica): close and reopen the replica, it then starts from the newest snapshot`)
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
