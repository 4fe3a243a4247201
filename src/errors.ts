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
  | 'ISLAB_FAILED'
  | 'ISLAB_HISTORY_GONE'
  | 'ISLAB_NOT_WRITABLE'
  | 'ISLAB_NOT_FOUND'
  | 'ISLAB_EXISTS'
  | 'ISLAB_NOT_REPRESENTABLE'
  | 'ISLAB_READ_ONLY'
  | 'ISLAB_FENCED'
  | 'ISLAB_REPLICATION'

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
        'close that instance first, or read it without the lock: open({ dir, readOnly: true }) follows it from another process, and `islab`\'s read-only commands look into it.',
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

/**
 * What a failure of the write path did to writes: seqs `lostFromSeq..lostToSeq` (both undefined when
 * none) were sequenced but are not in the log; those among them whose promise resolved were
 * acknowledged (buffered mode) and are lost, those that rejected were never acknowledged.
 * `outcomeUnknown`: the log could not be cut back after a failed commit, so some writes of that
 * commit that were rejected may still be found on disk after a reopen.
 */
export interface FailureDetails {
  lostFromSeq?: number
  lostToSeq?: number
  outcomeUnknown?: boolean
}

function lossSentence(d: FailureDetails): string {
  let s = ''
  if (d.lostFromSeq !== undefined) {
    s +=
      ` Seqs ${d.lostFromSeq}..${d.lostToSeq} are not in the log: writes among them that were acknowledged ` +
      '(buffered mode) are lost, and the rest were rejected.'
  }
  if (d.outcomeUnknown === true) {
    s +=
      ' The log could not be cut back after the failed commit, so the outcome of its writes is unknown: ' +
      'though rejected, some of them may be present after a reopen; check them after open().'
  }
  return s
}

/** The WAL could not be written (ENOSPC, EIO, ...); the database stops accepting writes. */
export class WalFailedError extends IslabError {
  readonly lostFromSeq: number | undefined
  readonly lostToSeq: number | undefined
  readonly outcomeUnknown: boolean
  constructor(cause: unknown, details: FailureDetails = {}) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(
      'ISLAB_WAL_FAILED',
      `Writing the WAL failed (${detail}); writes not yet acknowledged were rejected and the database refuses ` +
        `further writes.${lossSentence(details)} Free disk space or fix the device, then close() and open() again: ` +
        `everything made durable before the failure is intact.`,
      { cause },
    )
    this.lostFromSeq = details.lostFromSeq
    this.lostToSeq = details.lostToSeq
    this.outcomeUnknown = details.outcomeUnknown === true
  }
}

/**
 * An unexpected exception inside the write pipeline (a bug, or a throwing change-stream consumer)
 * stopped the database. Writes not yet acknowledged were rejected; nothing more is written.
 */
export class DatabaseFailedError extends IslabError {
  lostFromSeq: number | undefined
  lostToSeq: number | undefined
  readonly outcomeUnknown = false
  constructor(
    cause: unknown,
    details: FailureDetails = {},
  ) {
    super('ISLAB_FAILED', DatabaseFailedError.describe(cause, details), { cause })
    this.lostFromSeq = details.lostFromSeq
    this.lostToSeq = details.lostToSeq
  }

  private static describe(cause: unknown, details: FailureDetails): string {
    const detail = cause instanceof Error ? cause.message : String(cause)
    return (
      `The write pipeline failed (${detail}); writes not yet acknowledged were rejected and the database refuses ` +
      `further writes.${lossSentence(details)} close() and open() again: everything made durable is intact. ` +
      "Please report this with the error's cause."
    )
  }

  /**
   * @internal A commit in flight when the pipeline failed has ended with everything up to
   * `durableSeq` on disk: those seqs are not lost after all.
   */
  narrowLoss(durableSeq: number): void {
    if (this.lostFromSeq === undefined || durableSeq < this.lostFromSeq) return
    if (durableSeq >= this.lostToSeq!) this.lostFromSeq = this.lostToSeq = undefined
    else this.lostFromSeq = durableSeq + 1
    this.message = DatabaseFailedError.describe(this.cause, this)
  }
}

