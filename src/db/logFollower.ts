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
//
// The one other way a segment goes is a failed commit's cut-back: the writer deletes the segments
// the commit created and truncates the one it started in — records this follower may have applied
// already, and whose seqs the writer's next open reuses. A prune only deletes segments a
// checkpoint covers wholly, so a segment the follower applied records from that vanished with no
// checkpoint covering them, or one that got shorter, was cut back: following stops.
import fs from 'node:fs'
import { parseCheckpointName } from '../checkpoint/format.js'
import { CorruptionError, HistoryGoneError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import { parseSegmentName } from '../wal/format.js'
import { LogReader, corruptionError } from '../wal/logReader.js'
import type { Reporter } from '../wal/logReader.js'

/** A segment records were applied from, and how far (the end of the last whole record applied). */
interface Held {
  name: string
  path: string
  firstSeq: number
  validEnd: number
  lastSeq: number
}

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
/**
 * The newest segments applied from that are checked each pass: the newest alone tells a cut-back
 * (it either was created by the failed commit, or is the one it started in), the one before
 * catches what a reopened writer may have re-created under the same name.
 */
const HELD = 2

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
  /** The newest segments applied from (HELD at most, by firstSeq), and reader.segments entries already noted. */
  private held: Held[] = []
  private noted = 0
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
          const end = await this.reader.read(this.visit, BATCH)
          this.note()
          if (end === 'limit') continue
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
          // A segment deleted while it was read: pruned, or cut back (checked before the reader
          // finds its place afresh, and maybe records a reopened writer wrote under the same seqs).
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && ++vanished <= MAX_VANISHED) {
            this.note()
            this.assertHeld()
            continue
          }
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
    // A reload rebuilt the state from the log as it is now: nothing applied before counts.
    this.held = []
    this.noted = 0
    return new LogReader(this.files, this.dir, { fromSeq: seq, reporter: this.reporter, exactStart: true })
  }

  /**
   * Notes how far the reader applied from each segment it opened since the last look (its entry
   * for the segment being read is still moving: looked at again next time). A segment opened
   * again (the reader found its place afresh) keeps the furthest point applied from it.
   */
  private note(): void {
    const segs = this.reader.segments
    for (let i = this.noted; i < segs.length; i++) {
      const s = segs[i]!
      if (s.lastSeq < s.firstSeq) continue // no record applied from it (yet)
      let h = this.held.find((x) => x.firstSeq === s.firstSeq)
      if (h === undefined) {
        h = { name: s.name, path: s.path, firstSeq: s.firstSeq, validEnd: s.validEnd, lastSeq: s.lastSeq }
        this.held.push(h)
        this.held.sort((a, b) => a.firstSeq - b.firstSeq)
        if (this.held.length > HELD) this.held.shift()
      } else {
        h.validEnd = Math.max(h.validEnd, s.validEnd)
        h.lastSeq = Math.max(h.lastSeq, s.lastSeq)
      }
    }
    this.noted = Math.max(0, segs.length - 1)
  }

  /**
   * What was applied is still in the log: the reader, at the end of the log, is past every seq
   * applied (a log that now ends before them was cut back), and the segments applied from hold
   * it (assertHeld).
   */
  private assertNotCutBack(): void {
    this.assertHeld()
    const r = this.reader
    if (r.segment < 0 || r.lastSeq >= r.nextSeq - 1) return
    throw new CorruptionError(
      `The log in ${this.dir} now ends at seq ${r.lastSeq}, before seq ${r.nextSeq - 1} that this read-only database applied: ` +
        'the writer undid writes after a failed commit. Close this database and open it again to read the log as it is now.',
    )
  }

  /**
   * Each segment applied from must still hold what was applied from it: not shorter, and not
   * gone unless a checkpoint covers its records (a prune). A writer cuts its log back only to
   * undo writes whose commit failed (and then stops): what this reader applied from there never
   * happened, and the writer's next open reuses those seqs.
   */
  private assertHeld(): void {
    for (const h of this.held.slice()) {
      let size: number
      try {
        size = this.files.size(h.path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        if (!this.couldBePruned(h)) {
          throw new CorruptionError(
            `WAL segment ${h.name}, from which this read-only database applied seqs up to ${h.lastSeq}, was deleted, and no prune ` +
              'explains it (a later segment after them and a checkpoint covering them): the writer undid writes after a failed commit. Close this database and open it again to read the log as it is now.',
            { file: h.path },
          )
        }
        this.held.splice(this.held.indexOf(h), 1) // pruned
        continue
      }
      if (size >= h.validEnd) continue
      throw new CorruptionError(
        `WAL segment ${h.name} is now ${size} bytes long, shorter than the ${h.validEnd} this read-only database applied ` +
          `(up to seq ${h.lastSeq}): the writer undid writes after a failed commit. Close this database and open it again ` +
          'to read the log as it is now.',
        { file: h.path, offset: size },
      )
    }
  }

  /**
   * Whether a prune could have deleted `h`: a prune deletes a segment only when a later one
   * exists, and a checkpoint covers every record before that one — which starts after every
   * record applied from `h`. A reopened writer's segments after a cut-back start within them.
   */
  private couldBePruned(h: Held): boolean {
    let next = Infinity
    let checkpoint = -1
    for (const name of this.files.list(this.dir)) {
      const first = parseSegmentName(name)
      if (first !== undefined && first > h.firstSeq && first < next) next = first
      const at = parseCheckpointName(name)
      if (at !== undefined && at > checkpoint) checkpoint = at
    }
    return next !== Infinity && next > h.lastSeq && checkpoint >= next - 1
  }
}
