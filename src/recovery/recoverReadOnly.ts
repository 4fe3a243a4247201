// The recovery of a read-only open: the real recovery (recover.ts: newest valid checkpoint, the
// log after it, the MANIFEST's checks, strict or point-in-time) run over a copy-on-write overlay,
// so whatever it would change — a torn tail cut, a MANIFEST rewritten, leftovers deleted — is
// changed in memory only and the directory is left exactly as it was. No lock is taken: a writer
// in another process may be appending, rotating and pruning meanwhile.
//
// The writer orders every change of the directory so that any moment of it is a state a crash
// could leave (docs/wal-format.md, MANIFEST), and recovery accepts those. A reader that sees two
// moments at once can still be misled: the MANIFEST read before a prune, the files listed after it
// (a named segment missing), or a checkpoint deleted while it is read (ENOENT). Such a recovery
// is run again; a failure that stays while the MANIFEST stays the same is real.
import path from 'node:path'
import { CorruptionError, NotFoundError } from '../errors.js'
import type { FileLayer } from '../io/fileLayer.js'
import { OverlayFileLayer } from '../io/overlayFileLayer.js'
import { holdsDatabase } from '../db/openDir.js'
import { MANIFEST_FILE } from '../wal/manifest.js'
import { recover } from './recover.js'
import type { RecoverOptions, Recovered } from './recover.js'

const ATTEMPTS = 5

export async function recoverReadOnly(files: FileLayer, dir: string, opts: RecoverOptions): Promise<Recovered> {
  if (!holdsDatabase(files, dir)) throw new NotFoundError(dir, true)
  for (let attempt = 1; ; attempt++) {
    const before = manifestBytes(files, dir)
    try {
      return await recover(new OverlayFileLayer(files), dir, opts)
    } catch (err) {
      const raced =
        (err as NodeJS.ErrnoException).code === 'ENOENT' || (err instanceof CorruptionError && !same(before, manifestBytes(files, dir)))
      if (!raced || attempt >= ATTEMPTS) throw err
    }
  }
}

function manifestBytes(files: FileLayer, dir: string): Buffer | undefined {
  try {
    return files.readFile(path.join(dir, MANIFEST_FILE))
  } catch {
    return undefined
  }
}

function same(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.equals(b)
}
