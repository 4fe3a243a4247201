// The database directory as the CLI sees it: does it exist, is it a database, is a writer
// holding it. Read-only commands use `nodeFileLayer` directly and never take the lock.
import fs from 'node:fs'
import { parseCheckpointName } from '../checkpoint/format.js'
import { LockedError } from '../errors.js'
import { acquireDirLock, lockHolder } from '../io/dirLock.js'
import type { DirLock } from '../io/dirLock.js'
import { nodeFileLayer } from '../io/nodeFileLayer.js'
import { parseSegmentName } from '../wal/format.js'
import { MANIFEST_FILE } from '../wal/manifest.js'
import { CliError } from './args.js'

export const files = nodeFileLayer

/** Fails (exit 2) unless `dir` is an existing directory that is empty or holds IsLabDB files. */
export function requireDatabaseDir(dir: string): void {
  let st: fs.Stats
  try {
    st = fs.statSync(dir)
  } catch {
    throw new CliError(`${dir} does not exist`, 2, 'Give the path of a database directory (the `dir` passed to open()).')
  }
  if (!st.isDirectory()) throw new CliError(`${dir} is not a directory`, 2, 'Give the path of a database directory, not of a file in it.')
  const names = files.list(dir)
  const ours = names.some((n) => parseSegmentName(n) !== undefined || parseCheckpointName(n) !== undefined || n === 'LOCK' || n === MANIFEST_FILE)
  if (!ours && names.length > 0) {
    throw new CliError(
      `${dir} does not look like an IsLabDB database: it has no WAL segments (*.wal) or checkpoints (*.ckpt)`,
      2,
      'Check the path: it is the `dir` the application passes to open().',
    )
  }
}

/** Files moved aside by recovery or repair (*.damaged) or left by interrupted work (*.tmp, *.rewrite). */
export function otherFiles(dir: string): string[] {
  return files
    .list(dir)
    .filter((n) => /\.(damaged(\.\d+)?|tmp|rewrite)$/.test(n))
    .sort()
}

/** Pid of the live process holding the directory, if any. */
export function writerPid(dir: string): number | undefined {
  return lockHolder(files, dir)
}

/**
 * Runs a read of the directory, again if a file vanished under it: a writer that is running
 * deletes old segments and checkpoints after each checkpoint.
 */
export async function retryIfVanished<T>(read: () => T | Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err
    }
  }
}

/** Takes the directory lock for a command that rewrites files, or explains who holds it. */
export function lockForWriting(dir: string, command: string): DirLock {
  try {
    return acquireDirLock(files, dir)
  } catch (err) {
    if (err instanceof LockedError) throw lockedError(dir, command, err.holderPid)
    throw err
  }
}

export function lockedError(dir: string, command: string, pid: number | undefined): CliError {
  return new CliError(
    `${dir} is open in process ${pid ?? '(unknown)'}; \`islab ${command}\` changes the database, so it needs it closed`,
    1,
    'Stop that process first (or make the change through it). Read-only commands (stats, dump, verify, replay, backup, tail, get) work while it runs.',
  )
}
