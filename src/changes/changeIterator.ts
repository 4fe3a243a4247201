// The reading behind a change stream: catch-up from the log, then live, in seq order with no gap
// and no duplicate at the hand-over; and a stop that takes effect at once.
//
// Hand-over: the live feed is subscribed before catching up, into a bounded queue. Catch-up
// reads the log until it has nothing more; from then on the queue is drained as long as it
// continues exactly at the next seq. A gap (the queue overflowed, or events were applied but not
// yet written when catch-up ended) sends the stream back to the log, which by then holds them.
//
// Stopping: an async generator's return() waits behind a pending next(), which may wait for an
// event that never comes (a filter nothing matches). So the iterator handed out is ours: its
// return() releases the feed subscription and the stream count synchronously and wakes the
// generator, which then ends by itself.
import type { Subject, Subscription } from 'rxjs'
import { HistoryGoneError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { WriteRequest } from '../pipeline/writeRequest.js'
import { parseSegmentName } from '../wal/format.js'
import { FollowWriter, LogReader } from '../wal/logReader.js'
import type { ChangeFeed } from './changeFeed.js'
import type { ChangeSource, ChangesOptions, LogHold } from './changeStream.js'

/**
 * What one event yields to the consumer: its changes for a change stream, the event itself for
 * an event stream. `undo` is what a live event replaced (for `prev`), undefined when read from the log.
 */
export type Project<T> = (ev: WalEvent, undo: unknown) => readonly T[]

const READ_BATCH = 512
/** Live events buffered for a consumer that is busy; past this, it goes back to reading the log. */
const LIVE_QUEUE_MAX = 8192

/** What one iteration holds on the feed, released once: by its end, or at once by return(). */
class LiveRegistration {
  readonly queue: WriteRequest[] = []
  overflowed = false
  ended = false
  stopped = false
  private wake: (() => void) | undefined
  private sub: Subscription | undefined
  private progress: Subscription | undefined
  private registered = false

  constructor(
    private readonly feed: ChangeFeed,
    private readonly subject: Subject<WriteRequest>,
    /** Reads the log only: takes no live event, so no write is held for it (and none keeps `prev`). */
    private readonly fromLog: boolean,
  ) {}

  /** Counts the stream (so writes keep `prev`) and listens for durability progress. */
  register(live: boolean): void {
    if (this.registered || this.stopped) return
    this.registered = true
    if (!this.fromLog) this.feed.streams++
    // Completes at close: a fromLog stream has no live subscription to learn it from.
    this.progress = this.feed.durableProgress$.subscribe({
      next: () => this.wakeUp(),
      complete: () => {
        this.ended = true
        this.wakeUp()
      },
    })
    if (live && !this.fromLog) this.subscribe()
    // Progress ticks at each sync only, and not at all where the feed is durable on publish
    // (read-only): applied events (durableOnly false) and those of such a feed wake a fromLog
    // stream, which keeps none of them. Not durable$ of a writer: the feed would keep its writes.
    else if (live && (this.feed.immediate || this.subject === this.feed.applied$)) this.sub = this.subject.subscribe(() => this.wakeUp())
  }

  /** (Re)subscribes the live queue, empty. */
  subscribe(): void {
    this.sub?.unsubscribe()
    this.queue.length = 0
    this.overflowed = false
    this.sub = this.subject.subscribe({
      next: (req) => {
        if (this.overflowed) return
        if (this.queue.length >= LIVE_QUEUE_MAX) {
          this.overflowed = true
          this.queue.length = 0
        } else {
          this.queue.push(req)
        }
        this.wakeUp()
      },
      complete: () => {
        this.ended = true
        this.wakeUp()
      },
    })
  }

  /** Resolves at the next live event, durability tick, end of the feed, or stop. */
  waitForNews(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve))
  }

  release(): void {
    if (!this.registered) return
    this.registered = false
    if (!this.fromLog) this.feed.streams--
    this.sub?.unsubscribe()
    this.progress?.unsubscribe()
    this.sub = undefined
    this.progress = undefined
    this.queue.length = 0
  }

  stop(): void {
    this.stopped = true
    this.release()
    this.wakeUp()
  }

  private wakeUp(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }
}

/** How one iteration reads, beyond the stream's options. */
export interface IterationOptions {
  /** The stream's hold on the log (change streams), released once caught up or ended. */
  hold?: LogHold
  /** Every event from the log, none from the write path (events({ fromLog })). */
  fromLog?: boolean
  /** The stream object, kept reachable by the iterator (see ChangeIterator.stream). */
  stream?: object
}

/** The iterator of one iteration of a change stream (or an event stream: see Project). */
export class ChangeIterator<T> implements AsyncIterator<T> {
  private readonly reg: LiveRegistration
  private readonly gen: AsyncGenerator<T, void>

  private readonly hold: LogHold | undefined
  /**
   * The stream this iterates, kept reachable while the iterator is: its hold on the log is
   * released when the stream is collected, and `for await` keeps only the iterator.
   */
  readonly stream: object | undefined

