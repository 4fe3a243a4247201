// One writer per database directory. The lock is a file naming the holder's pid (and, on Linux,
// the process start time, so a recycled pid is not mistaken for the holder). A lock whose holder
// is gone — SIGKILL, power loss — is taken over: a crashed database reopens without a manual step.
import fs from 'node:fs'
import path from 'node:path'
import { LockedError } from '../errors.js'
import type { FileLayer } from './fileLayer.js'

export const LOCK_FILE = 'LOCK'

/** Directories locked by Database instances of this process (pid checks cannot tell them apart). */
const heldHere = new Set<string>()

interface LockInfo {
  pid: number
  start: string | undefined
}

export interface DirLock {
  release(): void
}

export function acquireDirLock(files: FileLayer, dir: string): DirLock {
  const key = path.resolve(dir)
  if (heldHere.has(key)) throw new LockedError(dir, process.pid)
  const lockPath = path.join(dir, LOCK_FILE)
  const mine: LockInfo = { pid: process.pid, start: processStart(process.pid) }
  const data = Buffer.from(JSON.stringify(mine))
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      files.createExclusive(lockPath, data)
      heldHere.add(key)
      let released = false
      return {
        release() {
          if (released) return
          released = true
          heldHere.delete(key)
          try {
            files.unlink(lockPath)
          } catch {
            // Already gone: nothing to release.
          }
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = readLock(files, lockPath)
    if (holder !== undefined && holderAlive(holder)) throw new LockedError(dir, holder.pid)
    // Stale: its holder is dead (or it is unreadable, which only a crash mid-create leaves).
    try {
      files.unlink(lockPath)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  throw new LockedError(dir)
}

/** The pid holding the directory's lock, if a live process holds it. */
export function lockHolder(files: FileLayer, dir: string): number | undefined {
  const holder = readLock(files, path.join(dir, LOCK_FILE))
  if (holder === undefined) return undefined
  if (holder.pid === process.pid) return heldHere.has(path.resolve(dir)) ? holder.pid : undefined
  return holderAlive(holder) ? holder.pid : undefined
}

/** Forgets this process's claim on `dir` without touching the file: what a crash leaves behind. */
export function forgetLockForCrashTest(dir: string): void {
  heldHere.delete(path.resolve(dir))
}

function readLock(files: FileLayer, lockPath: string): LockInfo | undefined {
  try {
    const info = JSON.parse(files.readFile(lockPath).toString('utf8')) as Partial<LockInfo>
    return typeof info.pid === 'number' ? { pid: info.pid, start: info.start } : undefined
  } catch {
    return undefined
  }
}

function holderAlive(holder: LockInfo): boolean {
  if (holder.pid === process.pid) return false // not in heldHere: an instance of ours that crashed
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const start = processStart(holder.pid)
  return holder.start === undefined || start === undefined || start === holder.start
}

/** Linux process start time (field 22 of /proc/<pid>/stat), or undefined elsewhere. */
function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}
