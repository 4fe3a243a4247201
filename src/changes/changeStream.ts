// A subscription to changes from a seq on: catch-up from the log, then live (see changeIterator.ts
// for the hand-over). It is an RxJS Observable, an async iterable, and can become an object-mode
// Readable; all three pull from the same kind of iterator, so a slow consumer slows the reading of
// the log instead of making memory grow. Where it starts is fixed when db.changes() is called.
import { Readable } from 'node:stream'
import { Observable } from 'rxjs'
import { InvalidOptionError } from '../errors.js'
import type { FileLayer } from '../io/fileLayer.js'
import type { ChangeFeed } from './changeFeed.js'
import { ChangeIterator } from './changeIterator.js'
import { changesOf, keyFilter } from './changeOf.js'

export interface Change<V = unknown> {
  seq: number
  /** Milliseconds since the epoch when the write was sequenced. */
  time: number
  type: 'put' | 'del'
  key: string
  /** The new value (puts only). */
  value?: V
  /** The value before this change, when known: live changes of writes made while someone watched. */
  prev?: V
  /** Puts with a deadline: when the new version expires (ms since the epoch). */
  expiresAt?: number
  /** Deletes: true when the database wrote it because the key's deadline passed (an expiry). */
  expired?: true
}

export interface ChangesOptions {
  /**
   * Deliver changes with seq > since. Default: db.seq when changes() is called (only changes
   * made from then on, however late iteration starts). Past db.seq: the stream fails with
   * ISLAB_INVALID_OPTION.
   */
  since?: number
  /** Only keys starting with this. */
  prefix?: string
  /** Only these keys. */
  keys?: Iterable<string>
  /** false: end once caught up. Default true. */
  live?: boolean
  /**
   * Only deliver changes already on disk and fdatasynced, so none is ever undone by a crash.
   * Default true (in memory mode every change counts as durable).
   */
  durableOnly?: boolean
}

/** What a stream needs from the database. */
export interface ChangeSource {
  files: FileLayer | undefined
  dir: string
  feed: ChangeFeed
  /** Last seq assigned. */
  seq(): number
  /** Writes everything pending to the log (needed to close a gap in non-durable streams). */
  flush(): Promise<void>
  isOpen(): boolean
  /** Keeps checkpoints from pruning the log from `from()` on until the returned function is called. */
  holdLog?(from: () => number): () => void
}

/**
 * The log a stream object still needs from its call on: kept until an iteration has caught up
 * with it (or ended), or the object is dropped unused. `next` follows the catch-up.
 */
export class LogHold {
  next: number
  private releaseFn: (() => void) | undefined
  constructor(from: number, holdLog: (from: () => number) => () => void) {
    this.next = from
    this.releaseFn = holdLog(() => this.next)
  }
  release(): void {
    const r = this.releaseFn
    this.releaseFn = undefined
    r?.()
  }
}

/** A stream object dropped without being iterated lets the log go. */
const DROPPED = new FinalizationRegistry<LogHold>((hold) => hold.release())

export class ChangeStream<V = unknown> extends Observable<Change<V>> implements AsyncIterable<Change<V>> {
  /** Changes with seq > this are delivered: `since`, or the seq when db.changes() was called. */
  readonly since: number
  private readonly invalid: InvalidOptionError | undefined
  private readonly hold: LogHold | undefined

  constructor(
    private readonly changeSource: ChangeSource,
    private readonly opts: ChangesOptions,
  ) {
    super((subscriber) => {
      const it = this[Symbol.asyncIterator]()
      let stopped = false
      void (async () => {
        try {
          for (;;) {
            const r = await it.next()
            if (stopped) return
            if (r.done) return subscriber.complete()
            subscriber.next(r.value)
          }
        } catch (err) {
          if (!stopped) subscriber.error(err)
        }
      })()
      return () => {
        stopped = true
        void it.return?.()
      }
    })
    const seq = changeSource.seq()
    this.since = opts.since ?? seq
    // Changes past the current seq do not exist yet: waiting for them would hide a mistake (a
    // seq from another database, or from before a restore).
    this.invalid = this.since > seq ? new InvalidOptionError(`since is ${this.since} but the current seq is ${seq}; pass a seq up to ${seq}, or leave since out to get changes from now on`) : undefined
    // "Without since, a stream starts at db.seq as of the call, however late iteration starts":
    // a checkpoint in between must not prune what the stream will read.
    if (this.invalid === undefined && changeSource.files !== undefined && changeSource.holdLog !== undefined) {
      this.hold = new LogHold(this.since + 1, changeSource.holdLog)
      // The hold, not the stream, is what the registry keeps: the stream can still be collected.
      DROPPED.register(this, this.hold)
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Change<V>> {
    const invalid = this.invalid
    if (invalid !== undefined) return { next: () => Promise.reject(invalid), return: () => Promise.resolve({ done: true, value: undefined }) }
    const pass = keyFilter(this.opts)
    return new ChangeIterator<Change<V>>(this.changeSource, this.opts, this.since, (ev, undo) => changesOf<V>(ev, undo, pass), { hold: this.hold, stream: this })
  }

  /** An object-mode Readable that reads the log only as fast as it is consumed; destroy() stops the stream at once. */
  toReadable(options: { highWaterMark?: number } = {}): Readable {
    return Readable.from(this, { objectMode: true, highWaterMark: options.highWaterMark ?? 64 })
  }
}
