// A FileLayer that models Linux O_DSYNC faithfully: a write on an O_DSYNC fd makes durable only the
// bytes it wrote (generic_write_sync -> vfs_fsync_range(pos-count, pos-1)); fdatasync on a normal fd
// makes the whole file durable. Directory operations are durable at once (simplification).
// crash(): every byte never made durable reads as zero (lost page), file lengths kept.
import path from 'node:path'
import type { AppendFile, FileLayer } from '../../src/io/fileLayer.js'

class Ino { data = Buffer.alloc(0); mask = new Uint8Array(0); mtime = Date.now() }

export class RangeLayer implements FileLayer {
  names = new Map<string, Ino>()
  hangDatasync = false
  log: string[] = []
  private get(p: string): Ino { const i = this.names.get(path.resolve(p)); if (!i) throw Object.assign(new Error('ENOENT ' + p), { code: 'ENOENT' }); return i }
  mkdirp(): void {}
  list(dir: string): string[] { const d = path.resolve(dir); return [...this.names.keys()].filter((p) => path.dirname(p) === d).map((p) => path.basename(p)) }
  exists(p: string): boolean { return this.names.has(path.resolve(p)) }
  size(p: string): number { return this.get(p).data.length }
  mtimeMs(p: string): number { return this.get(p).mtime }
  readFile(p: string): Buffer { return Buffer.from(this.get(p).data) }
  async readFileAsync(p: string): Promise<Buffer> { return this.readFile(p) }
  readRange(p: string, o: number, n: number): Buffer { return Buffer.from(this.get(p).data.subarray(o, o + n)) }
  async readIntoAsync(p: string, position: number, target: Buffer, at: number, length: number): Promise<number> {
    return this.get(p).data.copy(target, at, position, Math.min(position + length, this.get(p).data.length))
  }
  createExclusive(p: string, data: Uint8Array): void {
    if (this.exists(p)) throw Object.assign(new Error('EEXIST'), { code: 'EEXIST' })
    const i = new Ino(); i.data = Buffer.from(data); i.mask = new Uint8Array(data.length).fill(1); this.names.set(path.resolve(p), i)
  }
  writeFileDurable(p: string, data: Uint8Array): void {
    const i = this.names.get(path.resolve(p)) ?? new Ino(); i.data = Buffer.from(data); i.mask = new Uint8Array(data.length).fill(1); this.names.set(path.resolve(p), i)
  }
  unlink(p: string): void { this.get(p); this.names.delete(path.resolve(p)) }
  async unlinkAsync(p: string): Promise<void> { this.unlink(p) }
  rename(a: string, b: string): void { const i = this.get(a); this.names.delete(path.resolve(a)); this.names.set(path.resolve(b), i) }
  truncate(p: string, n: number): void { const i = this.get(p); i.data = i.data.subarray(0, n); i.mask = i.mask.slice(0, n) }
  syncDir(): void {}
  async syncDirAsync(): Promise<void> {}
  openAppend(p: string, opts?: { dsync?: boolean }): AppendFile {
    const key = path.resolve(p)
    let ino = this.names.get(key)
    if (!ino) { ino = new Ino(); this.names.set(key, ino) }
    const node = ino
    const dsync = opts?.dsync === true
    return {
      write: async (data) => {
        const at = node.data.length
        node.data = Buffer.concat([node.data, data])
        const m = new Uint8Array(node.data.length); m.set(node.mask); if (dsync) m.fill(1, at); node.mask = m
        this.log.push(`${path.basename(p)} write ${at}+${data.length}${dsync ? ' O_DSYNC' : ''}`)
      },
      // As NodeAppendFile: a no-op on an O_DSYNC fd.
      datasync: async () => {
        if (dsync) { this.log.push(`${path.basename(p)} datasync (no-op, O_DSYNC)`); return }
        if (this.hangDatasync) { this.log.push(`${path.basename(p)} datasync HANGS (process killed)`); return new Promise<void>(() => undefined) }
        node.mask = new Uint8Array(node.data.length).fill(1)
        this.log.push(`${path.basename(p)} datasync`)
      },
      truncate: async (n) => { node.data = node.data.subarray(0, n); node.mask = node.mask.slice(0, n) },
      close: async () => undefined,
    }
  }
  /** Power loss: bytes never made durable read as zeros. */
  crash(): RangeLayer {
    const img = new RangeLayer()
    for (const [k, i] of this.names) {
      const c = new Ino(); c.data = Buffer.from(i.data); for (let b = 0; b < c.data.length; b++) if (!i.mask[b]) c.data[b] = 0
      c.mask = new Uint8Array(c.data.length).fill(1); img.names.set(k, c)
    }
    return img
  }
}
