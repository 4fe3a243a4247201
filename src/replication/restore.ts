// A replica from a snapshot. Before the core's open(), a replica directory holding no database
// gets the newest snapshot written into it as a checkpoint file. A replica whose database ends
// before the stream's first message (the primary trimmed what it still needed) is replaced in
// place with the newest snapshot (db.replaceWithCheckpoint), at open or, when the stream is
// trimmed while it runs, by its consumer (applier.ts). Either way it then reads the stream from
// the snapshot's seq + 1 on. When NATS cannot be reached in time the directory opens as it is:
// a replica serves reads from its own disk while NATS is away.
import fs from 'node:fs'
import path from 'node:path'
import { IslabError, open as openCore, ReadOnlyError } from '../index.js'
import type { Database, OpenOptions } from '../index.js'
import { checkpointFileName, SnapshotBucket } from './snapshots.js'
import type { SnapshotInfo } from './snapshots.js'
import type { StreamLink, StreamState } from './streamLink.js'

/** How long open() waits for NATS to say whether a snapshot is needed, or for a download to progress. */
const LOOKUP_MS = 5000
/** A running replica's download that makes no progress this long is given up and retried (with backoff). */
const RUNNING_IDLE_MS = 30_000

/** Files of a database directory (the WAL, checkpoints, the MANIFEST, leftovers of either). */
const DB_FILE = /(\.wal|\.wal\.rewrite|\.ckpt|\.ckpt\.tmp)$|^MANIFEST/

export interface Restored {
  db: Database
  /** The snapshot the replica started from, when it did. */
  snapshot: SnapshotInfo | undefined
}

export async function openReplica(options: OpenOptions, link: StreamLink): Promise<Restored> {
  const dir = options.dir
  if (!canRestore(link, options)) return { db: await openCore(options), snapshot: undefined }
  const bucket = new SnapshotBucket(link)
  if (!holdsDatabase(dir!)) {
    const st = await lookup(() => link.state())
    let snap = st === undefined ? undefined : pickSnapshot((await lookup(() => bucket.list())) ?? [], 0, st)
    if (snap !== undefined) {
      // NATS lost or paused mid-download: open empty; the consumer restores once NATS is back.
      await bucket.download(snap, dir!, LOOKUP_MS).catch(() => (snap = undefined))
    }
    return { db: await openCore(options), snapshot: snap }
  }
  const db = await openCore(options)
  const st = await lookup(() => link.state())
  if (st === undefined || !trimmedBelow(db, st)) return { db, snapshot: undefined }
  // The stream no longer holds the seq after this database's: only a snapshot bridges the gap.
  // Should this fail, the replica's consumer finds the same gap and tries again.
  db.refuseWrites(new ReadOnlyError('write', 'it is a replica being restored from a snapshot'))
  let snap: SnapshotInfo | undefined
  try {
    snap = await restoreInPlace(db, link, bucket, undefined, LOOKUP_MS)
  } catch (err) {
    // NATS failed: the consumer tries again. The swap itself failed: this database cannot go on.
    if (!(err instanceof IslabError)) return { db, snapshot: undefined }
    await db.close().catch(() => undefined)
    throw err
  }
  return { db, snapshot: snap }
}

/** Snapshots need the directory on Node's own file system (a test's simulated disk is not written behind its back). */
export function canRestore(link: StreamLink, options: Pick<OpenOptions, 'dir' | 'fileLayer'>): boolean {
  return link.o.snapshots.enabled && options.dir !== undefined && options.fileLayer === undefined
}

/** The stream starts after the seq this database needs next. */
export function trimmedBelow(db: Database, st: StreamState): boolean {
  return st.lastSeq > db.seq && st.firstSeq > db.seq + 1
}

/**
 * Replaces the database (which refuses writes) in place with the newest snapshot the stream goes
 * on from, and resolves with it; undefined when the bucket holds none. NATS errors reject (the
 * caller tries again later); the database is untouched until the snapshot is downloaded whole.
 */
export async function restoreInPlace(db: Database, link: StreamLink, bucket: SnapshotBucket, signal?: AbortSignal, idleMs = RUNNING_IDLE_MS): Promise<SnapshotInfo | undefined> {
  const st = await link.state()
  if (st === undefined || !trimmedBelow(db, st)) return undefined
  const snap = pickSnapshot(await bucket.list(), db.seq, st)
  if (snap === undefined) return undefined
  const tmp = path.join(db.options.dir, `${checkpointFileName(snap.seq)}.tmp`)
  await bucket.downloadTo(snap, tmp, signal, idleMs)
  // Stopped just after the download: the database stays as it is.
  if (signal?.aborted) {
    fs.rmSync(tmp, { force: true })
    signal.throwIfAborted()
  }
  await db.replaceWithCheckpoint(tmp, snap.seq)
  return snap
}

/**
 * The newest snapshot newer than `after` that the stream goes on from (its seq + 1 is in the
 * stream, or is the stream's next). A snapshot past the stream's end belongs to another
 * (recreated) stream.
 */
function pickSnapshot(snaps: SnapshotInfo[], after: number, st: StreamState): SnapshotInfo | undefined {
  return snaps.find((s) => s.seq > after && s.seq <= st.lastSeq && s.seq + 1 >= st.firstSeq)
}

async function lookup<T>(f: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([f(), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), LOOKUP_MS)))])
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

function holdsDatabase(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((n) => DB_FILE.test(n))
  } catch {
    return false
  }
}
