// The primary's publishes, without js.publish's per-message request machinery (a promise, an
// inbox entry, a timer and a cancel Error each: with one socket write per publish, over half of a
// publishing primary's CPU). Publishes go out on the core connection with a reply subject
// `<inbox>.<seq>` under one wildcard subscription of this lane; JetStream answers each with its
// PubAck JSON, or `{"error":{...}}` (wrong last sequence 10071, wrong last msg id 10070, ...).
// Messages queued in one turn of the event loop are published together (one socket write), and one
// timer watches the oldest publish still waiting for its ack.
//
// Only the last message of each turn's batch (and every ACK_EVERY-th) asks for a PubAck: the
// others are published without a reply subject, so JetStream stores them without answering (a
// PubAck per event was half of nats-server's work and a JSON parse each here). Each message after
// the first of a pump carries Nats-Expected-Last-Msg-Id of the one before, so the stream stores
// a message only on top of its predecessor: an ack for seq s proves every seq of this lane up to
// s stored, and a message refused silently makes every later one refused too, up to the next
// one that asks — whose refusal (or missing ack) fails the lane, and the publisher reconciles.
import { createInbox } from '@nats-io/transport-node'
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node'
import { ReplicationError } from '../index.js'

/** A PubAck is asked for at least every this many messages, so the window keeps moving in a long batch. */
const ACK_EVERY = 128

const utf8 = new TextDecoder()

/** The stream refused a publish (its PubAck carried an error), e.g. wrong last sequence: a fencing question. */
export class PublishRefusedError extends Error {
  constructor(
    readonly seq: number,
    readonly errCode: number,
    description: string,
  ) {
    super(`the stream refused event ${seq}: ${description} (err_code ${errCode})`)
    this.name = 'PublishRefusedError'
  }
}

/** No PubAck came within ackTimeoutMs: the publish may or may not be stored (reconcile decides). */
export class AckTimeoutError extends Error {
  constructor(readonly seq: number, ms: number) {
    super(`no acknowledgement from the stream for event ${seq} within ${ms} ms`)
    this.name = 'AckTimeoutError'
  }
}

export interface LaneHooks {
  /** The stream stored `seq` (its PubAck said so, at stream seq `seq`). */
  acked(seq: number): void
  /** The first failure of this lane; later ones are not reported. */
  failed(err: unknown): void
  /** A publish settled (acked, refused or timed out): room in the window. */
  settled(): void
}

