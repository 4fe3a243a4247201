// A copy-on-write FileLayer: reads come from another layer (the real directory), every change
// (create, append, truncate, rename, unlink) is kept in memory and never reaches it. Running
// the real recovery over it shows exactly what recovery would do without doing it: this is
// `islab repair --dry-run`, with no second copy of the repair policy to drift apart.
import path from 'node:path'
import type { AppendFile, FileLayer } from './fileLayer.js'

type Node = { kind: 'base'; from: string } | { kind: 'mem'; data: Buffer; mtime: number }

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
    return n.kind === 'mem' ? n.data : this.base.readFile(n.from)
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
    return n.kind === 'mem' ? n.data.length : this.base.size(n.from)
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
    return n.kind === 'mem' ? Buffer.from(n.data) : this.base.readFileAsync(n.from)
  }

  readRange(p: string, offset: number, length: number): Buffer {
    return Buffer.from(this.bytes(this.need(p)).subarray(offset, offset + length))
  }

  async readIntoAsync(p: string, position: number, target: Buffer, at: number, length: number): Promise<number> {
    const data = this.bytes(this.need(p))
    return data.copy(target, at, Math.min(position, data.length), Math.min(position + length, data.length))
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
    this.set(p, this.bytes(this.need(p)).subarray(0, length))
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
