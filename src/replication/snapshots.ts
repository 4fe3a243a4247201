// Snapshots: the primary's checkpoints, shipped to a JetStream Object Store bucket, so that a
// replica with nothing (a new one) or too little (one behind the stream's first message) starts
// from the newest checkpoint and reads only the stream after it; and, once a checkpoint is in the
// bucket, the stream below it may go.
//
// A snapshot is the checkpoint file itself, unchanged (docs/checkpoint-format.md), stored as the
// object `ckpt-<seq, 20 digits>`: a replica writes it into its directory under the checkpoint's
// own name and the core's open() recovers from it as from any checkpoint of its own (a directory
// holding only a checkpoint opens at its seq and logs from the next one). Only a checkpoint whose
// seq the stream already holds is shipped: a snapshot is never ahead of the stream, so a fenced
// primary's unpublished writes never reach a replica this way either.
import { promises as fsp } from 'node:fs'
import fs from 'node:fs'
import path from 'node:path'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { Objm } from '@nats-io/obj'
import { JetStreamApiError } from '@nats-io/jetstream'
import type { ObjectStore } from '@nats-io/obj'
import { FencedError } from '../index.js'
import type { CheckpointInfo, Database } from '../index.js'
import { backoff } from './streamLink.js'
import type { StreamLink } from './streamLink.js'

const PREFIX = 'ckpt-'
const DIGITS = 20
const READ_CHUNK = 256 * 1024
/** JetStream's "stream not found": the bucket (its stream) does not exist. */
const STREAM_NOT_FOUND = 10059

export interface SnapshotInfo {
  name: string
  seq: number
  size: number
}

/** The checkpoint file name the core reads (docs/checkpoint-format.md: 20 digits + `.ckpt`). */
export function checkpointFileName(seq: number): string {
  return `${String(seq).padStart(DIGITS, '0')}.ckpt`
}

/** The file behind `fd` from its start, read by position (the descriptor stays open for a retry). */
function fileBody(fd: number): ReadableStream<Uint8Array> {
  let pos = 0
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const buf = Buffer.allocUnsafe(READ_CHUNK)
      const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, READ_CHUNK, pos, (err, bytes) => (err ? reject(err) : resolve(bytes))))
      if (n === 0) return c.close()
      pos += n
      c.enqueue(buf.subarray(0, n))
    },
  })
}

export class SnapshotBucket {
  private store: ObjectStore | undefined

  constructor(private readonly link: StreamLink) {}

  /** The bucket, created when missing (file storage, as the stream). */
  private async bucket(create: boolean): Promise<ObjectStore | undefined> {
    if (this.store !== undefined) return this.store
    const objm = new Objm(await this.link.connection())
    const name = this.link.o.snapshots.bucket
    if (await this.exists(name)) {
      this.store = await objm.open(name, false)
    } else {
      if (!create) return undefined
      this.store = await objm.create(name, { description: `IsLabDB checkpoints of stream ${this.link.o.stream}` })
    }
    return this.store
  }

