// One writer per database directory. The lock is the file LOCK, created with O_EXCL, naming its
// holder: pid, process start time (Linux: so a recycled pid is not mistaken for the holder) and a
// token unique to this acquisition. The file is the lock, whatever path reached the directory
// (symlinks, bind mounts, relative paths): there is no in-process key that two paths could miss.
//
// A lock whose holder is dead (SIGKILL, power loss) is taken over, so a crashed database reopens
// by itself. Takeover must be atomic — two racers who both saw the dead holder must not both win —
// and POSIX has no compare-and-swap on a file, so only a *claim* may remove a dead LOCK:
//
//   1. Read LOCK; its holder is dead. Its bytes name the takeover: `LOCK.takeover.<hash>.0`.
//   2. Create that claim with O_EXCL. Exactly one racer succeeds; the others stop (ISLAB_LOCKED)
//      while the claimant lives.
//   3. The claimant re-reads LOCK and unlinks it only if it still holds those same bytes, then
//      competes for a fresh LOCK with O_EXCL like any opener.
//   4. A claimant that died inside its claim is never unlinked over (that would be the same race
//      one level up): the next racer claims level 1, `LOCK.takeover.<hash>.1`, and so on. A level
//      is entered only by one who saw every lower claimant dead, so one live claimant at most.
//
// The re-read in step 3 is safe because a LOCK's bytes never come back once removed (the token
// is unique) and only the holder (dead) or the one live claimant of those bytes removes it.
// Files are created with all their content at once (FileLayer.createExclusive), so a reader
// never mistakes a half-written LOCK of a live process for a dead one.
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { LockedError } from '../errors.js'
import type { FileLayer } from './fileLayer.js'

export const LOCK_FILE = 'LOCK'
const CLAIM_PREFIX = `${LOCK_FILE}.takeover.`
/** Claimants dying inside their claim, one after another, this often: give up rather than loop. */
const MAX_CLAIM_LEVELS = 32
const MAX_ATTEMPTS = 8

/** What a LOCK (or claim) file says about its holder. */
export interface LockInfo {
  pid: number
  start: string | undefined
  token: string | undefined
}

/** Who is taking the lock, and how it judges other holders; tests play several processes with it. */
export interface LockOwner {
  readonly pid: number
  readonly start: string | undefined
  isAlive(holder: LockInfo): boolean
}

export interface DirLock {
  release(): void
}

/** Locks held by this process: token → real path of the directory (for the crash-test hook). */
const heldHere = new Map<string, string>()
/** Tokens of this process's locks that a crash test declared dead. */
const crashedHere = new Set<string>()

/** This process: a holder naming our pid is us (another instance or worker thread), never stale. */
export const thisProcess: LockOwner = {
  pid: process.pid,
  start: processStart(process.pid),
  isAlive(holder) {
    if (holder.pid === process.pid) {
      // Same pid, other start time: an earlier process that had our pid.
      if (holder.start !== undefined && this.start !== undefined && holder.start !== this.start) return false
      return holder.token === undefined || !crashedHere.has(holder.token)
    }
    return otherProcessAlive(holder)
  },
}

export function acquireDirLock(files: FileLayer, dir: string, owner: LockOwner = thisProcess): DirLock {
  const lockPath = path.join(dir, LOCK_FILE)
  const mine: LockInfo = { pid: owner.pid, start: owner.start, token: randomBytes(12).toString('hex') }
  const data = Buffer.from(JSON.stringify(mine))
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      files.createExclusive(lockPath, data)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const raw = readRaw(files, lockPath)
      if (raw === undefined) continue // released meanwhile: try again
      const holder = parseLock(raw)
      if (holder !== undefined && owner.isAlive(holder)) throw new LockedError(dir, holder.pid)
      // Dead holder (or bytes no live process writes: a power loss left the file empty).
      takeOver(files, dir, raw, data, owner)
      continue
    }
    removeLeftovers(files, dir, owner)
    return held(files, dir, lockPath, data, mine.token!, owner)
  }
  throw new LockedError(dir)
}

