// Encodes replies (reply.ts) as RESP2 or RESP3 bytes into one connection's output, which the
// connection hands to the socket in one write per batch of commands.
//
// Small replies are written into a slab: a region is never written again once it was taken
// (handed to the socket), so `take()` returns a view, not a copy — the trick Node's own Buffer
// pool plays. Large bulk strings are not copied at all: they are passed to the socket as
// their own chunks, in order.
import type { Reply } from './reply.js'
import { BooleanReply, DoubleReply, ErrorReply, MapReply, MultiReply, NullArray, PushReply, SetReply, SimpleString, VerbatimReply } from './reply.js'

const SLAB_BYTES = 64 * 1024
/** Bulk strings at least this long go out as their own chunk instead of being copied. */
const DIRECT_BYTES = 16 * 1024

/** Shorter copies are done byte by byte (see copy). */
const SHORT_COPY = 32
/** The longest `$<n>\r\n`: prefix, 16 digits (a safe integer), CR LF. */
const MAX_HEADER = 20

const CRLF = Buffer.from('\r\n')
const NULL2 = Buffer.from('$-1\r\n')
const NULL_ARRAY2 = Buffer.from('*-1\r\n')
const NULL3 = Buffer.from('_\r\n')

/** `:<n>\r\n` for the small integers most replies are (0, 1, counts), made once. */
const SMALL_INTS: Buffer[] = Array.from({ length: 1024 }, (_, i) => Buffer.from(`:${i}\r\n`))

export class ReplyWriter {
  private slab = Buffer.allocUnsafe(SLAB_BYTES)
  /** slab[start..pos) is written and not taken yet. */
  private start = 0
  private pos = 0
  /** Chunks before slab[start..pos), in order (earlier slab regions and large bulk strings). */
  private chunks: Buffer[] = []
  private chunkBytes = 0
  /** 2 or 3 (HELLO changes it). */
  protocol: 2 | 3 = 2

  /** Bytes written and not taken yet. */
  get length(): number {
    return this.chunkBytes + this.pos - this.start
  }

  /** The bytes written since the last take, as chunks for socket writes (in order). */
  take(): Buffer[] {
    this.seal()
    const out = this.chunks
    this.chunks = []
    this.chunkBytes = 0
    return out
  }

