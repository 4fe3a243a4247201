// The FileLayer contract as a suite any implementation runs (as abstract-level ships its tests):
// the real fs layer and the crash-simulating one must behave the same while nothing crashes.
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FileLayer } from '../../src/io/fileLayer.js'

export function fileLayerSuite(name: string, make: () => { files: FileLayer; dir: string }): void {
  describe(`FileLayer contract: ${name}`, () => {
    it('appends, reads back, truncates and lists', async () => {
      const { files, dir } = make()
      files.mkdirp(dir)
      const p = path.join(dir, 'a.bin')
      const f = files.openAppend(p)
      await f.write(Buffer.from('hello '))
      await f.write(Buffer.from('world'))
      await f.datasync()
      expect(files.readFile(p).toString()).toBe('hello world')
      expect((await files.readFileAsync(p)).toString()).toBe('hello world')
      expect(files.size(p)).toBe(11)
      await f.truncate(5)
      await f.write(Buffer.from('!'))
      await f.close()
      expect(files.readFile(p).toString()).toBe('hello!')
      files.truncate(p, 4)
      expect(files.readFile(p).toString()).toBe('hell')
      expect(files.list(dir)).toContain('a.bin')
      expect(files.exists(p)).toBe(true)
      expect(files.mtimeMs(p)).toBeGreaterThan(0)
    })

    it('reads a range into a buffer asynchronously, fewer bytes at the end of the file', async () => {
      const { files, dir } = make()
      files.mkdirp(dir)
      const p = path.join(dir, 'r.bin')
      files.writeFileDurable(p, Buffer.from('0123456789'))
      const target = Buffer.alloc(8, '.')
      expect(await files.readIntoAsync(p, 3, target, 1, 4)).toBe(4)
      expect(target.toString()).toBe('.3456...')
      expect(await files.readIntoAsync(p, 8, target, 0, 8)).toBe(2)
      expect(target.subarray(0, 2).toString()).toBe('89')
      expect(await files.readIntoAsync(p, 20, target, 0, 8)).toBe(0)
      await expect(files.readIntoAsync(path.join(dir, 'missing'), 0, target, 0, 1)).rejects.toMatchObject({ code: 'ENOENT' })
    })

    it('creates exclusively, renames, unlinks and syncs directories', async () => {
      const { files, dir } = make()
      files.mkdirp(dir)
      const p = path.join(dir, 'LOCK')
      files.createExclusive(p, Buffer.from('1'))
      expect(() => files.createExclusive(p, Buffer.from('2'))).toThrow(expect.objectContaining({ code: 'EEXIST' }))
      files.rename(p, path.join(dir, 'moved'))
      expect(files.exists(p)).toBe(false)
      expect(files.readFile(path.join(dir, 'moved')).toString()).toBe('1')
      files.writeFileDurable(path.join(dir, 'w'), Buffer.from('data'))
      expect(files.readFile(path.join(dir, 'w')).toString()).toBe('data')
      files.writeFileDurable(path.join(dir, 'x'), Buffer.from('gone'))
      files.unlink(path.join(dir, 'moved'))
      files.syncDir(dir)
      await files.unlinkAsync(path.join(dir, 'x'))
      await files.syncDirAsync(dir)
      expect(files.list(dir).sort()).toEqual(['w'])
      await expect(files.unlinkAsync(path.join(dir, 'x'))).rejects.toMatchObject({ code: 'ENOENT' })
      expect(files.list(path.join(dir, 'missing'))).toEqual([])
      expect(() => files.readFile(path.join(dir, 'nope'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    })
  })
}
