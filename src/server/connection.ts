// One client connection: bytes in → commands → replies out, strictly in request order.
//
// A chunk of input is handled in one synchronous pass: every command in it is parsed and run
// (so all the puts of a pipeline are issued back to back and share a group commit), and the
// replies are written with one socket write. A reply that waits — for a write to be acknowledged
// (durability 'sync': on disk), or for SAVE/WAIT — holds back the replies after it: they wait in
// `queue`, in order, and go out together once it is settled.
// A blocking command (XREAD BLOCK) holds back the commands after it too, not only their replies:
// they run once it is answered, as in Redis.
//
// Backpressure: when the replies not yet sent (in the socket, or waiting in the queue) pass
// settings.outputLimit, the socket stops being read until they drain, so a client that pipelines
// without reading cannot make the server buffer without bound.
import type net from 'node:net'
import { ClientState } from './clientState.js'
import type { CommandContext } from './command.js'
import type { CommandTable } from './commandTable.js'
import { Keyspace } from './keyspace.js'
import type { Database } from '../index.js'
import type { Reply } from './resp/reply.js'
import { ErrorReply } from './resp/reply.js'
import { ReplyWriter } from './resp/replyWriter.js'
import { RequestParser } from './resp/requestParser.js'
import type { ProtocolError } from './resp/requestParser.js'
import type { ServerState } from './serverState.js'

/** Replies waiting behind one still pending, at most: past this the socket is not read. */
const MAX_QUEUED_REPLIES = 100_000

const NO_COMMANDS: Buffer[][] = []

const ignore = (): void => undefined

/**
 * Connections with replies to write, written together once this turn's reads are all handled
 * (setImmediate runs right after the poll phase), as Redis writes its replies before it sleeps:
 * the replies to many clients leave back to back, so a client woken by one finds the others
 * already there, instead of a wake-up per reply. One write per connection either way.
 */
const toFlush: Connection[] = []
let flushScheduled = false

function flushAll(): void {
  flushScheduled = false
  for (let i = 0; i < toFlush.length; i++) toFlush[i]!.flushNow()
  toFlush.length = 0
}

interface Slot {
  reply: Reply | undefined
  done: boolean
  /** The protocol when the command ran (a later HELLO must not change how this reply is encoded). */
  protocol: 2 | 3
  /** The reply's bytes, when it was ready while an earlier one was still pending (see encodeQueued). */
  encoded?: Buffer[]
  size?: number
}

/** A subscriber over pubsubOutputLimit / SOFT_PUSH_DIVISOR for SOFT_PUSH_MS is closed (Redis's 32mb 8mb 60). */
const SOFT_PUSH_DIVISOR = 4
const SOFT_PUSH_MS = 60_000

export class Connection {
  readonly client: ClientState
  private readonly parser: RequestParser
  private readonly writer = new ReplyWriter()
  /** Encodes replies ready behind a pending one, so their bytes count against outputLimit. */
  private readonly side = new ReplyWriter()
  /** Bytes of the encoded replies waiting in `queue`. */
  private queuedBytes = 0
  /** When a subscriber's unsent output first passed the soft push limit; 0: it is under. */
  private overSoftSince = 0
  private readonly ks: Keyspace
  private readonly ctx: CommandContext
  /** Replies in request order from the first one still pending; empty when none is. */
  private readonly queue: Slot[] = []
  private queueHead = 0
  /** Slots from queueHead on that are settled, in a row: they are written by the next drain as they are. */
  private ready = 0
  private drainScheduled = false
  /** Commands parsed and not yet run (see runBacklog), and the protocol error after them. */
  private backlog: Buffer[][] = NO_COMMANDS
  private backlogPos = 0
  private protocolError: ProtocolError | undefined
  /** No more commands are run; the socket is ended once the replies so far are written. */
  private closing = false
  private paused = false
  /** A blocking command (XREAD BLOCK) is waiting: the commands after it wait too, as in Redis. */
  private blocked = false
  private closed = false
  /** In toFlush already. */
  private flushQueued = false

