// What a command answers, independent of the protocol version: the reply writer encodes it as
// RESP2 or RESP3. Plain JS values cover the common cases without an allocation (a Buffer or
// string is a bulk string, a number an integer, null a null bulk, an array an array); the
// classes below are the types that have no plain JS form or differ between RESP2 and RESP3.

export type Reply =
  | null
  | number
  | bigint
  | string
  | Uint8Array
  | Reply[]
  | SimpleString
  | ErrorReply
  | MapReply
  | SetReply
  | DoubleReply
  | BooleanReply
  | VerbatimReply
  | NullArray
  | PushReply
  | MultiReply

/** `+OK`: a short status with no CR/LF in it. */
export class SimpleString {
  readonly bytes: Buffer
  constructor(readonly text: string) {
    this.bytes = Buffer.from(`+${text}\r\n`)
  }
}

/**
 * `-ERR message`: the first word is the code clients branch on (ERR, WRONGTYPE, NOAUTH,
 * WRONGPASS, NOPROTO, EXECABORT). Newlines would end the reply early; they become spaces.
 */
export class ErrorReply {
  readonly line: string
  constructor(message: string) {
    this.line = message.replace(/[\r\n]+/g, ' ')
  }
}

/** RESP3 `%` map; RESP2 has none and gets a flat array of key, value, key, value. */
export class MapReply {
  constructor(readonly entries: [Reply, Reply][]) {}
}

/** RESP3 `~` set; RESP2 gets an array. */
export class SetReply {
  constructor(readonly items: Reply[]) {}
}

/** RESP3 `,` double; RESP2 gets it as a bulk string in Redis's format. */
export class DoubleReply {
  constructor(
    readonly value: number,
    /** The RESP2 text (Redis formats some doubles with extra digits); default: `format(value)`. */
    readonly text?: string,
  ) {}
}

/** RESP3 `#t`/`#f`; RESP2 gets 1 or 0. */
export class BooleanReply {
  private constructor(readonly value: boolean) {}
  static readonly TRUE = new BooleanReply(true)
  static readonly FALSE = new BooleanReply(false)
}

/** RESP3 `=` verbatim text (INFO, CLIENT LIST, CLIENT INFO); RESP2 gets a bulk string. */
export class VerbatimReply {
  constructor(
    readonly text: string,
    readonly format = 'txt',
  ) {}
}

/** RESP2 `*-1` (EXEC aborted by WATCH, a nil multi-bulk); RESP3 `_`. */
export class NullArray {
  private constructor() {}
  static readonly INSTANCE = new NullArray()
}

/** RESP3 `>` out-of-band push (pubsub messages, tracking invalidations); RESP2 gets an array. */
export class PushReply {
  constructor(readonly items: Reply[]) {}
}

/** Several top-level replies to one command, in order (SUBSCRIBE answers once per channel). */
export class MultiReply {
  constructor(readonly replies: Reply[]) {}
}

export const OK = new SimpleString('OK')
export const QUEUED = new SimpleString('QUEUED')
export const PONG = new SimpleString('PONG')
export const NIL_ARRAY = NullArray.INSTANCE

/** Redis's error texts, word for word: clients and tests match on them. */
export const Errors = {
  wrongType: new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'),
  notInteger: new ErrorReply('ERR value is not an integer or out of range'),
  notFloat: new ErrorReply('ERR value is not a valid float'),
  syntax: new ErrorReply('ERR syntax error'),
  overflow: new ErrorReply('ERR increment or decrement would overflow'),
  nanOrInfinity: new ErrorReply('ERR increment would produce NaN or Infinity'),
  noSuchKey: new ErrorReply('ERR no such key'),
  noAuth: new ErrorReply('NOAUTH Authentication required.'),
  wrongPass: new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.'),
  dbIndex: new ErrorReply('ERR DB index is out of range'),
  tooBig: new ErrorReply('ERR string exceeds maximum allowed size (proto-max-bulk-len)'),
  offset: new ErrorReply('ERR offset is out of range'),
  invalidCursor: new ErrorReply('ERR invalid cursor'),
  hashNotInteger: new ErrorReply('ERR hash value is not an integer'),
  hashNotFloat: new ErrorReply('ERR hash value is not a float'),
  notAllowedInMulti: new ErrorReply('ERR Command not allowed inside a transaction'),
  wrongArgs: (name: string) => new ErrorReply(`ERR wrong number of arguments for '${name}' command`),
  unknownSubcommand: (sub: string, command: string) =>
    new ErrorReply(`ERR unknown subcommand '${truncate(sub, 128)}'. Try ${command.toUpperCase()} HELP.`),
}

export function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s
}