  constructor(source: ChangeSource, opts: ChangesOptions, since: number, project: Project<T>, how: IterationOptions = {}) {
    const durableOnly = opts.durableOnly ?? true
    this.hold = how.hold
    this.stream = how.stream
    this.reg = new LiveRegistration(source.feed, durableOnly ? source.feed.durable$ : source.feed.applied$, how.fromLog === true)
    this.gen = read<T>(source, opts, since, durableOnly, this.reg, project, how.hold)
  }

  next(): Promise<IteratorResult<T>> {
    if (this.reg.stopped) return Promise.resolve({ done: true, value: undefined })
    return this.gen.next()
  }

  /** Stops now, even while a next() waits: releases the feed at once; a pending next() ends with done. */
  return(): Promise<IteratorResult<T>> {
    this.hold?.release()
    this.reg.stop()
    // Ends a generator that is parked at a yield (runs its finally); queued behind a pending next() otherwise.
    this.gen.return(undefined).catch(() => undefined)
    return Promise.resolve({ done: true, value: undefined })
  }
}

async function* read<T>(
  source: ChangeSource,
  opts: ChangesOptions,
  since: number,
  durableOnly: boolean,
  reg: LiveRegistration,
  project: Project<T>,
  hold: LogHold | undefined,
): AsyncGenerator<T, void> {
  const live = opts.live ?? true
  const feed = source.feed
  let last = since
  reg.register(live)
  try {
    // The log is read as a writer still appending it: an unfinished last record is waited for.
    const follow = new FollowWriter(source.dir)
    const cursor = source.files === undefined ? undefined : new LogReader(source.files, source.dir, { fromSeq: last + 1, reporter: follow, exactStart: true })
    let progressMark = -1
    for (;;) {
      // A round that moved nothing (the log does not hold yet what the feed announced): breathe.
      if (last === progressMark) {
        await new Promise((r) => setTimeout(r, 5))
        if (reg.stopped) return
      }
      progressMark = last
      // Catch up from the log, a batch at a time, letting the event loop run between batches.
      if (cursor !== undefined) {
        cursor.seek(last + 1)
        for (;;) {
          const limit = durableOnly ? feed.durableSeq : Infinity
          follow.writtenSeq = feed.durableSeq
          const batch = await cursor.take(READ_BATCH, limit)
          if (reg.stopped) return
          if (batch.length === 0) break
          for (const ev of batch) {
            for (const ch of project(ev, undefined)) yield ch
            last = ev.seq
            // Resumed: the consumer has what was yielded; only the rest of the log is needed.
            if (hold !== undefined) hold.next = last + 1
          }
          await new Promise((r) => setImmediate(r))
          if (reg.stopped) return
        }
        if (cursor.segment < 0 && last < feed.durableSeq) assertLogHolds(source, last + 1, feed.durableSeq)
      }
      if (!live) {
        if (last < (durableOnly ? feed.durableSeq : source.seq()) && cursor !== undefined && !durableOnly) {
          await source.flush()
          if (reg.stopped) return
          continue
        }
        if (cursor === undefined && last < source.seq()) throw new HistoryGoneError(last + 1, source.seq() + 1)
        return
      }
      // Caught up with the log: from here on the live feed serves (a stream that falls behind
      // later reads the log again, as far as it is retained).
      hold?.release()
      // Live: drain the queue while it continues exactly where we are.
      const queue = reg.queue
      for (;;) {
        while (queue.length > 0 && queue[0]!.seq <= last) queue.shift()
        if (reg.overflowed) break
        if (queue.length > 0) {
          if (queue[0]!.seq !== last + 1) break
          const req = queue.shift()!
          for (const ch of project(req, req.undo)) yield ch
          last = req.seq
          continue
        }
        if (feed.failure !== undefined && !reg.stopped) throw feed.failure
        if (reg.ended || reg.stopped || !source.isOpen()) return
        // Is there a gap the live queue will never fill? Everything up to `head` has been published.
        const head = durableOnly ? feed.durableSeq : source.seq()
        if (head > last) break
        await reg.waitForNews()
      }
      if (cursor === undefined) throw new HistoryGoneError(last + 1, queue[0]?.seq ?? source.seq() + 1)
      if (reg.overflowed) {
        reg.subscribe()
      } else if (!durableOnly) {
        // The missing events were applied but may not be written yet.
        await source.flush()
        if (reg.stopped) return
      }
    }
  } catch (err) {
    // A consumer that has stopped asked for nothing more, errors included.
    if (!reg.stopped) throw err
  } finally {
    hold?.release()
    reg.release()
  }
}

/**
 * The catch-up found no segment to read `seq` from, though seqs up to `durable` are durable. The
 * reader's exact start says when the log starts after `seq`, but a log with no segment at all
 * (`islab compact --keep 1`, `islab replay --out`: one checkpoint) has nothing to say it with:
 * everything durable is then in the checkpoint — a writer's next segment starts after it, and
 * segments of durable seqs are never created later — and the oldest seq the log can hold is the
 * one after. `durable` is read before the directory is listed, so a segment created meanwhile
 * makes the next round's reader decide.
 */
function assertLogHolds(source: ChangeSource, seq: number, durable: number): void {
  for (const name of source.files!.list(source.dir)) if (parseSegmentName(name) !== undefined) return
  throw new HistoryGoneError(seq, durable + 1)
}
