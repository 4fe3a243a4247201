// An in-memory FileLayer that models what a crash keeps. File contents become durable only at
// datasync; directory entries (create, rename, unlink) only at syncDir. `crash()` returns the
// image a machine would boot with: durable names and contents, plus, for each file with unsynced
// data, either (default) any prefix of that data (a torn last write) and possibly garbage after
// it, or (with a PageTear) any subset of its unsynced 4 KiB pages, as a page cache writing pages
// back in any order leaves them (the LazyFS/ALICE model).
import path from 'node:path'
import type { AppendFile, FileLayer } from '../../src/io/fileLayer.js'

class Inode {
  data: Buffer
  durable: Buffer
  mtime = Date.now()
  constructor(data = Buffer.alloc(0), durable = Buffer.alloc(0)) {
    this.data = data
    this.durable = durable
  }
}

/** A small deterministic PRNG (mulberry32), so a crash image is reproducible from a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Which unsynced pages of a file survive a crash. Pages are `pageBytes` long, aligned to the
 * file's start; the page holding the end of the durable data counts for its unsynced part only.
 * `persisted[i % persisted.length]` says whether the i-th unsynced page persisted; one that did
 * not reads as zeros. `cut` picks the length the file comes back with: negative, its full
 * length; else `cut` modulo the count of: the durable length, each page boundary in between,
 * the full length.
 */
export interface PageTear {
  pageBytes: number
  persisted: boolean[]
  cut: number
}

const enoent = (p: string) => Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' })
const crashed = () => Object.assign(new Error('simulated machine is down'), { code: 'EIO' })

export class SimFileLayer implements FileLayer {
  /** path → inode, as the running system sees it. */
  private names = new Map<string, Inode>()
  /** path → inode, as of the last syncDir of each directory. */
  private durableNames = new Map<string, Inode>()
  private dirs = new Set<string>()
  private ops = 0
  private appends = 0
  /** Set by the append write chosen by `crashAfterWrite`: the next operation crashes. */
  private crashNext = false
  private down = false
  /** Called once, synchronously, at the moment of the crash. */
  onCrash: (() => void) | undefined
  private image: SimFileLayer | undefined

  constructor(
    /** The machine crashes just before its Nth mutating operation (Infinity: never by itself). */
    private readonly crashAtOp = Infinity,
    private readonly seed = 1,
    /** When given, a crash keeps pages of unsynced data (see PageTear) instead of a torn prefix. */
    private readonly tear?: PageTear,
    /** The machine crashes just after its Nth append write, before anything syncs it. */
    private readonly crashAfterWrite = Infinity,
  ) {}

  get isDown(): boolean {
    return this.down
  }

  get opCount(): number {
    return this.ops
  }

  /** Crashes now (if not already) and returns the image to boot from. */
  crash(): SimFileLayer {
    if (!this.down) this.goDown()
    return this.image!
  }

  private goDown(): void {
    this.down = true
    const rand = prng(this.seed)
    const img = new SimFileLayer()
    img.dirs = new Set(this.dirs)
    const seen = new Map<Inode, Inode>()
    for (const [p, ino] of this.durableNames) {
      let copy = seen.get(ino)
      if (copy === undefined) {
        copy = new Inode()
        copy.data = this.tear === undefined ? crashContent(ino, rand) : pageCrashContent(ino, this.tear)
        copy.durable = copy.data
        seen.set(ino, copy)
      }
      img.names.set(p, copy)
      img.durableNames.set(p, copy)
    }
    this.image = img
    this.onCrash?.()
  }

  /** Counts a mutating operation; crashes when the count is reached. */
  private step(): void {
    if (this.down) throw crashed()
    if (++this.ops >= this.crashAtOp || this.crashNext) {
      this.goDown()
      throw crashed()
    }
  }

  private never<T>(): Promise<T> {
    return new Promise<T>(() => undefined)
  }

