// Keeps a read-only database current with the log a writer in another process appends: the one
// LogReader, positioned after what recovery applied, reads every record written since the last
// look (in the segment being written and in new segments, as a change stream's catch-up and
// `islab tail -f` do) and hands each to the database in seq order. It looks when fs.watch says
// the directory changed, and at least every `intervalMs` (fs.watch misses changes on some file
// systems), or only when asked (refresh()).
//
// What counts as written (the reader's Reporter): a record that is whole and passes its checksum.
// An unfinished record or header at the end of the newest segment — the writer in the middle of a
// write, or a torn tail a crashed writer left and its next open will cut — is not there yet: the
// reader keeps its place and looks again. Each record is one whole event (a batch included), so
// nothing is ever applied in part. Damage anywhere else stops following with ISLAB_CORRUPTION.
//
// A writer prunes segments after its checkpoints. A follower that fell behind them (the reader
// finds its next seq gone: HistoryGoneError) rebuilds its state from the newest checkpoint and
// the log after it (the target's reload) and goes on from there.
import fs from 'node:fs'
import { CorruptionError, HistoryGoneError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { LogReader, corruptionError } from '../wal/logReader.js'
import type { Reporter } from '../wal/logReader.js'

export interface FollowTarget {
  /** Applies the next event; `segment`/`offset` say where its record is. */
  apply(ev: WalEvent, segment: number, offset: number): void
  /** The log no longer holds the next seq: rebuild from the newest checkpoint and the log; resolves with the seq applied then. */
  reload(): Promise<number>
  /** Following stopped for good with `err` (damage, or the log cut back under what was applied). */
  fail(err: Error): void
}

export interface FollowOptions {
  /** Look at least this often; false: only when refresh() is called (no watch either). */
  intervalMs: number | false
  /** Also look when fs.watch reports a change in the directory (the real file system only). */
  watch: boolean
}

/** Reloads in a row (the writer pruning past each fresh reload) before following gives up. */
const MAX_RELOADS = 5
/** A segment deleted under the reader is looked for again this many times in one pass. */
const MAX_VANISHED = 5
/** Events applied between checks for stop() (a catch-up of millions of events stops within one batch). */
const BATCH = 8192

export class LogFollower {
  /** Why following stopped for good; undefined while it runs. */
  failure: Error | undefined
  /** How many times the state was rebuilt because the log no longer held the next seq. */
  reloads = 0
  private reader: LogReader
  private readonly reporter: Reporter
  private current: Promise<void> | undefined
  private queued: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private watcher: fs.FSWatcher | undefined
  private stopped = false
  private readonly visit = (ev: WalEvent, offset: number): void => this.target.apply(ev, this.reader.segment, offset)

  constructor(
    private readonly files: FileLayer,
    private readonly dir: string,
    appliedSeq: number,
    private readonly target: FollowTarget,
    private readonly opts: FollowOptions,
  ) {
    this.reporter = {
      problem: (p) => {
        // The classification of docs/wal-format.md: damage in the newest segment with nothing
        // durable after it is a write not finished (or not yet cut by the writer's next open).
        if (p.kind === 'torn-tail') return 'wait'
        throw corruptionError(p, dir)
      },
    }
    this.reader = this.readerFrom(appliedSeq + 1)
  }

  /** Starts looking by itself (watch and timer), unless only refresh() is to look. */
  start(): void {
    if (this.opts.intervalMs === false) return
    if (this.opts.watch) {
      try {
        this.watcher = fs.watch(this.dir, { persistent: false }, () => this.kick())
        this.watcher.on('error', () => this.watcher?.close())
      } catch {
        // No watch (inotify limits, an exotic file system): the timer alone follows.
      }
    }
    this.schedule()
  }

  /**
   * Applies everything written so far. A call while a pass runs gets the pass after it (which
   * sees what was written after this call); calls meanwhile share that one.
   */
  refresh(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.queued !== undefined) return this.queued
    if (this.current === undefined) return this.startPass()
    this.queued = this.current.then(() => {
      this.queued = undefined
      return this.startPass()
    })
    return this.queued
  }

  /** Stops looking; resolves once a pass under way has stopped (within one batch of events). */
  stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.watcher?.close()
    return (this.current ?? Promise.resolve()).catch(() => undefined)
  }

  private startPass(): Promise<void> {
    const pass = this.pass().finally(() => {
      if (this.current === pass) this.current = undefined
    })
    this.current = pass
    return pass
  }

  private kick(): void {
    if (!this.stopped && this.failure === undefined) this.refresh().catch(() => undefined)
  }

  /** The timer keeps the process alive while the database is open, as a watcher does: close() ends it. */
  private schedule(): void {
    if (this.opts.intervalMs === false || this.stopped) return
    this.timer = setTimeout(() => {
      this.refresh()
        .catch(() => undefined)
        .finally(() => {
          if (this.failure === undefined) this.schedule()
        })
    }, this.opts.intervalMs)
  }

  private async pass(): Promise<void> {
    let reloads = 0
    let vanished = 0
    try {
      for (;;) {
        if (this.stopped) return
        try {
          if ((await this.reader.read(this.visit, BATCH)) === 'limit') continue
          this.assertNotCutBack()
          return
        } catch (err) {
          if (this.stopped) return
          if (err instanceof HistoryGoneError && ++reloads <= MAX_RELOADS) {
            const seq = await this.target.reload()
            this.reloads++
            this.reader = this.readerFrom(seq + 1)
            continue
          }
          // A segment deleted while it was read: the reader finds its place afresh (gone: above).
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && ++vanished <= MAX_VANISHED) continue
          throw err
        }
      }
    } catch (err) {
      if (this.stopped) return
      const error = err instanceof Error ? err : new Error(String(err))
      this.failure = error
      void this.stop()
      this.target.fail(error)
      throw error
    }
  }

  private readerFrom(seq: number): LogReader {
    return new LogReader(this.files, this.dir, { fromSeq: seq, reporter: this.reporter, exactStart: true })
  }

  /**
   * The segment being read must still hold what was applied from it. A writer cuts its log back
   * only to undo writes whose commit failed (and then stops): what this reader applied from
   * there never happened, and its next open reuses those seqs.
   */
  private assertNotCutBack(): void {
    if (this.reader.segment < 0) return
    const seg = this.reader.segments[this.reader.segments.length - 1]!
    let size: number
    try {
      size = this.files.size(seg.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // pruned: the next pass finds out
      throw err
    }
    if (size >= seg.validEnd) return
    throw new CorruptionError(
      `WAL segment ${seg.name} is now ${size} bytes long, shorter than the ${seg.validEnd} this read-only database applied ` +
        `(up to seq ${seg.lastSeq}): the writer undid writes after a failed commit. Close this database and open it again ` +
        'to read the log as it is now.',
      { file: seg.path, offset: size },
    )
  }
}