  /**
   * Whether the bucket's stream exists. Rejects when NATS does not answer: "no bucket" then would
   * read as "no snapshot", which stalls a replica the stream was trimmed below for good.
   */
  private async exists(name: string): Promise<boolean> {
    try {
      await (await this.link.jsm()).streams.info(`OBJ_${name}`)
      return true
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND) return false
      throw err
    }
  }

  /** Snapshots in the bucket, newest first (none when there is no bucket). */
  async list(): Promise<SnapshotInfo[]> {
    const store = await this.bucket(false)
    if (store === undefined) return []
    const out: SnapshotInfo[] = []
    for (const o of await store.list()) {
      if (o.deleted || !o.name.startsWith(PREFIX)) continue
      const seq = Number(o.name.slice(PREFIX.length))
      if (Number.isSafeInteger(seq)) out.push({ name: o.name, seq, size: o.size })
    }
    return out.sort((a, b) => b.seq - a.seq)
  }

  /** Stores the checkpoint read from `fd` (from its start; left open) as the snapshot of `seq`, then keeps the newest `keep`. */
  async upload(seq: number, fd: number): Promise<void> {
    const store = (await this.bucket(true))!
    await store.put({ name: `${PREFIX}${String(seq).padStart(DIGITS, '0')}`, description: `checkpoint at seq ${seq}` }, fileBody(fd))
    for (const old of (await this.list()).slice(this.link.o.snapshots.keep)) await store.delete(old.name)
  }

  /**
   * Writes the snapshot into `file`, fsynced (not the directory). Rejects when the download fails
   * (the object store checks the SHA-256 of what it sent), when `signal` aborts (the replica
   * stopped), or when `idleMs` pass with no progress (NATS lost or paused mid-download: an open
   * goes on without the snapshot instead of waiting for NATS); a partial file is removed then.
   */
  async downloadTo(snap: SnapshotInfo, file: string, signal?: AbortSignal, idleMs?: number): Promise<void> {
    signal?.throwIfAborted()
    const idle = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const progressed = (): void => {
      if (idleMs === undefined) return
      clearTimeout(timer)
      timer = setTimeout(() => idle.abort(new Error(`the download of snapshot ${snap.name} made no progress for ${idleMs} ms`)), idleMs)
    }
    const stop = signal === undefined ? idle.signal : AbortSignal.any([signal, idle.signal])
    progressed()
    try {
      const store = (await untilAborted(this.bucket(false), stop))!
      const getting = store.get(snap.name)
      // A get that answers after the abort: its consumer is let go, not left streaming to nobody.
      getting.then((g) => stop.aborted && void (g?.data as unknown as WebReadableStream<Uint8Array> | undefined)?.cancel().catch(() => undefined), () => undefined)
      const got = await untilAborted(getting, stop)
      if (got === null) throw new Error(`snapshot ${snap.name} is gone from bucket ${this.link.o.snapshots.bucket}`)
      await fsp.mkdir(path.dirname(file), { recursive: true })
      const fh = await fsp.open(file, 'w')
      // While NATS is away the download waits for it: an abort (stopped, or no progress) cancels it.
      const reader = (got.data as unknown as WebReadableStream<Uint8Array>).getReader()
      const cancel = (): void => void reader.cancel().catch(() => undefined)
      stop.addEventListener('abort', cancel, { once: true })
      try {
        for (;;) {
          const { done, value } = await reader.read()
          stop.throwIfAborted()
          if (done) break
          progressed()
          await fh.write(value)
        }
        const err = await got.error
        if (err) throw err
        await fh.datasync()
      } finally {
        stop.removeEventListener('abort', cancel)
        // Aborted before the listener was added, or failed: the object's consumer stops too.
        if (stop.aborted) cancel()
        await fh.close()
      }
    } catch (err) {
      await fsp.rm(file, { force: true })
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Writes the snapshot into `dir` as the checkpoint file the core opens from: temp file, fsync,
   * rename, fsync of the directory, as the core writes its own.
   */
  async download(snap: SnapshotInfo, dir: string, idleMs?: number): Promise<void> {
    const final = path.join(dir, checkpointFileName(snap.seq))
    const tmp = `${final}.tmp`
    await this.downloadTo(snap, tmp, undefined, idleMs)
    await fsp.rename(tmp, final)
    const d = await fsp.open(dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
  }
}

/**
 * The primary's side: after each checkpoint, waits until the stream holds its seq, ships it, and
 * trims the stream below it (keeping at least `keepEvents` messages). One upload at a time; a
 * newer checkpoint arriving meanwhile replaces one still waiting (and ends the retries of one
 * that NATS refused).
 */
export class SnapshotShipper {
  /** The newest checkpoint not yet being shipped (its file opened). */
  private next: { seq: number; fd: number } | undefined
  private busy = false
  private stopped = false
  private running: Promise<void> = Promise.resolve()
  lastError: unknown
  /** Seq of the newest snapshot this primary shipped. */
  shippedSeq = 0

  constructor(
    private readonly db: Database,
    private readonly link: StreamLink,
    private readonly bucket: SnapshotBucket,
    private readonly replicated: (seq: number) => Promise<void>,
  ) {}

  private readonly onCheckpoint = (info: CheckpointInfo): void => {
    if (this.stopped || info.seq === 0) return
    let fd: number
    try {
      // Opened now: the next checkpoint may prune the file before its turn comes.
      fd = fs.openSync(info.file, 'r')
    } catch {
      return
    }
    if (this.next !== undefined) fs.closeSync(this.next.fd)
    this.next = { seq: info.seq, fd }
    if (!this.busy) this.running = this.drain()
  }

  start(): void {
    this.db.on('checkpoint', this.onCheckpoint)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.db.off('checkpoint', this.onCheckpoint)
    await this.running
    if (this.next !== undefined) fs.closeSync(this.next.fd)
    this.next = undefined
  }

  private async drain(): Promise<void> {
    this.busy = true
    try {
      while (this.next !== undefined && !this.stopped) {
        const job = this.next
        this.next = undefined
        try {
          await this.ship(job.seq, job.fd)
        } finally {
          fs.closeSync(job.fd)
        }
      }
    } finally {
      this.busy = false
    }
  }

  /** Ships one checkpoint, retrying while NATS is away, until done, stopped, fenced, or a newer one came. */
  private async ship(seq: number, fd: number): Promise<void> {
    for (let failures = 0; !this.stopped; ) {
      try {
        // Never ahead of the stream: a replica restoring it must find seq + 1 there next.
        await this.replicated(seq)
        if (this.stopped) return
        await this.bucket.upload(seq, fd)
        this.shippedSeq = seq
        await this.trim(seq)
        this.lastError = undefined
        return
      } catch (err) {
        if (this.stopped) return
        this.lastError = err
        if (err instanceof FencedError || this.next !== undefined) return
        await backoff(failures++)
      }
    }
  }

  /** Purges the stream below the snapshot at `seq` (the message at `seq` itself stays: the stream is never emptied). */
  private async trim(seq: number): Promise<void> {
    const st = await this.link.state()
    if (st === undefined) return
    const upTo = Math.min(seq, st.lastSeq - this.link.o.snapshots.keepEvents + 1)
    if (upTo <= st.firstSeq) return
    const jsm = await this.link.jsm()
    await jsm.streams.purge(this.link.o.stream, { seq: upTo })
  }
}

/** `p`, or the signal's reason once it aborts first (a NATS request that waits for a paused server). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
