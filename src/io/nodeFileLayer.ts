// The FileLayer over Node's fs: the one used outside tests.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import type { AppendFile, FileLayer } from './fileLayer.js'

class NodeAppendFile implements AppendFile {
  constructor(
    private readonly fd: number,
    private readonly dsync: boolean,
  ) {}

  write(data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (off: number): void => {
        fs.write(this.fd, data, off, data.length - off, null, (err, n) => {
          if (err) reject(err)
          else if (off + n < data.length) step(off + n)
          else resolve()
        })
      }
      step(0)
    })
  }

  datasync(): Promise<void> {
    if (this.dsync) return Promise.resolve()
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())))
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) => fs.ftruncate(this.fd, length, (err) => (err ? reject(err) : resolve())))
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => fs.close(this.fd, (err) => (err ? reject(err) : resolve())))
  }
}

export const nodeFileLayer: FileLayer = {
  mkdirp(dir) {
    fs.mkdirSync(dir, { recursive: true })
  },
  list(dir) {
    try {
      return fs.readdirSync(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  },
  exists(path) {
    return fs.existsSync(path)
  },
  size(path) {
    return fs.statSync(path).size
  },
  mtimeMs(path) {
    return fs.statSync(path).mtimeMs
  },
  readFile(path) {
    return fs.readFileSync(path)
  },
  readFileAsync(path) {
    return new Promise((resolve, reject) => fs.readFile(path, (err, data) => (err ? reject(err) : resolve(data))))
  },
  readRange(path, offset, length) {
    const fd = fs.openSync(path, 'r')
    try {
      const b = Buffer.allocUnsafe(length)
      const n = fs.readSync(fd, b, 0, length, offset)
      return n === length ? b : b.subarray(0, n)
    } finally {
      fs.closeSync(fd)
    }
  },
  readIntoAsync(path, position, target, at, length) {
    return new Promise((resolve, reject) => {
      fs.open(path, 'r', (err, fd) => {
        if (err) return reject(err)
        let n = 0
        const done = (e: Error | null): void => fs.close(fd, (ce) => (e ?? ce ? reject(e ?? ce) : resolve(n)))
        const step = (): void => {
          fs.read(fd, target, at + n, length - n, position + n, (re, got) => {
            if (re) return done(re)
            n += got
            if (got === 0 || n >= length) done(null)
            else step()
          })
        }
        step()
      })
    })
  },
  createExclusive(path, data) {
    // Written under a private name, then linked into place: link() fails with EEXIST like
    // O_EXCL, and a reader never sees the file empty or half-written (the lock relies on it).
    const tmp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`
    fs.writeFileSync(tmp, data, { flag: 'wx' })
    try {
      fs.linkSync(tmp, path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // A file system without hard links: O_EXCL alone, its content written just after.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') fs.writeFileSync(path, data, { flag: 'wx' })
      else throw err
    } finally {
      try {
        fs.unlinkSync(tmp)
      } catch {
        // Left behind: harmless, and the next lock holder removes it once this process is gone.
      }
    }
  },
  writeFileDurable(path, data) {
    const fd = fs.openSync(path, 'w')
    try {
      fs.writeSync(fd, data)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
  unlink(path) {
    fs.unlinkSync(path)
  },
  unlinkAsync(path) {
    return new Promise((resolve, reject) => fs.unlink(path, (err) => (err ? reject(err) : resolve())))
  },
  rename(from, to) {
    fs.renameSync(from, to)
  },
  truncate(path, length) {
    fs.truncateSync(path, length)
  },
  syncDir(dir) {
    const fd = fs.openSync(dir, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
  syncDirAsync(dir) {
    return new Promise((resolve, reject) =>
      fs.open(dir, 'r', (err, fd) => {
        if (err) return reject(err)
        fs.fsync(fd, (syncErr) => fs.close(fd, (closeErr) => (syncErr ?? closeErr ? reject(syncErr ?? closeErr) : resolve())))
      }),
    )
  },
  openAppend(path, opts) {
    const { O_APPEND, O_CREAT, O_WRONLY, O_DSYNC } = fs.constants
    const dsync = opts?.dsync === true && O_DSYNC !== undefined
    return new NodeAppendFile(fs.openSync(path, O_APPEND | O_CREAT | O_WRONLY | (dsync ? O_DSYNC : 0), 0o644), dsync)
  },
}