/** Removes the LOCK holding `raw` under a claim, or learns that someone else already did. */
function takeOver(files: FileLayer, dir: string, raw: Buffer, mine: Buffer, owner: LockOwner): void {
  const subject = createHash('sha256').update(raw).digest('hex').slice(0, 24)
  for (let level = 0; level < MAX_CLAIM_LEVELS; level++) {
    const claimPath = path.join(dir, `${CLAIM_PREFIX}${subject}.${level}`)
    try {
      files.createExclusive(claimPath, mine)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const claimRaw = readRaw(files, claimPath)
      if (claimRaw === undefined) return // its claimant finished: LOCK no longer holds `raw`
      const claimant = parseLock(claimRaw)
      if (claimant !== undefined && owner.isAlive(claimant)) throw new LockedError(dir, claimant.pid)
      continue // the claimant died inside its claim: compete one level up
    }
    try {
      const now = readRaw(files, path.join(dir, LOCK_FILE))
      if (now !== undefined && now.equals(raw)) unlinkIfThere(files, path.join(dir, LOCK_FILE))
    } finally {
      unlinkIfThere(files, claimPath)
    }
    return
  }
  throw new LockedError(dir)
}

/**
 * Claims of finished takeovers (a claimant killed inside one leaves it). Safe to remove once we
 * hold LOCK: every claim is about bytes LOCK no longer holds, so a late claimant re-reads LOCK,
 * finds our bytes and changes nothing.
 */
function removeLeftovers(files: FileLayer, dir: string, owner: LockOwner): void {
  let names: string[]
  try {
    names = files.list(dir)
  } catch {
    return
  }
  for (const name of names) {
    if (name.startsWith(CLAIM_PREFIX) && !name.endsWith('.tmp')) unlinkIfThere(files, path.join(dir, name))
    // A temporary file of createExclusive whose process was killed before it removed it.
    const tmp = /^LOCK.*\.(\d+)-[0-9a-f]+\.tmp$/.exec(name)
    if (tmp !== null && !owner.isAlive({ pid: Number(tmp[1]), start: undefined, token: undefined })) {
      unlinkIfThere(files, path.join(dir, name))
    }
  }
}

function held(files: FileLayer, dir: string, lockPath: string, data: Buffer, token: string, owner: LockOwner): DirLock {
  const trackHere = owner === thisProcess
  if (trackHere) heldHere.set(token, realDir(dir))
  let released = false
  return {
    release() {
      if (released) return
      released = true
      if (trackHere) heldHere.delete(token)
      // Only our own LOCK: after a simulated crash the file may name a later holder.
      const now = readRaw(files, lockPath)
      if (now !== undefined && now.equals(data)) unlinkIfThere(files, lockPath)
    },
  }
}

/** The pid holding the directory's lock, if a live process (this one included) holds it. */
export function lockHolder(files: FileLayer, dir: string): number | undefined {
  const raw = readRaw(files, path.join(dir, LOCK_FILE))
  const holder = raw === undefined ? undefined : parseLock(raw)
  return holder !== undefined && thisProcess.isAlive(holder) ? holder.pid : undefined
}

/**
 * Makes this process's locks on `dir` look like what a crash leaves behind: the LOCK file stays
 * and names us, but is judged dead, as if a new process with our pid were opening it.
 */
export function forgetLockForCrashTest(dir: string): void {
  const key = realDir(dir)
  for (const [token, d] of heldHere) {
    if (d !== key) continue
    heldHere.delete(token)
    crashedHere.add(token)
  }
}

/** The directory's real path (symlinks resolved); the resolved path when it is not on the real fs. */
function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir)
  } catch {
    return path.resolve(dir)
  }
}

function readRaw(files: FileLayer, p: string): Buffer | undefined {
  try {
    return files.readFile(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function parseLock(raw: Buffer): LockInfo | undefined {
  try {
    const info = JSON.parse(raw.toString('utf8')) as Partial<LockInfo>
    if (typeof info.pid !== 'number') return undefined
    return {
      pid: info.pid,
      start: typeof info.start === 'string' ? info.start : undefined,
      token: typeof info.token === 'string' ? info.token : undefined,
    }
  } catch {
    return undefined
  }
}

function unlinkIfThere(files: FileLayer, p: string): void {
  try {
    files.unlink(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

function otherProcessAlive(holder: LockInfo): boolean {
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    // EPERM: a live process of another user.
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
