// Per-key index of every version still in the log: seq, time and where its record sits
// (segment, byte offset), so reading the past costs one record read, not a log scan.
// It is built on first use — from the log on disk, by the same segment scanner as recovery —
// and then kept current from the change feed. In memory mode there is no log: versions keep
// their bytes, and history starts when the index was first used.
import type { Subscription } from 'rxjs'
import type { ChangeFeed } from '../changes/changeFeed.js'
import type { Op, WalEvent } from '../events/types.js'
import type { FileLayer } from '../io/fileLayer.js'
import type { WriteRequest } from '../pipeline/writeRequest.js'
import { listSegments } from '../wal/logReader.js'
import { scanSegment } from '../wal/segmentReader.js'

export interface Version {
  seq: number
  time: number
  /** First seq of the segment holding the record (-1: not in a log, `bytes` holds the value). */
  segment: number
  offset: number
  deleted: boolean
  bytes: Uint8Array | undefined
}

export interface HistorySource {
  files: FileLayer | undefined
  dir: string
  feed: ChangeFeed
  seq(): number
  flush(): Promise<void>
}

export class HistoryIndex {
  private readonly versions = new Map<string, Version[]>()
  private sub: Subscription | undefined
  private ready: Promise<void> | undefined
  /** Memory mode: the first seq the index saw. */
  private memoryFrom = 0

  constructor(private readonly source: HistorySource) {}

  /** Builds the index the first time it is needed. */
  ensure(): Promise<void> {
    this.ready ??= this.build()
    return this.ready
  }

  /** Oldest seq whose version is known (1 when the log reaches back to the start). */
  oldestSeq(): number {
    const { files, dir } = this.source
    if (files === undefined) return this.memoryFrom
    const first = listSegments(files, dir)[0]
    return first === undefined ? this.source.seq() + 1 : first.firstSeq
  }

  /** Versions of `key`, oldest first (only those still in the retained log). */
  of(key: string): Version[] {
    const list = this.versions.get(key)
    if (list === undefined) return []
    const oldest = this.oldestSeq()
    if (list.length > 0 && list[0]!.seq < oldest) {
      // Segments were deleted since: forget what they held.
      const keep = list.filter((v) => v.seq >= oldest)
      if (keep.length === 0) this.versions.delete(key)
      else this.versions.set(key, keep)
      return keep
    }
    return list
  }

  close(): void {
    this.sub?.unsubscribe()
  }

  private async build(): Promise<void> {
    const { files, dir, feed } = this.source
    // Live first, queued; then make every earlier event readable on disk; then scan.
    const queued: WriteRequest[] = []
    let live = false
    this.sub = feed.applied$.subscribe((req) => (live ? this.add(req as unknown as WalEvent, req.walSegment, -1, req) : queued.push(req)))
    if (files === undefined) {
      this.memoryFrom = this.source.seq() + 1
      live = true
      return
    }
    await this.source.flush()
    let last = 0
    for (const seg of listSegments(files, dir)) {
      const scan = scanSegment(files.readFile(seg.path), (ev, offset) => {
        this.add(ev, seg.firstSeq, offset, undefined)
        last = ev.seq
      })
      if ('headerError' in scan) break
    }
    for (const req of queued) if (req.seq > last) this.add(req as unknown as WalEvent, req.walSegment, req.walOffset, req)
    live = true
  }

  private add(ev: WalEvent, segment: number, offset: number, req: WriteRequest | undefined): void {
    const memory = this.source.files === undefined
    const at = req !== undefined && offset < 0 ? req.walOffset : offset
    const put = (op: Op) => {
      const v: Version = {
        seq: ev.seq,
        time: ev.time,
        segment: memory ? -1 : segment,
        offset: memory ? -1 : at,
        deleted: op.type === 'del',
        bytes: memory && op.type === 'put' ? op.value : undefined,
      }
      const list = this.versions.get(op.key)
      if (list === undefined) this.versions.set(op.key, [v])
      // A batch that writes a key twice leaves one version: its last op.
      else if (list[list.length - 1]!.seq === v.seq) list[list.length - 1] = v
      else list.push(v)
    }
    if (ev.type === 'batch') for (const op of ev.ops) put(op)
    else if (ev.type !== 'entangle') put(ev)
  }
}