  constructor(
    private readonly socket: net.Socket,
    db: Database,
    private readonly server: ServerState,
    private readonly table: CommandTable,
    private readonly onClose: (conn: Connection) => void,
  ) {
    const s = server.settings
    this.parser = new RequestParser({ maxBulkBytes: s.maxBulkBytes, maxInlineBytes: s.maxInlineBytes, maxArgs: s.maxArgs })
    const addr = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
    const laddr = `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`
    this.client = new ClientState(server.newClientId(), addr, laddr, server.needsAuth)
    this.parser.authenticated = this.client.authenticated
    this.client.close = () => this.closeAfterReplies()
    this.client.push = (reply) => this.push(reply)
    this.client.pendingOutput = () => this.unsent()
    this.client.pendingInput = () => this.parser.buffered
    this.client.onUnwatch = (keys) => server.watches.forget(this.client, keys)
    this.ks = new Keyspace(db, server.keyEvents, this.client, server.watches)
    this.ctx = { db, ks: this.ks, client: this.client, server, table, inExec: false }
    socket.setNoDelay(true)
    this.setIdleTimeout(s.timeout)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.maybeResume())
    // As Redis: the idle timeout spares a subscriber (it only listens) and a client blocked in XREAD BLOCK.
    socket.on('timeout', () => {
      if (this.client.subscriptions === 0 && !this.blocked) socket.destroy()
    })
    socket.on('error', () => undefined) // a reset by the peer: 'close' follows
    socket.on('close', () => {
      this.closed = true
      this.client.gone.abort()
      this.onClose(this)
    })
  }

  /** CONFIG SET timeout applies to connections already open, as in Redis. */
  setIdleTimeout(seconds: number): void {
    this.socket.setTimeout(seconds > 0 ? seconds * 1000 : 0)
  }

  /** Ends the connection now (the end of a server close's grace; CLIENT KILL of this client is closeAfterReplies). */
  destroy(): void {
    this.socket.destroy()
  }

  /**
   * A server close: read nothing more, send the replies of the commands already run (writes
   * made must be answered, or a client that retries applies them twice), then end.
   */
  endAfterReplies(): void {
    this.closeAfterReplies()
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return
    this.client.lastActiveAt = Date.now()
    const commands: Buffer[][] = []
    this.protocolError = this.parser.parseInto(chunk, commands)
    this.backlog = commands
    this.backlogPos = 0
    this.runBacklog()
  }

  /**
   * Runs the commands parsed and not yet run. One chunk of input can hold thousands of commands
   * whose replies are large (GET of a big value): when the unsent replies pass the limit midway,
   * the rest wait here, and the socket is not read, until the client has read enough.
   */
  private runBacklog(): void {
    const limit = this.server.settings.outputLimit
    let commands = this.backlog
    for (;;) {
      while (this.backlogPos < commands.length && !this.closing) {
        this.execute(commands[this.backlogPos++]!)
        if (this.blocked) {
          this.flush()
          this.pause()
          return
        }
        if (this.unsent() > limit || this.queue.length - this.queueHead > MAX_QUEUED_REPLIES) {
          this.flushNow()
          if ((this.backlogPos < commands.length || this.parser.held) && !this.closing) {
            this.pause()
            return
          }
        }
      }
      // Before AUTH the parser gives one command at a time: the rest of the read is parsed with
      // the limits of the state AUTH left (a client pipelines AUTH with what follows).
      if (!this.parser.held || this.closing || this.protocolError !== undefined) break
      commands = []
      this.protocolError = this.parser.parseMore(commands)
      this.backlog = commands
      this.backlogPos = 0
    }
    this.backlog = NO_COMMANDS
    this.backlogPos = 0
    const error = this.protocolError
    this.protocolError = undefined
    if (error !== undefined && !this.closing) {
      // Redis answers a malformed request and closes: what came after it cannot be framed.
      this.reply(new ErrorReply(`ERR Protocol error: ${error.message}`))
      this.closeAfterReplies()
    }
    this.flush()
    if (this.unsent() > limit) this.pause()
  }

  /** Replies not yet sent, in bytes: in the socket, in the writer, and encoded in the queue. */
  private unsent(): number {
    return this.socket.writableLength + this.writer.length + this.queuedBytes
  }

  /**
   * A reply ready while an earlier one is still pending is encoded now, in the protocol it ran
   * under: its bytes are then known and counted (a pipeline of GETs behind one sync write must
   * stop being read at outputLimit like any other).
   */
  private encodeQueued(slot: Slot, reply: Reply): void {
    const side = this.side
    side.protocol = slot.protocol
    side.write(reply)
    slot.size = side.length
    slot.encoded = side.take()
    slot.reply = undefined
    this.queuedBytes += slot.size
  }

  private execute(args: Buffer[]): void {
    const client = this.client
    const r = this.table.dispatch(this.ctx, args)
    // AUTH/HELLO may have changed these.
    this.parser.authenticated = client.authenticated
    this.writer.protocol = client.protocol
    if (r instanceof Promise) {
      this.ks.reset()
      if (client.holdBack || this.table.lookup(args[0]!)?.flags.includes('blocking') === true) {
        client.holdBack = false
        this.blocked = true
        this.reply(r.finally(() => (this.blocked = false)))
      } else this.reply(r)
      return
    }
    const db = this.ctx.db
    const seq = db.seq
    const written = this.ks.commit()
    if (written === undefined) this.reply(r)
    else if (db.seq !== seq && db.acksOnApply) {
      // Sequenced and applied, and that is what an acknowledgement means now (durability
      // 'buffered' or 'memory', no replication ack gate): a write the database refused takes
      // no seq, and gets its error below. Buffered mode may still hold the promise until a
      // commit that was due: that throttles loops of awaited puts, while this connection
      // yields to the event loop after every read anyway. A later WAL failure is
      // the database's failure (reported with the seqs it lost), as for any buffered write.
      written.then(undefined, ignore)
      this.reply(r)
    } else this.replyAfter(written, r)
  }

  /** `r` once the write is acknowledged, or the write's error: one slot and one `then` per write. */
  private replyAfter(written: Promise<unknown>, r: Reply): void {
    const slot: Slot = { reply: r, done: false, protocol: this.writer.protocol }
    this.queue.push(slot)
    written.then(
      () => this.settle(slot, r),
      (err: unknown) => this.settle(slot, this.table.errorReply(err)),
    )
    if (this.queue.length - this.queueHead > MAX_QUEUED_REPLIES) this.pause()
  }

  private reply(r: Reply | Promise<Reply>): void {
    if (!(r instanceof Promise)) {
      if (this.queue.length === this.queueHead) this.writer.write(r)
      else {
        const slot: Slot = { reply: r, done: true, protocol: this.writer.protocol }
        this.queue.push(slot)
        this.encodeQueued(slot, r)
      }
      return
    }
    const slot: Slot = { reply: undefined, done: false, protocol: this.writer.protocol }
    this.queue.push(slot)
    r.then(
      (reply) => this.settle(slot, reply),
      (err: unknown) => this.settle(slot, this.table.errorReply(err)),
    )
    if (this.queue.length - this.queueHead > MAX_QUEUED_REPLIES) this.pause()
  }

  private settle(slot: Slot, reply: Reply): void {
    slot.done = true
    const q = this.queue
    if (q[this.queueHead + this.ready] === slot) {
      // Every reply before it is settled too (a pipeline's writes settle in order): it goes out
      // with the drain below, so it is not encoded on the side first.
      slot.reply = reply
      this.ready++
      while (this.queueHead + this.ready < q.length && q[this.queueHead + this.ready]!.done) this.ready++
    } else this.encodeQueued(slot, reply)
    // The writes of a group commit settle in one run of microtasks: write their replies together.
    if (!this.drainScheduled) {
      this.drainScheduled = true
      queueMicrotask(() => this.drainQueue())
    }
  }

  private drainQueue(): void {
    this.drainScheduled = false
    const q = this.queue
    const protocol = this.writer.protocol
    while (this.queueHead < q.length && q[this.queueHead]!.done) {
      const slot = q[this.queueHead++]!
      if (slot.encoded !== undefined) {
        this.writer.writeChunks(slot.encoded)
        this.queuedBytes -= slot.size!
        continue
      }
      this.writer.protocol = slot.protocol
      this.writer.write(slot.reply!)
    }
    this.ready = 0
    this.writer.protocol = protocol
    if (this.queueHead === q.length) {
      q.length = 0
      this.queueHead = 0
    } else if (this.queueHead > 1024) {
      q.splice(0, this.queueHead)
      this.queueHead = 0
    }
    this.flush()
    this.maybeResume()
  }

  /**
   * A RESP3 push (or RESP2 array) out of band: written with the next flush. In RESP2 a push is
   * indistinguishable from a reply, so it waits behind the replies still pending; a RESP3 push
   * may pass them (it is marked as a push), never splitting one.
   */
  private push(reply: Reply): void {
    if (this.closed || this.closing) return
    if (this.writer.protocol === 2 && this.queue.length > this.queueHead) {
      const slot: Slot = { reply, done: true, protocol: 2 }
      this.queue.push(slot)
      this.encodeQueued(slot, reply)
    } else this.writer.write(reply)
    if (this.overPushLimit()) {
      // Redis's client-output-buffer-limit pubsub: pushes are not backpressured (the publisher
      // must not wait for the slowest subscriber), so a subscriber that does not read is dropped.
      this.closing = true
      this.writer.take()
      this.socket.destroy()
      return
    }
    if (!this.drainScheduled) {
      this.drainScheduled = true
      queueMicrotask(() => this.drainQueue())
    }
  }

  /**
   * A subscriber's unsent output past pubsubOutputLimit, or past a quarter of it for a minute.
   * A client not subscribed (tracking invalidations, keyspace pushes to RESP3 clients) also has
   * replies limited by outputLimit, so its pushes get pubsubOutputLimit on top of that.
   */
  private overPushLimit(): boolean {
    const s = this.server.settings
    const unsent = this.unsent()
    if (this.client.subscriptions === 0) return unsent > s.outputLimit + s.pubsubOutputLimit
    if (unsent > s.pubsubOutputLimit) return true
    if (unsent <= s.pubsubOutputLimit / SOFT_PUSH_DIVISOR) {
      this.overSoftSince = 0
      return false
    }
    const now = Date.now()
    if (this.overSoftSince === 0) this.overSoftSince = now
    return now - this.overSoftSince > SOFT_PUSH_MS
  }

  /** Writes the replies so far at the end of this event-loop turn (see toFlush). */
  private flush(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    toFlush.push(this)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flushAll)
    }
  }

  /** Writes the replies so far now: one socket write (or one corked batch of writes). */
  flushNow(): void {
    this.flushQueued = false
    if (this.closed || this.socket.writableEnded) {
      this.writer.take()
      return
    }
    if (this.writer.length > 0) {
      const chunks = this.writer.take()
      if (chunks.length === 1) this.socket.write(chunks[0]!)
      else {
        this.socket.cork()
        for (const c of chunks) this.socket.write(c)
        this.socket.uncork()
      }
    }
    if (this.closing && this.queue.length === this.queueHead) {
      this.socket.end()
      return
    }
  }

  private closeAfterReplies(): void {
    if (this.closing) return
    this.closing = true
    this.socket.pause()
    if (this.queue.length === this.queueHead && !this.drainScheduled) queueMicrotask(() => this.flush())
  }

  private pause(): void {
    if (this.paused) return
    this.paused = true
    this.socket.pause()
    this.whenWritable()
  }

  /**
   * 'drain' comes only after a write the socket could not take at once; when the kernel took
   * everything already, no 'drain' will come, so the resume check runs on the next turn instead.
   */
  private whenWritable(): void {
    if (!this.socket.writableNeedDrain) setImmediate(() => this.maybeResume())
  }

  private maybeResume(): void {
    // Unblocking: the blocking command's reply settles, and drainQueue calls here.
    if (!this.paused || this.closing || this.closed || this.blocked) return
    if (this.writer.length > 0) this.flushNow()
    const half = this.server.settings.outputLimit / 2
    if (this.socket.writableLength > half) {
      this.whenWritable()
      return
    }
    // Encoded replies still queued: drainQueue calls again once the pending one settles.
    if (this.socket.writableLength + this.queuedBytes > half) return
    if (this.queue.length - this.queueHead > MAX_QUEUED_REPLIES / 2) return
    this.paused = false
    if (this.backlog.length > 0 || this.parser.held) {
      this.runBacklog()
      if (this.paused) return
    }
    this.socket.resume()
  }
}
