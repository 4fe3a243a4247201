// Splits the bytes a client sends into commands: RESP multibulk requests (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
// and inline ones (`PING\r\n`, what telnet and redis-benchmark's inline mode send). Streaming: a
// command may be cut at any byte, and a chunk may hold many commands (a pipeline).
//
// The parser is incremental. A multibulk request keeps the arguments it has read so far, so a
// request with a million arguments or a 512 MB value arriving in thousands of chunks is read in
// linear time: while a bulk body is incomplete the chunks are only collected, and joined once
// when enough bytes are there. Arguments are views into the received chunks (no copy); Node
// never reuses a chunk it handed to 'data', so a view stays valid as long as it is referenced.

/** Redis's limits, as its defaults (proto-max-bulk-len, PROTO_INLINE_MAX_SIZE, the multibulk cap). */
export interface ParserLimits {
  /** Largest bulk string (argument) in bytes. Redis: proto-max-bulk-len, 512 MB. */
  maxBulkBytes: number
  /** Longest inline command, and longest `*<n>`/`$<n>` header line. Redis: 64 KiB. */
  maxInlineBytes: number
  /** Most arguments in one multibulk request. Redis: 1024*1024... (INT_MAX); we default lower. */
  maxArgs: number
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxBulkBytes: 512 * 1024 * 1024,
  maxInlineBytes: 64 * 1024,
  maxArgs: 1024 * 1024,
}

/** A malformed request. The connection replies `-ERR Protocol error: <message>` and closes. */
export class ProtocolError extends Error {}

const CR = 13
const LF = 10
const STAR = 42
const DOLLAR = 36

/**
 * Before a client has authenticated, requests are kept small, as Redis does: an attacker without
 * the password cannot make the server buffer a large request.
 */
const UNAUTHENTICATED_MAX_ARGS = 10
const UNAUTHENTICATED_MAX_BULK = 16384

export class RequestParser {
  /** Unparsed bytes: `buf[pos..]` then the chunks in `more` (joined only when they are needed). */
  private buf: Buffer = Buffer.alloc(0)
  private pos = 0
  private more: Buffer[] = []
  private moreBytes = 0
  /** Bytes needed in buf[pos..]+more before parsing can make progress (0: try at once). */
  private need = 0
  /** The multibulk request being read: its arguments so far and how many are missing. */
  private args: Buffer[] | undefined
  private missing = 0
  /** Set by the connection: false until the client is authenticated when a password is required. */
  authenticated = true
  /**
   * Parsing stopped after one command because the client was not authenticated: the limits for
   * what follows depend on whether that command (AUTH) succeeds. The connection runs it, then
   * calls parseMore.
   */
  held = false

