// A subscription to changes from a seq on: catch-up from the log, then live, in seq order with no
// gap and no duplicate at the hand-over. It is an RxJS Observable, an async iterable, and can
// become an object-mode Readable; all three pull from one async generator, so a slow consumer
// slows the reading of the log instead of making memory grow.
//
// Hand-over: the live feed is subscribed before catching up, into a bounded queue. Catch-up
// reads the log until it has nothing more; from then on the queue is drained as long as it
// continues exactly at the next seq. A gap (the queue overflowed, or events were applied but not
// yet written when catch-up ended) sends the stream back to the log, which by then holds them.
import { Readable } from 'node:stream'
import { Observable } from 'rxjs'
import type { Subject, Subscription } from 'rxjs'
import { HistoryGoneError } from '../errors.js'
import type { Op, WalEvent } from '../events/types.js'
import { decodeValue } from '../events/valueCodec.js'
import type { FileLayer } from '../io/fileLayer.js'
import type { WriteRequest } from '../pipeline/writeRequest.js'
import type { Entry } from '../state/entry.js'
import { LogCursor } from '../wal/logCursor.js'
import type { ChangeFeed } from './changeFeed.js'

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
}

export interface ChangesOptions {
  /** Deliver changes with seq > since. Default: the current seq (only new changes). */
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
}

const READ_BATCH = 512
/** Live events buffered for a consumer that is busy; past this, it goes back to reading the log. */
const LIVE_QUEUE_MAX = 8192

export class ChangeStream<V = unknown> extends Observable<Change<V>> implements AsyncIterable<Change<V>> {
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
        void it.return?.(undefined)
      }
    })
  }

  [Symbol.asyncIterator](): AsyncIterator<Change<V>> {
    return changes<V>(this.changeSource, this.opts)
  }

  /** An object-mode Readable that reads the log only as fast as it is consumed. */
  toReadable(options: { highWaterMark?: number } = {}): Readable {
    return Readable.from(this, { objectMode: true, highWaterMark: options.highWaterMark ?? 64 })
  }
}

async function* changes<V>(source: ChangeSource, opts: ChangesOptions): AsyncGenerator<Change<V>> {
  const since = opts.since ?? source.seq()
  const live = opts.live ?? true
  const durableOnly = opts.durableOnly ?? true
  const match = matcher(opts)
  const feed = source.feed
  let last = since
  const queue: WriteRequest[] = []
  let overflowed = false
  let wake: (() => void) | undefined
  let ended = false
  let sub: Subscription | undefined
  const progress = feed.durableProgress$.subscribe(() => wake?.())
  const subject: Subject<WriteRequest> = durableOnly ? feed.durable$ : feed.applied$
  const subscribe = (): void => {
    queue.length = 0
    overflowed = false
    sub = subject.subscribe({
      next: (req) => {
        if (overflowed) return
        if (queue.length >= LIVE_QUEUE_MAX) {
          overflowed = true
          queue.length = 0
        } else {
          queue.push(req)
        }
        wake?.()
      },
      complete: () => {
        ended = true
        wake?.()
      },
    })
  }
  feed.streams++
  try {
    if (live) subscribe()
    const cursor = source.files === undefined ? undefined : new LogCursor(source.files, source.dir, last + 1)
    let progressMark = -1
    for (;;) {
      // A round that moved nothing (the log does not hold yet what the feed announced): breathe.
      if (last === progressMark) await new Promise((r) => setTimeout(r, 5))
      progressMark = last
      // Catch up from the log.
      if (cursor !== undefined) {
        cursor.seek(last + 1)
        const limit = durableOnly ? feed.durableSeq : Infinity
        for (;;) {
          const batch = cursor.read(READ_BATCH, limit)
          if (batch.length === 0) break
          for (const ev of batch) {
            for (const ch of expand<V>(ev, undefined)) if (match(ch.key)) yield ch
            last = ev.seq
          }
        }
      }
      if (!live) {
        if (last < (durableOnly ? feed.durableSeq : source.seq()) && cursor !== undefined && !durableOnly) {
          await source.flush()
          continue
        }
        if (cursor === undefined && last < source.seq()) throw new HistoryGoneError(last + 1, source.seq() + 1)
        return
      }
      // Live: drain the queue while it continues exactly where we are.
      for (;;) {
        while (queue.length > 0 && queue[0]!.seq <= last) queue.shift()
        if (overflowed) break
        if (queue.length > 0) {
          if (queue[0]!.seq !== last + 1) break
          const req = queue.shift()!
          for (const ch of expand<V>(req as unknown as WalEvent, req.undo)) if (match(ch.key)) yield ch
          last = req.seq
          continue
        }
        if (ended || !source.isOpen()) return
        // Is there a gap the live queue will never fill? Everything up to `head` has been published.
        const head = durableOnly ? feed.durableSeq : source.seq()
        if (head > last) break
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
      if (cursor === undefined) throw new HistoryGoneError(last + 1, queue[0]?.seq ?? source.seq() + 1)
      if (overflowed) {
        sub?.unsubscribe()
        subscribe()
      } else if (!durableOnly) {
        // The missing events were applied but may not be written yet.
        await source.flush()
      }
    }
  } finally {
    feed.streams--
    sub?.unsubscribe()
    progress.unsubscribe()
  }
}

function matcher(opts: ChangesOptions): (key: string) => boolean {
  const prefix = opts.prefix
  const keys = opts.keys === undefined ? undefined : new Set(opts.keys)
  if (prefix === undefined && keys === undefined) return () => true
  return (key) => (prefix === undefined || key.startsWith(prefix)) && (keys === undefined || keys.has(key))
}

/** A batch arrives as its member changes, in order, all with the batch's seq. Entangle events change no value: none. */
function expand<V>(ev: WalEvent, undo: unknown): Change<V>[] {
  if (ev.type === 'entangle') return []
  if (ev.type !== 'batch') return [change<V>(ev.seq, ev.time, ev, undo as Entry | undefined)]
  const prev = undo as (Entry | undefined)[] | undefined
  return ev.ops.map((op, i) => change<V>(ev.seq, ev.time, op, prev?.[i]))
}

function change<V>(seq: number, time: number, op: Op, prev: Entry | undefined): Change<V> {
  const ch: Change<V> = { seq, time, type: op.type, key: op.key }
  if (op.type === 'put') ch.value = decodeValue(op.value) as V
  if (prev !== undefined) ch.prev = decodeValue(prev.bytes) as V
  return ch
}
