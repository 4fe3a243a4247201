// The file operations the database needs, behind one interface so that crash tests can run
// the real engine over a layer that records writes and fsyncs and drops what was not synced.
// Metadata and small whole-file reads are synchronous (they run at open and rotation); appends,
// syncs and the reads of whole segments are asynchronous so that the event loop keeps turning
// (writers keep queueing, timers fire) while they are in flight.

export interface AppendFile {
  /** Appends all of `data` at the end of the file. */
  write(data: Uint8Array): Promise<void>
  /** Makes everything written so far durable (fdatasync). */
  datasync(): Promise<void>
  /** Cuts the file back to `length` bytes (used to drop a failed partial write). */
  truncate(length: number): Promise<void>
  close(): Promise<void>
}

export interface FileLayer {
  mkdirp(dir: string): void
  /** File names in `dir`; an empty list when the directory does not exist. */
  list(dir: string): string[]
  exists(path: string): boolean
  size(path: string): number
  /** Last modification time in ms since the epoch. */
  mtimeMs(path: string): number
  readFile(path: string): Buffer
  /** readFile off the event loop: for whole segments read at open (tens of MiB, a stall when read synchronously). */
  readFileAsync(path: string): Promise<Buffer>
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  readRange(path: string, offset: number, length: number): Buffer
  /**
   * Reads up to `length` bytes from file offset `position` into `target` at `at`, off the event
   * loop; resolves with the count (fewer at the end of the file). The log reader's windows.
   */
  readIntoAsync(path: string, position: number, target: Buffer, at: number, length: number): Promise<number>
  /**
   * Creates the file with `data`; throws an error with code 'EEXIST' when it exists. Readers see
   * the whole of `data` or no file, never an empty or partial one (the directory lock relies on it).
   */
  createExclusive(path: string, data: Uint8Array): void
  /** Writes a whole file and makes it durable (used for small metadata files). */
  writeFileDurable(path: string, data: Uint8Array): void
  unlink(path: string): void
  /** unlink off the event loop: pruning deletes many (and large) files at once. */
  unlinkAsync(path: string): Promise<void>
  rename(from: string, to: string): void
  truncate(path: string, length: number): void
  /** Makes entries created, renamed or removed in `dir` durable. */
  syncDir(dir: string): void
  /** syncDir off the event loop (an fsync of the directory after pruning). */
  syncDirAsync(dir: string): Promise<void>
  /**
   * Opens (creating if needed) a file for appending. With `dsync`, every write is durable when
   * it completes (O_DSYNC): one system call per commit instead of write + fdatasync.
   */
  openAppend(path: string, opts?: { dsync?: boolean }): AppendFile
}
