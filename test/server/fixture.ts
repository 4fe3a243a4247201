// A database served over RESP on a free loopback port, and a raw socket client that sends bytes
// and reads replies (for what the client libraries hide: framing, pipelines, protocol errors).
import net from 'node:net'
import { open } from '../../src/index.js'
import type { Database, OpenOptions } from '../../src/index.js'
import { serve } from '../../src/server/index.js'
import type { RedisServer, ServeOptions } from '../../src/server/index.js'

export interface Served {
  db: Database
  server: RedisServer
  port: number
  stop(): Promise<void>
}

export async function startServed(openOptions: OpenOptions = { durability: 'memory' }, serveOptions: ServeOptions = {}): Promise<Served> {
  const db = await open(openOptions)
  const server = await serve(db, { port: 0, ...serveOptions })
  return {
    db,
    server,
    port: server.port,
    async stop() {
      await server.close()
      await db.close()
    },
  }
}

/** A raw TCP client: write bytes, wait for a number of bytes or for the close. */
export class RawClient {
  private received: Buffer = Buffer.alloc(0)
  private waiters: (() => void)[] = []
  closed = false
  readonly socket: net.Socket

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d])
      this.wake()
    })
    socket.on('close', () => {
      this.closed = true
      this.wake()
    })
    socket.on('error', () => undefined)
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Waits until `pred(bytes so far)` holds or the connection closes. */
  async until(pred: (text: Buffer) => boolean, timeoutMs = 20_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs
    while (!pred(this.received) && !this.closed) {
      if (Date.now() > deadline) throw new Error(`timed out; received so far: ${JSON.stringify(this.received.toString('latin1').slice(-500))}`)
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 100)
      })
    }
    return this.received
  }

  /** Sends `data` and waits for `n` complete top-level replies; returns them as text. */
  async send(data: string | Buffer, n = 1): Promise<string> {
    const start = this.received.length
    this.write(data)
    const all = await this.until((b) => countReplies(b.subarray(start)) >= n)
    const text = all.subarray(start).toString('latin1')
    this.received = all.subarray(start + replyBytes(all.subarray(start), n))
    return text.slice(0, replyBytes(all.subarray(start), n))
  }

  /** The bytes received and not yet taken. */
  get pending(): Buffer {
    return this.received
  }

  take(): string {
    const t = this.received.toString('latin1')
    this.received = Buffer.alloc(0)
    return t
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Length in bytes of the first reply in b, or -1 when incomplete (RESP2 and RESP3). */
export function replyLength(b: Buffer, at = 0): number {
  if (at >= b.length) return -1
  const eol = b.indexOf('\r\n', at)
  if (eol < 0) return -1
  const type = String.fromCharCode(b[at]!)
  const head = b.toString('latin1', at + 1, eol)
  const after = eol + 2
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return after - at
    case '$':
    case '=':
    case '!': {
      const n = Number(head)
      if (n < 0) return after - at
      return after + n + 2 <= b.length ? after + n + 2 - at : -1
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      let n = Number(head)
      if (n < 0) return after - at
      if (type === '%') n *= 2
      let p = after
      for (let i = 0; i < n; i++) {
        const l = replyLength(b, p)
        if (l < 0) return -1
        p += l
      }
      return p - at
    }
    default:
      throw new Error(`bad reply type ${JSON.stringify(type)} in ${JSON.stringify(b.toString('latin1', at, at + 50))}`)
  }
}

export function countReplies(b: Buffer): number {
  let n = 0
  let p = 0
  for (;;) {
    const l = replyLength(b, p)
    if (l < 0) return n
    p += l
    n++
  }
}

function replyBytes(b: Buffer, n: number): number {
  let p = 0
  for (let i = 0; i < n; i++) p += replyLength(b, p)
  return p
}

/** A command as RESP multibulk bytes. */
export function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

export type Parsed = string | number | null | { error: string } | Parsed[] | { map: [Parsed, Parsed][] } | { set: Parsed[] } | { double: string } | { bool: boolean } | { verbatim: string }

/** Parses one reply (RESP2 or RESP3) into a comparable tree. */
export function parseReply(b: Buffer, at = 0): [Parsed, number] {
  const eol = b.indexOf('\r\n', at)
  const type = String.fromCharCode(b[at]!)
  const head = b.toString('latin1', at + 1, eol)
  const after = eol + 2
  switch (type) {
    case '+':
      return [head, after]
    case '-':
      return [{ error: head }, after]
    case ':':
      return [Number(head), after]
    case '_':
      return [null, after]
    case ',':
      return [{ double: head }, after]
    case '#':
      return [{ bool: head === 't' }, after]
    case '$':
    case '=': {
      const n = Number(head)
      if (n < 0) return [null, after]
      const text = b.toString('latin1', after, after + n)
      return [type === '=' ? { verbatim: text } : text, after + n + 2]
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      const n = Number(head)
      if (n < 0) return [null, after]
      let p = after
      const items: Parsed[] = []
      for (let i = 0; i < (type === '%' ? 2 * n : n); i++) {
        const [v, next] = parseReply(b, p)
        items.push(v)
        p = next
      }
      if (type === '%') return [{ map: Array.from({ length: n }, (_, i) => [items[2 * i]!, items[2 * i + 1]!] as [Parsed, Parsed]) }, p]
      if (type === '~') return [{ set: items }, p]
      return [items, p]
    }
    default:
      throw new Error(`bad reply type ${type}`)
  }
}
