// Readies the database directory for open(): checks the path, creates it when allowed, takes the
// one-writer lock, and turns what the file system says (EACCES, ENOTDIR, ...) into coded errors
// that say what to do.
import { parseCheckpointName } from '../checkpoint/format.js'
import { ExistsError, InvalidOptionError, IslabError, NotFoundError, NotWritableError } from '../errors.js'
import { acquireDirLock } from '../io/dirLock.js'
import type { DirLock } from '../io/dirLock.js'
import type { FileLayer } from '../io/fileLayer.js'
import { parseSegmentName } from '../wal/format.js'
import { MANIFEST_FILE } from '../wal/manifest.js'

export interface DirOptions {
  createIfMissing: boolean
  errorIfExists: boolean
}

export function openDir(files: FileLayer, dir: string, o: DirOptions): DirLock {
  let lock: DirLock
  try {
    // Nothing is created when the database must exist and does not.
    if (!o.createIfMissing && !holdsDatabase(files, dir)) throw new NotFoundError(dir)
    files.mkdirp(dir)
    lock = acquireDirLock(files, dir)
  } catch (err) {
    throw dirError(dir, err)
  }
  try {
    // Checked under the lock: no other writer can be creating the database meanwhile.
    if (!o.createIfMissing && !holdsDatabase(files, dir)) throw new NotFoundError(dir)
    if (o.errorIfExists && holdsDatabase(files, dir)) throw new ExistsError(dir)
  } catch (err) {
    lock.release()
    throw dirError(dir, err)
  }
  return lock
}

/**
 * A database is there when the directory holds a WAL segment, a checkpoint or a MANIFEST (which
 * every open writes: a database opened once and never written to exists too, as in LevelDB).
 */
export function holdsDatabase(files: FileLayer, dir: string): boolean {
  return files.list(dir).some((n) => n === MANIFEST_FILE || parseSegmentName(n) !== undefined || parseCheckpointName(n) !== undefined)
}

/** The coded error for a failure to ready `dir`; IslabErrors pass through. */
export function dirError(dir: string, err: unknown): unknown {
  if (err instanceof IslabError) return err
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'EEXIST':
    case 'ENOTDIR':
      return new InvalidOptionError(
        `dir ${JSON.stringify(dir)} is a file, or has a file where a directory should be; give the path of a directory ` +
          '(it is created when missing)',
      )
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new NotWritableError(dir, err)
    default:
      return err
  }
}
