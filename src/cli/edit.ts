// Opening the database for the commands that write through the public API (put, del, import,
// repair): the lock error becomes a message saying who holds the directory.
import { LockedError, open } from '../index.js'
import type { Database, OpenOptions } from '../index.js'
import { lockedError } from './dbDir.js'

export async function openForWriting(dir: string, command: string, options: OpenOptions = {}): Promise<Database> {
  try {
    return await open({ checkpoint: false, ...options, dir })
  } catch (err) {
    if (err instanceof LockedError) throw lockedError(dir, command, err.holderPid)
    throw err
  }
}
