// A copy-on-write FileLayer: reads come from another layer (the real directory), every change
// (create, append, truncate, rename, unlink) is kept in memory and never reaches it. Running
// the real recovery over it shows exactly what recovery would do without doing it: this is
// `islab repair --dry-run`, with no second copy of the repair policy to drift apart, and the
// recovery of a read-only open (recoverReadOnly.ts). A file it has not changed is read from the
// base in ranges, as the base itself would be (a checkpoint or segment is never read whole per
// read); a base file it has only cut short stays a base file with a shorter length.
import path from 'node:path'
import type { AppendFile, FileLayer } from './fileLayer.js'

/** `length`: a base file the overlay truncated reads as only its first `length` bytes. */
type Node = { kind: 'base'; from: string; length?: number } | { kind: 'mem'; data: Buffer; mtime: number }

export class OverlayFileLayer implements FileLayer {
  /** Every path (resolved) the overlay has touched: what it holds now, or null when removed. */
  private readonly nodes = new Map<string, Node | null>()

  constructor(private readonly base: FileLayer) {}

  private node(p: string): Node | undefined {
    const n = this.nodes.get(path.resolve(p))
    if (n === null) return undefined
    if (n !== undefined) return n
    return this.base.exists(p) ? { kind: 'base', from: p } : undefined
  }

  private need(p: string): Node {
    const n = this.node(p)
    if (n === undefined) throw Object.assign(new Error(`ENOENT: no such file, '${p}'`), { code: 'ENOENT', path: p })
    return n
  }

  private bytes(n: Node): Buffer {
    if (n.kind === 'mem') return n.data
    const b = this.base.readFile(n.from)
    return n.length === undefined ? b : b.subarray(0, n.length)
  }

  /** Size of a base node as the overlay sees it. */
  private baseSize(n: { from: string; length?: number }): number {
    const size = this.base.size(n.from)
    return n.length === undefined ? size : Math.min(size, n.length)
  }

  mkdirp(): void {}

  list(dir: string): string[] {
    const names = new Set(this.base.list(dir))
    const abs = path.resolve(dir)
    for (const [p, n] of this.nodes) {
      if (path.dirname(p) !== abs) continue
      if (n === null) names.delete(path.basename(p))
      else names.add(path.basename(p))
    }
    return [...names]
  }

  exists(p: string): boolean {
    return this.node(p) !== undefined
  }

  size(p: string): number {
    const n = this.need(p)
    return n.kind === 'mem' ? n.data.length : this.baseSize(n)
  }

  mtimeMs(p: string): number {
    const n = this.need(p)
    return n.kind === 'mem' ? n.mtime : this.base.mtimeMs(n.from)
  }

  readFile(p: string): Buffer {
    return Buffer.from(this.bytes(this.need(p)))
  }

  async readFileAsync(p: string): Promise<Buffer> {
    const n = this.need(p)
    if (n.kind === 'mem') return Buffer.from(n.data)
    const b = await this.base.readFileAsync(n.from)
    return n.length === undefined ? b : b.subarray(0, n.length)
  }

  readRange(p: string, offset: number, length: number): Buffer {
    const n = this.need(p)
    if (n.kind === 'mem') return Buffer.from(n.data.subarray(offset, offset + length))
    const end = n.length === undefined ? offset + length : Math.min(offset + length, n.length)
    return end <= offset ? Buffer.alloc(0) : this.base.readRange(n.from, offset, end - offset)
  }

  async readIntoAsync(p: string, position: number, target: Buffer, at: number, length: number): Promise<number> {
    const n = this.need(p)
    if (n.kind === 'mem') {
      const data = n.data
      return data.copy(target, at, Math.min(position, data.length), Math.min(position + length, data.length))
    }
    const end = n.length === undefined ? position + length : Math.min(position + length, n.length)
    return end <= position ? 0 : this.base.readIntoAsync(n.from, position, target, at, end - position)
  }

  createExclusive(p: string, data: Uint8Array): void {
    if (this.exists(p)) throw Object.assign(new Error(`EEXIST: file already exists, '${p}'`), { code: 'EEXIST', path: p })
    this.set(p, Buffer.from(data))
  }

  writeFileDurable(p: string, data: Uint8Array): void {
    this.set(p, Buffer.from(data))
  }

  unlink(p: string): void {
    this.need(p)
    this.nodes.set(path.resolve(p), null)
  }

  rename(from: string, to: string): void {
    const n = this.need(from)
    this.nodes.set(path.resolve(to), n)
    this.nodes.set(path.resolve(from), null)
  }

  truncate(p: string, length: number): void {
    const n = this.need(p)
    if (n.kind === 'base' && length <= this.baseSize(n)) this.nodes.set(path.resolve(p), { kind: 'base', from: n.from, length })
    else this.set(p, this.bytes(n).subarray(0, length))
  }

  syncDir(): void {}

  async syncDirAsync(): Promise<void> {}

  async unlinkAsync(p: string): Promise<void> {
    this.unlink(p)
  }

  openAppend(p: string): AppendFile {
    if (!this.exists(p)) this.set(p, Buffer.alloc(0))
    const append = (data: Uint8Array): void => {
      this.set(p, Buffer.concat([this.bytes(this.need(p)), data]))
    }
    return {
      write: async (data) => append(data),
      datasync: async () => undefined,
      truncate: async (length) => this.truncate(p, length),
      close: async () => undefined,
    }
  }

  private set(p: string, data: Buffer): void {
    this.nodes.set(path.resolve(p), { kind: 'mem', data, mtime: Date.now() })
  }
}
