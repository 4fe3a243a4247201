// The NATS side of replication: one connection (reconnecting forever: a primary keeps writing
// locally while NATS is away, a replica keeps serving reads), the stream's state, and single
// messages by seq. Everything here may throw while NATS is unreachable; callers retry.
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, JetStreamApiError, StorageType } from '@nats-io/jetstream'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { ResolvedReplication } from './options.js'

/** JetStream's "stream not found" and "no message found" API error codes. */
const STREAM_NOT_FOUND = 10059
const NO_MESSAGE_FOUND = 10037

export interface StreamState {
  firstSeq: number
  lastSeq: number
}

export class StreamLink {
  private nc: NatsConnection | undefined
  private connecting: Promise<NatsConnection> | undefined
  private jsm_: JetStreamManager | undefined
  private js_: JetStreamClient | undefined
  private closed = false

  constructor(readonly o: ResolvedReplication) {}

  /** The connection, made on first use; a failed first connect is retried by the caller. */
  async connection(): Promise<NatsConnection> {
    if (this.closed) throw new Error('replication is stopped')
    if (this.nc !== undefined) return this.nc
    this.connecting ??= connect({
      servers: this.o.servers,
      name: `islabdb-${this.o.role}-${this.o.stream}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 2000,
      // Each publish is a request: with async traces on, the client builds two Errors (stack
      // captures) per request in case it fails, a quarter of a publishing primary's CPU.
      noAsyncTraces: true,
    }).finally(() => (this.connecting = undefined))
    const nc = await this.connecting
    if (this.closed) {
      await nc.close()
      throw new Error('replication is stopped')
    }
    this.nc = nc
    return nc
  }

  async js(): Promise<JetStreamClient> {
    if (this.js_ === undefined) this.js_ = jetstream(await this.connection(), { timeout: this.o.ackTimeoutMs })
    return this.js_
  }

  async jsm(): Promise<JetStreamManager> {
    if (this.jsm_ === undefined) this.jsm_ = await jetstreamManager(await this.connection(), { timeout: this.o.ackTimeoutMs })
    return this.jsm_
  }

  /** The stream's first and last seq; undefined when the stream does not exist. */
  async state(): Promise<StreamState | undefined> {
    const jsm = await this.jsm()
    try {
      const info = await jsm.streams.info(this.o.stream)
      return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq }
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND) return undefined
      throw err
    }
  }

  /** Creates the stream when it does not exist (file storage, the dedup window of the options). */
  async ensureStream(): Promise<StreamState> {
    const s = await this.state()
    if (s !== undefined) return s
    const jsm = await this.jsm()
    await jsm.streams.add({
      name: this.o.stream,
      subjects: [this.o.subject],
      storage: StorageType.File,
      duplicate_window: this.o.duplicateWindowMs * 1_000_000,
    })
    return { firstSeq: 0, lastSeq: 0 }
  }

  /** The payload stored at `seq`, or undefined when the stream does not hold it (trimmed, or not yet written). */
  async messageAt(seq: number): Promise<Uint8Array | undefined> {
    const jsm = await this.jsm()
    try {
      const m = await jsm.streams.getMessage(this.o.stream, { seq })
      return m === null ? undefined : m.data
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === NO_MESSAGE_FOUND) return undefined
      throw err
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const nc = this.nc ?? (await this.connecting?.catch(() => undefined))
    this.nc = undefined
    await nc?.close().catch(() => undefined)
  }
}

/** Waits `ms`, the retry pause after NATS failed (longer after each failure in a row, at most 2 s). */
export function backoff(failures: number): Promise<void> {
  const ms = Math.min(2000, 50 * 2 ** Math.min(failures, 6))
  return new Promise((r) => setTimeout(r, ms))
}
