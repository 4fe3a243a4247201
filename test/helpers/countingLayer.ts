// A FileLayer over Node's fs that counts the bytes it hands out: how tests check that a reader
// reads each byte of the log about once.
import type { FileLayer } from '../../src/io/fileLayer.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'

/** nodeFileLayer, counting the bytes handed out by readRange, readIntoAsync and readFile. */
export function countingLayer(): { files: FileLayer; bytesRead: () => number } {
  let n = 0
  const files: FileLayer = {
    ...nodeFileLayer,
    async readIntoAsync(p, position, target, at, length) {
      const got = await nodeFileLayer.readIntoAsync(p, position, target, at, length)
      n += got
      return got
    },
    readRange(p, offset, length) {
      const b = nodeFileLayer.readRange(p, offset, length)
      n += b.length
      return b
    },
    readFile(p) {
      const b = nodeFileLayer.readFile(p)
      n += b.length
      return b
    },
  }
  return { files, bytesRead: () => n }
}
