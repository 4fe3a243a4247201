// What the server knows about one client connection: identity (CLIENT ID/SETNAME/SETINFO),
// protocol (HELLO), authentication, the transaction being queued (MULTI) and the keys it
// watches (WATCH). The connection (connection.ts) owns the socket; commands see only this.
import type { Reply } from './resp/reply.js'
import type { TrackingMode } from './tracking.js'

export class ClientState {
  name = ''
  libName = ''
  libVer = ''
  protocol: 2 | 3 = 2
  authenticated: boolean
  /** Commands queued since MULTI; undefined outside a transaction. */
  multi: Buffer[][] | undefined
  /** A command failed to queue (unknown, wrong arity): EXEC answers EXECABORT. */
  multiFailed = false
  /** Pub/sub channels and patterns subscribed to (latin1 names; see pubsub.ts). */
  readonly channels = new Set<string>()
  readonly patterns = new Set<string>()
  /** CLIENT TRACKING's mode; undefined: off (tracking.ts). */
  tracking: TrackingMode | undefined
  /** CLIENT CACHING yes/no: applies to the next command only. */
  cachingNext: boolean | undefined
  /** Keys watched and their seq at WATCH time (0: absent). */
  watched: Map<string, number> | undefined
  /** A watched key was written since WATCH (watches.ts): EXEC aborts. */
  watchDirty = false
  /** Set by the connection: takes the watched keys out of the server's registry. */
  onUnwatch: (keys: Iterable<string>) => void = () => undefined
  readonly createdAt = Date.now()
  lastActiveAt = Date.now()
  lastCommand = 'NULL'
  /**
   * Set by a command whose reply is a promise and whose effects the next commands must see (EXEC
   * waiting for the log's events): the connection holds back the commands after it, as for XREAD BLOCK.
   */
  holdBack = false
  /** Aborted by the connection when it closes: what waits for the client (XREAD BLOCK, subscriptions) lets go. */
  readonly gone = new AbortController()
  /** Set by the connection: closes it once the replies so far are written. */
  close: () => void = () => undefined
  /** Set by the connection: sends an out-of-band push (RESP3 `>`, RESP2 an array). */
  push: (reply: Reply) => void = () => undefined
  /** Set by the connection: replies written and not yet sent, in bytes (CLIENT LIST omem). */
  pendingOutput: () => number = () => 0
  /** Set by the connection: bytes received and not yet parsed (CLIENT LIST qbuf). */
  pendingInput: () => number = () => 0

  constructor(
    readonly id: number,
    readonly addr: string,
    readonly laddr: string,
    needsAuth: boolean,
  ) {
    this.authenticated = !needsAuth
  }

  /** Subscriptions: in RESP2, a client with any is in subscribe mode (few commands allowed). */
  get subscriptions(): number {
    return this.channels.size + this.patterns.size
  }

  /** RESET and a finished EXEC/DISCARD: out of the transaction, nothing watched. */
  endTransaction(): void {
    this.multi = undefined
    this.multiFailed = false
    this.unwatch()
  }

  /** UNWATCH (and disconnect): nothing watched. */
  unwatch(): void {
    if (this.watched !== undefined) this.onUnwatch(this.watched.keys())
    this.watched = undefined
    this.watchDirty = false
  }

  /** One line of CLIENT LIST / CLIENT INFO, with Redis's field names. */
  describe(now = Date.now()): string {
    const age = Math.floor((now - this.createdAt) / 1000)
    const idle = Math.floor((now - this.lastActiveAt) / 1000)
    const flags = (this.multi !== undefined ? 'x' : '') + (this.subscriptions > 0 ? 'P' : '') + (this.tracking !== undefined ? 't' : '') || 'N'
    return (
      `id=${this.id} addr=${this.addr} laddr=${this.laddr} fd=-1 name=${this.name} age=${age} idle=${idle} ` +
      `flags=${flags} db=0 sub=${this.channels.size} psub=${this.patterns.size} ssub=0 multi=${this.multi === undefined ? -1 : this.multi.length} ` +
      `qbuf=${this.pendingInput()} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=${this.pendingOutput()} ` +
      `tot-mem=0 events=r cmd=${this.lastCommand} user=default redir=${this.tracking === undefined ? -1 : this.tracking.redirect} resp=${this.protocol} ` +
      `lib-name=${this.libName} lib-ver=${this.libVer}`
    )
  }
}