  mkdirp(dir: string): void {
    this.dirs.add(path.resolve(dir))
  }
  list(dir: string): string[] {
    const d = path.resolve(dir)
    const out: string[] = []
    for (const p of this.names.keys()) if (path.dirname(p) === d) out.push(path.basename(p))
    return out
  }
  exists(p: string): boolean {
    return this.names.has(path.resolve(p))
  }
  size(p: string): number {
    return this.get(p).data.length
  }
  mtimeMs(p: string): number {
    return this.get(p).mtime
  }
  readFile(p: string): Buffer {
    return Buffer.from(this.get(p).data)
  }
  async readFileAsync(p: string): Promise<Buffer> {
    return this.readFile(p)
  }
  readRange(p: string, offset: number, length: number): Buffer {
    return Buffer.from(this.get(p).data.subarray(offset, offset + length))
  }
  async readIntoAsync(p: string, position: number, target: Buffer, at: number, length: number): Promise<number> {
    const data = this.get(p).data
    return data.copy(target, at, Math.min(position, data.length), Math.min(position + length, data.length))
  }
  createExclusive(p: string, data: Uint8Array): void {
    const key = path.resolve(p)
    if (this.names.has(key)) throw Object.assign(new Error(`EEXIST: ${p}`), { code: 'EEXIST' })
    this.step()
    this.names.set(key, new Inode(Buffer.from(data)))
  }
  writeFileDurable(p: string, data: Uint8Array): void {
    this.step()
    const key = path.resolve(p)
    const ino = this.names.get(key) ?? new Inode()
    ino.data = Buffer.from(data)
    ino.durable = ino.data
    this.names.set(key, ino)
  }
  unlink(p: string): void {
    const key = path.resolve(p)
    if (!this.names.has(key)) throw enoent(p)
    this.step()
    this.names.delete(key)
  }
  rename(from: string, to: string): void {
    const a = path.resolve(from)
    const ino = this.names.get(a)
    if (ino === undefined) throw enoent(from)
    this.step()
    this.names.delete(a)
    this.names.set(path.resolve(to), ino)
  }
  truncate(p: string, length: number): void {
    const ino = this.get(p)
    this.step()
    ino.data = ino.data.subarray(0, length)
  }
  async syncDirAsync(dir: string): Promise<void> {
    this.syncDir(dir)
  }
  async unlinkAsync(p: string): Promise<void> {
    this.unlink(p)
  }
  syncDir(dir: string): void {
    this.step()
    const d = path.resolve(dir)
    for (const p of [...this.durableNames.keys()]) if (path.dirname(p) === d) this.durableNames.delete(p)
    for (const [p, ino] of this.names) if (path.dirname(p) === d) this.durableNames.set(p, ino)
  }
  openAppend(p: string): AppendFile {
    const key = path.resolve(p)
    let ino = this.names.get(key)
    if (ino === undefined) {
      this.step()
      ino = new Inode()
      this.names.set(key, ino)
    }
    const node = ino
    return {
      write: async (data) => {
        if (this.down) return this.never()
        this.step()
        node.data = Buffer.concat([node.data, data])
        node.mtime = Date.now()
        if (++this.appends >= this.crashAfterWrite) this.crashNext = true
      },
      datasync: async () => {
        if (this.down) return this.never()
        this.step()
        node.durable = node.data
      },
      truncate: async (n) => {
        if (this.down) return this.never()
        this.step()
        node.data = node.data.subarray(0, n)
      },
      close: async () => undefined,
    }
  }

  private get(p: string): Inode {
    const ino = this.names.get(path.resolve(p))
    if (ino === undefined) throw enoent(p)
    return ino
  }
}

/**
 * What survives of one file: its durable content, then — when the running content extends it —
 * any prefix of the unsynced bytes, sometimes followed by garbage (a torn sector).
 */
function crashContent(ino: Inode, rand: () => number): Buffer {
  const { data, durable } = ino
  const extends_ = data.length > durable.length && data.subarray(0, durable.length).equals(durable)
  if (!extends_) return Buffer.from(durable)
  const unsynced = data.length - durable.length
  const r = rand()
  const keep = r < 0.3 ? 0 : r < 0.5 ? unsynced : Math.floor(rand() * (unsynced + 1))
  const parts = [data.subarray(0, durable.length + keep)]
  if (rand() < 0.3) {
    const junk = Buffer.alloc(1 + Math.floor(rand() * 40))
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256)
    parts.push(junk)
  }
  return Buffer.concat(parts)
}

/** What survives of one file when its unsynced pages persist in any order (see PageTear). */
export function pageCrashContent(ino: { data: Buffer; durable: Buffer }, tear: PageTear): Buffer {
  const { data, durable } = ino
  const extends_ = data.length > durable.length && data.subarray(0, durable.length).equals(durable)
  if (!extends_) return Buffer.from(durable)
  const size = tear.pageBytes
  const lengths = [durable.length]
  for (let b = (Math.floor(durable.length / size) + 1) * size; b < data.length; b += size) lengths.push(b)
  lengths.push(data.length)
  const length = tear.cut < 0 ? data.length : lengths[tear.cut % lengths.length]!
  const out = Buffer.alloc(length)
  durable.copy(out, 0)
  const firstPage = Math.floor(durable.length / size)
  for (let page = firstPage; page * size < length; page++) {
    if (!tear.persisted[(page - firstPage) % tear.persisted.length]) continue
    const from = Math.max(page * size, durable.length)
    data.copy(out, from, from, Math.min((page + 1) * size, length))
  }
  return out
}