  constructor(private readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  /** The commands complete so far with `chunk` (each an array of arguments); throws ProtocolError. */
  push(chunk: Buffer): Buffer[][] {
    const out: Buffer[][] = []
    const err = this.parseInto(chunk, out)
    if (err !== undefined) throw err
    return out
  }

  /**
   * Appends the complete commands in what was received so far (with `chunk`) to `out`. Returns a
   * ProtocolError when a request is malformed: the commands before it are in `out`, to be run
   * and answered before the error is, as Redis does.
   */
  parseInto(chunk: Buffer, out: Buffer[][]): ProtocolError | undefined {
    if (this.pos >= this.buf.length && this.more.length === 0) {
      this.buf = chunk
      this.pos = 0
    } else {
      this.more.push(chunk)
      this.moreBytes += chunk.length
    }
    if (this.need > 0 && this.buf.length - this.pos + this.moreBytes < this.need) return undefined
    if (this.more.length > 0) this.join()
    this.need = 0
    return this.parseMore(out)
  }

  /** Parses on after a held stop (see held), with the limits `authenticated` now says. */
  parseMore(out: Buffer[][]): ProtocolError | undefined {
    this.held = false
    try {
      this.parse(out)
    } catch (err) {
      if (err instanceof ProtocolError) return err
      throw err
    }
    return undefined
  }

  /** Bytes received and not yet parsed into a whole command (for CLIENT LIST's qbuf). */
  get buffered(): number {
    return this.buf.length - this.pos + this.moreBytes
  }

  private join(): void {
    const rest = this.buf.subarray(this.pos)
    this.buf = Buffer.concat([rest, ...this.more], rest.length + this.moreBytes)
    this.pos = 0
    this.more = []
    this.moreBytes = 0
  }

  private parse(out: Buffer[][]): void {
    const buf = this.buf
    const end = buf.length
    for (;;) {
      if (this.args !== undefined) {
        if (!this.readBulks(buf)) return
        out.push(this.args)
        this.args = undefined
        if (!this.authenticated) return this.hold()
        continue
      }
      if (this.pos >= end) return
      if (buf[this.pos] === STAR) {
        const eol = this.lineEnd(buf, this.pos, 'too big mbulk count string')
        if (eol < 0) return
        const n = parseLength(buf, this.pos + 1, eol)
        const maxArgs = this.authenticated ? this.limits.maxArgs : UNAUTHENTICATED_MAX_ARGS
        if (n === undefined || n > this.limits.maxArgs) throw new ProtocolError('invalid multibulk length')
        if (n > maxArgs) throw new ProtocolError('unauthenticated multibulk length')
        this.pos = eol + 2
        // `*0` and `*-1` are no command at all; Redis skips them.
        if (n <= 0) continue
        this.args = []
        this.missing = n
      } else {
        const line = this.inline(buf)
        if (line === undefined) return
        if (line.length > 0) {
          out.push(line)
          if (!this.authenticated) return this.hold()
        }
      }
    }
  }

  private hold(): void {
    this.held = this.pos < this.buf.length
  }

  /** Reads the missing `$<len>\r\n<bytes>\r\n` arguments; false when more bytes are needed. */
  private readBulks(buf: Buffer): boolean {
    const args = this.args!
    const maxBulk = this.authenticated ? this.limits.maxBulkBytes : UNAUTHENTICATED_MAX_BULK
    while (this.missing > 0) {
      if (this.pos >= buf.length) return false
      if (buf[this.pos] !== DOLLAR) throw new ProtocolError(`expected '$', got '${String.fromCharCode(buf[this.pos]!)}'`)
      const eol = this.lineEnd(buf, this.pos, 'too big bulk count string')
      if (eol < 0) return false
      const len = parseLength(buf, this.pos + 1, eol)
      if (len === undefined || len < 0 || len > this.limits.maxBulkBytes) throw new ProtocolError('invalid bulk length')
      if (len > maxBulk) throw new ProtocolError('unauthenticated bulk length')
      const start = eol + 2
      if (buf.length < start + len + 2) {
        // Collect chunks until the whole body is there, then join once (see parseInto).
        this.need = start + len + 2 - this.pos
        return false
      }
      if (buf[start + len] !== CR || buf[start + len + 1] !== LF) throw new ProtocolError('expected CRLF after bulk data')
      args.push(buf.subarray(start, start + len))
      this.pos = start + len + 2
      this.missing--
    }
    return true
  }

  /** Index of the CR of a `\r\n` ending the line at `from`; -1 when not received yet. */
  private lineEnd(buf: Buffer, from: number, tooBig: string): number {
    const lf = buf.indexOf(LF, from)
    if (lf < 0) {
      if (buf.length - from > this.limits.maxInlineBytes) throw new ProtocolError(tooBig)
      return -1
    }
    if (lf === from || buf[lf - 1] !== CR) throw new ProtocolError(tooBig === 'too big mbulk count string' ? 'invalid multibulk length' : 'invalid bulk length')
    return lf - 1
  }

  /** An inline command: words separated by spaces, with Redis's quoting rules. */
  private inline(buf: Buffer): Buffer[] | undefined {
    const lf = buf.indexOf(LF, this.pos)
    if (lf < 0) {
      if (buf.length - this.pos > this.limits.maxInlineBytes) throw new ProtocolError('too big inline request')
      return undefined
    }
    if (lf - this.pos > this.limits.maxInlineBytes) throw new ProtocolError('too big inline request')
    const lineEnd = lf > this.pos && buf[lf - 1] === CR ? lf - 1 : lf
    const words = splitArgs(buf, this.pos, lineEnd)
    this.pos = lf + 1
    if (words === undefined) throw new ProtocolError('unbalanced quotes in request')
    return words
  }
}

/**
 * A `*<n>`/`$<n>` length as Redis's string2ll reads it: an optional '-' and at most 18 digits, no
 * leading zero (`*01`, `$03`, `-0` are protocol errors, `0` alone is not); undefined when not that.
 */
function parseLength(buf: Buffer, from: number, to: number): number | undefined {
  let i = from
  let neg = false
  if (i < to && buf[i] === 45) {
    neg = true
    i++
  }
  if (i >= to || to - i > 18) return undefined
  if (buf[i] === 48 && (neg || to - i > 1)) return undefined
  let n = 0
  for (; i < to; i++) {
    const c = buf[i]! - 48
    if (c < 0 || c > 9) return undefined
    n = n * 10 + c
  }
  return neg ? -n : n
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/**
 * Redis's sdssplitargs: words split on spaces; "double quotes" with \n \r \t \b \a \\ \" and \xHH
 * escapes; 'single quotes' with only \' ; a closing quote must be followed by a space or the end.
 * Undefined for unbalanced quotes.
 */
export function splitArgs(buf: Buffer, from: number, to: number): Buffer[] | undefined {
  const words: Buffer[] = []
  let i = from
  for (;;) {
    while (i < to && isSpace(buf[i]!)) i++
    if (i >= to) return words
    const bytes: number[] = []
    let inDq = false
    let inSq = false
    const plainStart = i
    let plain = true
    for (;;) {
      if (i >= to) {
        if (inDq || inSq) return undefined
        break
      }
      const c = buf[i]!
      if (inDq) {
        if (c === 92 && i + 3 < to && buf[i + 1] === 120 && hexValue(buf[i + 2]!) >= 0 && hexValue(buf[i + 3]!) >= 0) {
          bytes.push(hexValue(buf[i + 2]!) * 16 + hexValue(buf[i + 3]!))
          i += 4
          continue
        }
        if (c === 92 && i + 1 < to) {
          const e = buf[i + 1]!
          bytes.push(e === 110 ? 10 : e === 114 ? 13 : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e)
          i += 2
          continue
        }
        if (c === 34) {
          // A closing quote must be followed by a space or nothing.
          if (i + 1 < to && !isSpace(buf[i + 1]!)) return undefined
          i++
          break
        }
        bytes.push(c)
        i++
      } else if (inSq) {
        if (c === 92 && i + 1 < to && buf[i + 1] === 39) {
          bytes.push(39)
          i += 2
          continue
        }
        if (c === 39) {
          if (i + 1 < to && !isSpace(buf[i + 1]!)) return undefined
          i++
          break
        }
        bytes.push(c)
        i++
      } else {
        if (isSpace(c)) break
        if (c === 34 || c === 39) {
          if (plain) {
            for (let j = plainStart; j < i; j++) bytes.push(buf[j]!)
            plain = false
          }
          if (c === 34) inDq = true
          else inSq = true
          i++
          continue
        }
        if (!plain) bytes.push(c)
        i++
      }
    }
    words.push(plain ? buf.subarray(plainStart, i) : Buffer.from(bytes))
  }
}