export class PublishLane {
  /** Set by the first failure; queued messages are then dropped, not sent. */
  failure: unknown
  private readonly inbox = createInbox()
  private readonly sub: Subscription
  /** In flight: seqs low..next-1, each in ring slot seq % size. */
  private low: number
  private next: number
  private readonly sentAt: Float64Array
  private readonly done: Uint8Array
  private readonly queue: { seq: number; data: Uint8Array; lastMsgID: string | undefined }[] = []
  private flushScheduled = false
  private timer: NodeJS.Timeout | undefined
  private idleWaiter: (() => void) | undefined

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly subject: string,
    private readonly epoch: string,
    private readonly timeoutMs: number,
    private readonly size: number,
    /** The first seq this lane will publish. */
    first: number,
    private readonly hooks: LaneHooks,
  ) {
    this.low = this.next = first
    this.sentAt = new Float64Array(size)
    this.done = new Uint8Array(size)
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => (err ? this.fail(err) : this.onReply(m)) })
  }

  get inFlight(): number {
    return this.next - this.low
  }

  /** Queues event `seq` (the next seq, with room in the window) for the next publish turn. */
  send(seq: number, data: Uint8Array, lastMsgID: string | undefined): void {
    if (seq !== this.next || this.inFlight >= this.size) throw new Error(`publish lane: seq ${seq} out of turn (next ${this.next}, in flight ${this.inFlight})`)
    const slot = seq % this.size
    this.done[slot] = 0
    // A monotonic clock: a wall clock stepped back would hold a lost ack's timeout for that long.
    this.sentAt[slot] = performance.now()
    this.next++
    this.queue.push({ seq, data, lastMsgID })
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(this.flush)
    }
    this.timer ??= setTimeout(this.expire, this.timeoutMs)
  }

  /** Resolves once nothing is in flight (each publish acked, refused, timed out or dropped). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((r) => (this.idleWaiter = r))
  }

  close(): void {
    this.sub.unsubscribe()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private readonly flush = (): void => {
    this.flushScheduled = false
    const q = this.queue
    // The first of this batch sent without asking since the last one that asked.
    let unasked = 0
    for (let i = 0; i < q.length; i++) {
      const { seq, data, lastMsgID } = q[i]!
      if (this.failure !== undefined) {
        this.settle(seq)
        continue
      }
      try {
        const ask = i === q.length - 1 || seq % ACK_EVERY === 0
        this.nc.publish(this.subject, data, { headers: publishHeaders(this.epoch, seq, lastMsgID), reply: ask ? `${this.inbox}.${seq}` : undefined })
        if (ask) unasked = i + 1
      } catch (err) {
        this.fail(publishFailure(this.nc, this.stream, seq, data.length, err))
        // The ones sent unasked before it get no answer now: settled here (reconcile reads the
        // stream), not left to the ack timeout.
        for (let j = unasked; j <= i; j++) this.settle(q[j]!.seq)
      }
    }
    q.length = 0
  }

  private onReply(m: Msg): void {
    const seq = Number(m.subject.slice(this.inbox.length + 1))
    if (!(seq >= this.low && seq < this.next) || this.done[seq % this.size] === 1) return
    // A status without a body: 503 no responders (the stream is gone), or another server status.
    if (m.data.length === 0) {
      this.fail(new ReplicationError(this.stream, `publishing event ${seq} got status ${m.headers?.code ?? '?'} ${m.headers?.description ?? ''} instead of an acknowledgement`.trim()))
    } else {
      let ack: { seq?: number; error?: { code?: number; err_code?: number; description?: string } }
      try {
        ack = JSON.parse(utf8.decode(m.data)) as typeof ack
      } catch {
        ack = { error: { description: 'an acknowledgement that is not JSON' } }
      }
      if (ack.error !== undefined) this.fail(new PublishRefusedError(seq, ack.error.err_code ?? ack.error.code ?? 0, ack.error.description ?? 'no description'))
      else if (ack.seq !== seq) this.fail(new ReplicationError(this.stream, `event ${seq} was stored at stream seq ${ack.seq}`))
      else if (this.failure === undefined) this.hooks.acked(seq)
    }
    // The messages before it asked for nothing: its answer is theirs too (see the top).
    this.settleThrough(seq)
  }

  /** The timer of the oldest publish: expires every publish at the front whose time is up. */
  private readonly expire = (): void => {
    this.timer = undefined
    const now = performance.now()
    while (this.low < this.next) {
      const slot = this.low % this.size
      if (this.done[slot] === 0) {
        const due = this.sentAt[slot]! + this.timeoutMs
        if (due > now) {
          this.timer = setTimeout(this.expire, due - now)
          return
        }
        this.fail(new AckTimeoutError(this.low, this.timeoutMs))
        this.done[slot] = 1
      }
      this.low++
      this.hooks.settled()
    }
    this.checkIdle()
  }

  private settleThrough(seq: number): void {
    for (let s = this.low; s < seq; s++) this.done[s % this.size] = 1
    this.settle(seq)
  }

  private settle(seq: number): void {
    this.done[seq % this.size] = 1
    let moved = false
    while (this.low < this.next && this.done[this.low % this.size] === 1) {
      this.low++
      moved = true
    }
    if (moved) this.hooks.settled()
    this.checkIdle()
  }

  private checkIdle(): void {
    if (this.inFlight !== 0) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    const w = this.idleWaiter
    this.idleWaiter = undefined
    w?.()
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return
    this.failure = err
    this.hooks.failed(err)
  }
}

/**
 * The headers of event `seq`, as the bytes the connection sends. Built as one string: the client's
 * MsgHdrs validates and canonicalises each set() (a tenth of the publisher's CPU), and publish()
 * only asks the headers for encode(). The names are JetStream's: Nats-Msg-Id (dedup),
 * Nats-Expected-Last-Sequence and Nats-Expected-Last-Msg-Id (fencing).
 */
function publishHeaders(epoch: string, seq: number, lastMsgID: string | undefined): MsgHdrs {
  const text =
    `NATS/1.0\r\nNats-Msg-Id: ${epoch}:${seq}\r\nNats-Expected-Last-Sequence: ${seq - 1}\r\n` +
    (lastMsgID === undefined ? '\r\n' : `Nats-Expected-Last-Msg-Id: ${lastMsgID}\r\n\r\n`)
  const bytes = Buffer.from(text, 'latin1')
  return { encode: () => bytes } as unknown as MsgHdrs
}

/**
 * A publish the client refused before sending. An event over the server's max_payload is a
 * ReplicationError (the publisher reports 'stalled', it cannot go on by itself), not a NATS outage
 * it would retry forever in silence.
 */
function publishFailure(nc: NatsConnection, stream: string, seq: number, bytes: number, err: unknown): unknown {
  if (!(err instanceof Error) || !/max_payload/.test(err.message)) return err
  const max = nc.info?.max_payload
  return new ReplicationError(
    stream,
    `event ${seq} is ${bytes} bytes, more than the NATS server's max_payload${max === undefined ? '' : ` (${max})`}: raise max_payload in the nats-server configuration (at most 64 MB), or write smaller values; the publisher retries it and goes on once the server takes it`,
    { cause: err },
  )
}