  /**
   * Bytes encoded earlier (by another writer's take), appended: small ones copied into the slab
   * (a pipeline of small replies stays one socket write), large ones passed on as they are.
   */
  writeChunks(chunks: Buffer[]): void {
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!
      if (c.length < DIRECT_BYTES) this.raw(c)
      else {
        this.seal()
        this.chunks.push(c)
        this.chunkBytes += c.length
      }
    }
  }

  write(reply: Reply): void {
    if (reply === null) return this.raw(this.protocol === 3 ? NULL3 : NULL2)
    switch (typeof reply) {
      case 'number':
        if (reply >= 0 && reply < 1024 && Number.isInteger(reply)) return this.raw(SMALL_INTS[reply]!)
        return this.ascii(`:${Number.isInteger(reply) ? reply : Math.trunc(reply)}\r\n`)
      case 'bigint':
        return this.ascii(`:${reply}\r\n`)
      case 'string':
        return this.bulkString(reply)
    }
    if (reply instanceof Uint8Array) return this.bulk(reply)
    if (Array.isArray(reply)) {
      this.header(42, reply.length)
      for (let i = 0; i < reply.length; i++) this.write(reply[i]!)
      return
    }
    if (reply instanceof SimpleString) return this.raw(reply.bytes)
    if (reply instanceof ErrorReply) return this.text(`-${reply.line}\r\n`)
    if (reply instanceof MapReply) {
      this.ascii(this.protocol === 3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`)
      for (const [k, v] of reply.entries) {
        this.write(k)
        this.write(v)
      }
      return
    }
    if (reply instanceof SetReply) {
      this.ascii(`${this.protocol === 3 ? '~' : '*'}${reply.items.length}\r\n`)
      for (const item of reply.items) this.write(item)
      return
    }
    if (reply instanceof DoubleReply) {
      if (this.protocol === 3) return this.ascii(`,${formatResp3Double(reply.value)}\r\n`)
      return this.bulkString(reply.text ?? formatResp3Double(reply.value))
    }
    if (reply instanceof BooleanReply) {
      if (this.protocol === 3) return this.ascii(reply.value ? '#t\r\n' : '#f\r\n')
      return this.raw(SMALL_INTS[reply.value ? 1 : 0]!)
    }
    if (reply instanceof VerbatimReply) {
      if (this.protocol === 2) return this.bulkString(reply.text)
      const body = Buffer.from(`${reply.format}:${reply.text}`)
      this.ascii(`=${body.length}\r\n`)
      this.raw(body)
      return this.raw(CRLF)
    }
    if (reply instanceof NullArray) return this.raw(this.protocol === 3 ? NULL3 : NULL_ARRAY2)
    if (reply instanceof PushReply) {
      this.ascii(`${this.protocol === 3 ? '>' : '*'}${reply.items.length}\r\n`)
      for (const item of reply.items) this.write(item)
      return
    }
    if (reply instanceof MultiReply) {
      for (const r of reply.replies) this.write(r)
      return
    }
    throw new TypeError(`not a reply: ${String(reply)}`)
  }

  private bulkString(s: string): void {
    // One UTF-8 byte per char for ASCII; measure only when it may differ.
    const len = Buffer.byteLength(s)
    this.header(36, len)
    this.room(len + 2)
    this.pos += this.slab.write(s, this.pos, 'utf8')
    this.slab[this.pos++] = 13
    this.slab[this.pos++] = 10
  }

  private bulk(b: Uint8Array): void {
    this.header(36, b.length)
    if (b.length >= DIRECT_BYTES) {
      this.seal()
      this.chunks.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length))
      this.chunkBytes += b.length
      this.raw(CRLF)
      return
    }
    this.room(b.length + 2)
    this.copy(b)
    this.slab[this.pos++] = 13
    this.slab[this.pos++] = 10
  }

  private raw(b: Uint8Array): void {
    this.room(b.length)
    this.copy(b)
  }

  /** b into the slab at pos (room made): a loop for the short ones, cheaper than a native set(). */
  private copy(b: Uint8Array): void {
    const n = b.length
    if (n > SHORT_COPY) {
      this.slab.set(b, this.pos)
      this.pos += n
      return
    }
    const slab = this.slab
    let p = this.pos
    for (let i = 0; i < n; i++) slab[p++] = b[i]!
    this.pos = p
  }

  /** `<prefix><n>\r\n` for a length or count n ≥ 0, written as bytes (no string made). */
  private header(prefix: number, n: number): void {
    this.room(MAX_HEADER)
    const slab = this.slab
    let p = this.pos
    slab[p++] = prefix
    if (n < 10) slab[p++] = 48 + n
    else {
      let digits = 2
      for (let x = n; x >= 100; x = Math.floor(x / 10)) digits++
      let x = n
      for (let i = p + digits - 1; i >= p; i--) {
        slab[i] = 48 + (x % 10)
        x = Math.floor(x / 10)
      }
      p += digits
    }
    slab[p++] = 13
    slab[p++] = 10
    this.pos = p
  }

  /** A string known to be ASCII (headers, numbers). */
  private ascii(s: string): void {
    this.room(s.length)
    this.pos += this.slab.write(s, this.pos, 'latin1')
  }

  private text(s: string): void {
    this.room(Buffer.byteLength(s))
    this.pos += this.slab.write(s, this.pos, 'utf8')
  }

  /** Makes room for n more bytes in the slab (a new slab when it is full; big writes get their own). */
  private room(n: number): void {
    if (this.pos + n <= this.slab.length) return
    this.seal()
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n))
    this.start = 0
    this.pos = 0
  }

  /** Moves slab[start..pos) to the chunk list; that region is never written again. */
  private seal(): void {
    if (this.pos === this.start) return
    this.chunks.push(this.slab.subarray(this.start, this.pos))
    this.chunkBytes += this.pos - this.start
    this.start = this.pos
  }
}

/** RESP3's double text: `inf`, `-inf`, `nan`, else the shortest round-trip form. */
function formatResp3Double(n: number): string {
  if (Number.isNaN(n)) return 'nan'
  if (n === Infinity) return 'inf'
  if (n === -Infinity) return '-inf'
  return String(n)
}
