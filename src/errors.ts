// Typed errors: every failure a caller can branch on carries a stable `code`.
// Messages say what happened and what to do; `cause` keeps the underlying error.

export type IslabErrorCode =
  | 'ISLAB_CONFLICT'
  | 'ISLAB_CORRUPTION'
  | 'ISLAB_CLOSED'
  | 'ISLAB_LOCKED'
  | 'ISLAB_INVALID_KEY'
  | 'ISLAB_INVALID_BATCH'
  | 'ISLAB_INVALID_OPTION'
  | 'ISLAB_UNSERIALIZABLE'
  | 'ISLAB_WAL_FAILED'
  | 'ISLAB_HISTORY_GONE'

export class IslabError extends Error {
  readonly code: IslabErrorCode
  constructor(code: IslabErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An `ifSeq` precondition did not hold: someone else wrote the key first. */
export class ConflictError extends IslabError {
  readonly key: string
  readonly expectedSeq: number
  readonly actualSeq: number
  constructor(key: string, expectedSeq: number, actualSeq: number) {
    super(
      'ISLAB_CONFLICT',
      `Key ${JSON.stringify(truncate(key))} is at seq ${actualSeq}, not ${expectedSeq} as ifSeq required; ` +
        're-read it with getEntry() and retry with the current seq.',
    )
    this.key = key
    this.expectedSeq = expectedSeq
    this.actualSeq = actualSeq
  }
}

/** The log or a checkpoint is damaged somewhere other than an interrupted tail. */
export class CorruptionError extends IslabError {
  readonly file: string | undefined
  readonly offset: number | undefined
  constructor(message: string, details: { file?: string; offset?: number; cause?: unknown } = {}) {
    super('ISLAB_CORRUPTION', message, { cause: details.cause })
    this.file = details.file
    this.offset = details.offset
  }
}

export class ClosedError extends IslabError {
  constructor() {
    super('ISLAB_CLOSED', 'The database is closed; open() it again to read or write.')
  }
}

export class LockedError extends IslabError {
  readonly dir: string
  readonly holderPid: number | undefined
  constructor(dir: string, holderPid?: number) {
    super(
      'ISLAB_LOCKED',
      `Database directory ${dir} is open in ${holderPid === process.pid ? 'this process' : `process ${holderPid ?? '?'}`}; ` +
        'close that instance first, or read it without the lock with `islab` (read-only commands).',
    )
    this.dir = dir
    this.holderPid = holderPid
  }
}

export class InvalidKeyError extends IslabError {
  constructor(reason: string) {
    super('ISLAB_INVALID_KEY', `Invalid key: ${reason}. Keys are non-empty strings of at most 65535 UTF-8 bytes.`)
  }
}

export class InvalidBatchError extends IslabError {
  constructor(reason: string) {
    super(
      'ISLAB_INVALID_BATCH',
      `Invalid batch: ${reason}. A batch is a non-empty array of { type: 'put', key, value } or { type: 'del', key }.`,
    )
  }
}

export class InvalidOptionError extends IslabError {
  constructor(reason: string) {
    super('ISLAB_INVALID_OPTION', `Invalid option: ${reason}.`)
  }
}

export class UnserializableError extends IslabError {
  constructor(reason: string, cause?: unknown) {
    super(
      'ISLAB_UNSERIALIZABLE',
      `Value cannot be stored: ${reason}. Store plain data (objects, arrays, strings, numbers, bigints, booleans, ` +
        'null, Dates, Buffers/Uint8Arrays, Maps, Sets).',
      { cause },
    )
  }
}

/** The WAL could not be written (ENOSPC, EIO, ...); the database stops accepting writes. */
export class WalFailedError extends IslabError {
  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(
      'ISLAB_WAL_FAILED',
      `Writing the WAL failed (${detail}); writes not yet acknowledged were rejected and the database refuses ` +
        'further writes. Free disk space or fix the device, then close() and open() again: everything acknowledged ' +
        'before the failure is intact.',
      { cause },
    )
  }
}

export class HistoryGoneError extends IslabError {
  /** The oldest seq that can be answered (for time travel: the oldest from which on every seq of `key` can). */
  readonly oldestSeq: number
  readonly requestedSeq: number | undefined
  /** Time travel: the key asked about, and the time when the request was by time. */
  readonly key: string | undefined
  readonly time: number | undefined
  constructor(requestedSeq: number | undefined, oldestSeq: number, details: { key?: string; time?: number } = {}) {
    const retain = 'Open with history: { retainSegments } or { retainMs } to keep more log.'
    const at = details.time !== undefined ? `at ${new Date(details.time).toISOString()}` : `at seq ${requestedSeq}`
    super(
      'ISLAB_HISTORY_GONE',
      details.key === undefined
        ? `History from seq ${requestedSeq} is no longer retained; the oldest available seq is ${oldestSeq}. ${retain}`
        : `The value of key ${JSON.stringify(truncate(details.key))} ${at} is no longer known: the log before it was ` +
            `pruned and no checkpoint holds it. This key can be read as of seq ${oldestSeq} and later. ${retain}`,
    )
    this.oldestSeq = oldestSeq
    this.requestedSeq = requestedSeq
    this.key = details.key
    this.time = details.time
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
