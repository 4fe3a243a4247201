// Opening a replica from a snapshot. Before the core's open(), a replica directory holding no
// database gets the newest snapshot written into it as a checkpoint file; a replica whose
// database ends before the stream's first message (the primary trimmed what it still needed)
// is closed, its log and checkpoints deleted, and reopened the same way. Either way it then
// reads the stream from the snapshot's seq + 1 on. When NATS cannot be reached in time the
// directory opens as it is: a replica serves reads from its own disk while NATS is away.
import fs from 'node:fs'
import path from 'node:path'
import { open as openCore } from '../index.js'
import type { Database, OpenOptions } from '../index.js'
import { SnapshotBucket } from './snapshots.js'
import type { SnapshotInfo } from './snapshots.js'
import type { StreamLink, StreamState } from './streamLink.js'

/** How long open() waits for NATS to say whether a snapshot is needed. */
const LOOKUP_MS = 5000

/** Files of a database directory (the WAL, checkpoints, the MANIFEST, leftovers of either). */
const DB_FILE = /(\.wal|\.wal\.rewrite|\.ckpt|\.ckpt\.tmp)$|^MANIFEST/

export interface Restored {
  db: Database
  /** The snapshot the replica started from, when it did. */
  snapshot: SnapshotInfo | undefined
}

export async function openReplica(options: OpenOptions, link: StreamLink): Promise<Restored> {
  const dir = options.dir
  // A file layer of the caller's own (a test's simulated disk) is not written behind its back.
  if (!link.o.snapshots.enabled || dir === undefined || options.fileLayer !== undefined) return { db: await openCore(options), snapshot: undefined }
  const bucket = new SnapshotBucket(link)
  if (!holdsDatabase(dir)) {
    const snap = await usableSnapshot(link, bucket, 0)
    if (snap !== undefined) await bucket.download(snap, dir)
    return { db: await openCore(options), snapshot: snap }
  }
  const db = await openCore(options)
  const st = await lookup(() => link.state())
  if (st === undefined || st.lastSeq <= db.seq || st.firstSeq <= db.seq + 1) return { db, snapshot: undefined }
  // The stream no longer holds the seq after this database's: only a snapshot bridges the gap.
  const snap = await usableSnapshot(link, bucket, db.seq, st)
  if (snap === undefined) return { db, snapshot: undefined }
  await db.close()
  for (const name of fs.readdirSync(dir)) if (DB_FILE.test(name)) fs.rmSync(path.join(dir, name), { force: true })
  await bucket.download(snap, dir)
  return { db: await openCore(options), snapshot: snap }
}

/**
 * The newest snapshot newer than `after` that the stream goes on from (its seq + 1 is in the
 * stream, or is the stream's next); undefined when there is none or NATS is not reachable.
 */
async function usableSnapshot(link: StreamLink, bucket: SnapshotBucket, after: number, known?: StreamState): Promise<SnapshotInfo | undefined> {
  const st = known ?? (await lookup(() => link.state()))
  if (st === undefined) return undefined
  const snaps = (await lookup(() => bucket.list())) ?? []
  // A snapshot past the stream's end belongs to another (recreated) stream.
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