/** Either way the write path can stop for good; both carry what was lost. */
export type WriteFailure = WalFailedError | DatabaseFailedError

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

/** The database directory cannot be created or written (EACCES, EPERM, EROFS). */
export class NotWritableError extends IslabError {
  readonly dir: string
  constructor(dir: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'an error'
    super(
      'ISLAB_NOT_WRITABLE',
      `Database directory ${dir} cannot be written (${code}); give this process write permission on it ` +
        '(and its parent, if it is to be created), mount it read-write, or open a different dir.',
      { cause },
    )
    this.dir = dir
  }
}

/** open({ createIfMissing: false }) (or a read-only open) found no database in the directory. */
export class NotFoundError extends IslabError {
  readonly dir: string
  constructor(dir: string, readOnly = false) {
    super(
      'ISLAB_NOT_FOUND',
      readOnly
        ? `The database ${dir} does not exist (no WAL segment, checkpoint or MANIFEST there), and a read-only open creates nothing; ` +
            'check the path, or open it once without readOnly to create it.'
        : `The database ${dir} does not exist (no WAL segment or checkpoint there) and createIfMissing is false; check the path, ` +
            'or open with createIfMissing: true to create it.',
    )
    this.dir = dir
  }
}

/** open({ errorIfExists: true }) found a database in the directory. */
export class ExistsError extends IslabError {
  readonly dir: string
  constructor(dir: string) {
    super(
      'ISLAB_EXISTS',
      `A database already exists in ${dir} and errorIfExists is true; open a different dir, or open without ` +
        'errorIfExists to use the existing one.',
    )
    this.dir = dir
  }
}

/**
 * A write (put, delete, batch, entangle, disentangle, checkpoint) on a database that only reads:
 * one opened with `readOnly: true` (or a replica). Nothing was sequenced or written.
 */
export class ReadOnlyError extends IslabError {
  constructor(
    operation: string,
    reason = 'it was opened with readOnly: true',
    todo = 'Make the change through the process that opened it for writing (or open it without readOnly when no other process has it open).',
  ) {
    super(
      'ISLAB_READ_ONLY',
      `Cannot ${operation}: the database is read-only (${reason}). ${todo}`,
    )
  }
}

/**
 * Replication: another primary wrote to the stream this one published to, so this one stopped
 * taking writes. The seqs it acknowledged locally but never got into the stream are
 * `unpublishedFromSeq..unpublishedToSeq` (undefined when there are none).
 */
export class FencedError extends IslabError {
  readonly stream: string
  readonly unpublishedFromSeq: number | undefined
  readonly unpublishedToSeq: number | undefined
  constructor(stream: string, reason: string, unpublished?: { fromSeq: number; toSeq: number }) {
    super(
      'ISLAB_FENCED',
      `Another primary took over stream ${JSON.stringify(stream)} (${reason}); this database no longer takes writes` +
        (unpublished === undefined
          ? '. '
          : `, and its writes ${unpublished.fromSeq}..${unpublished.toSeq} never reached the stream (acknowledged with ack 'local', rejected with ack 'replicated'; see them with islab dump while its log still holds them): re-apply them on the new primary if they matter. `) +
        'Close it and reopen it as a replica of the new primary (into a fresh directory when it has unreplicated writes).',
    )
    this.stream = stream
    this.unpublishedFromSeq = unpublished?.fromSeq
    this.unpublishedToSeq = unpublished?.toSeq
  }
}

/** Replication cannot go on by itself: the stream does not hold what this database needs, or disagrees with it. */
export class ReplicationError extends IslabError {
  readonly stream: string
  constructor(stream: string, message: string, options?: { cause?: unknown }) {
    super('ISLAB_REPLICATION', `Replication of stream ${JSON.stringify(stream)}: ${message}`, options)
    this.stream = stream
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

/** A stored value cannot be given in the form a face asks for without loss (islabdb/level: JSON text of a bigint, Map or Set). */
export class NotRepresentableError extends IslabError {
  readonly key: string
  constructor(key: string, reason: string) {
    super('ISLAB_NOT_REPRESENTABLE', `The value of ${JSON.stringify(truncate(key))} ${reason}; read it through the native API (db.get), or store JSON-compatible values.`)
    this.key = key
  }
}
