// `islab backup`: a consistent copy of a database directory, open elsewhere or not, with the
// history it retains; the copy is then checked as `islab verify` and open() would check it.
import fs from 'node:fs'
import path from 'node:path'
import { CorruptionError } from '../../errors.js'
import { OverlayFileLayer } from '../../io/overlayFileLayer.js'
import { recover } from '../../recovery/recover.js'
import { readLog } from '../../wal/logReader.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError } from '../args.js'
import { files, requireDatabaseDir } from '../dbDir.js'
import { copyLive, isRaced, SourceDamage } from '../liveCopy.js'
import type { LiveCopy } from '../liveCopy.js'
import { fmtBytes, fmtInt, plural } from '../format.js'
import { say, stdout } from '../output.js'

export const spec: CommandSpec = {
  name: 'backup',
  args: ['dir', 'dest'],
  options: {},
  description: `
Copies the database in <dir> into <dest> (a new or empty directory) as a database of its own
that holds a prefix of the source's events: its checkpoints and the WAL it retains, so
history (getAt, history(), changes({ since })) reaches back as far as in the source.

Safe while an application has the database open and writes, rotates, checkpoints and prunes:
checkpoints are copied first, then the segments in order (a segment pruned meanwhile starts
the copy over, keeping what it copied), and the newest segment only up to its last record
known to be durable in the source (written before a commit mark, or covered by the MANIFEST
or a checkpoint), so a power loss of the source cannot make it reuse a seq the copy holds.
A plain 'cp -r' of a live directory is not safe: see docs/cli.md.

Takes no lock and never changes <dir>. The copy is fsynced, then checked in full (every
checkpoint, every record's checksum, the MANIFEST, and open()'s recovery); the seq it holds
is printed. Exit codes: 0 copied and verified, 1 the source is damaged or kept changing, 2
bad usage (<dest> not empty, or inside <dir>).`,
  examples: ['islab backup ./data /backups/data-$(date +%F)', 'islab backup ./data ./copy && islab stats ./copy'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const [dir, dest] = args.positionals as [string, string]
  requireDatabaseDir(dir)
  checkDest(dir, dest)
  const started = performance.now()
  fs.mkdirSync(dest, { recursive: true })
  let copy: LiveCopy
  try {
    copy = await copyLive(files, dir, dest)
  } catch (err) {
    if (err instanceof SourceDamage) {
      throw new CliError(err.message, 1, `'islab verify ${dir}' shows the damage; the partial copy in ${dest} is not a database.`)
    }
    if (isRaced(err)) throw new CliError(err.message, 1, `Run it again; the partial copy in ${dest} is not a database.`)
    throw err
  }
  await verifyCopy(dest, copy)
  const seconds = (performance.now() - started) / 1000
  const log = copy.logFrom === undefined ? 'no WAL' : `WAL seqs ${fmtInt(copy.logFrom)}–${fmtInt(copy.seq)} in ${plural(copy.segments.length, 'segment')}`
  const cps = copy.checkpoints.length === 0 ? 'no checkpoint' : `${plural(copy.checkpoints.length, 'checkpoint')} (seq ${copy.checkpoints.map(fmtInt).join(', ')})`
  stdout.line(`Backed up ${dir} to ${dest}: seq ${fmtInt(copy.seq)}; ${cps}, ${log}; ${fmtBytes(copy.bytes)} in ${seconds.toFixed(2)} s. Verified.`)
  if (copy.sourceSeq > copy.seq) {
    say(
      `note: the source had written up to seq ${fmtInt(copy.sourceSeq)}; seqs after ${fmtInt(copy.seq)} were not yet known durable there ` +
        '(no later commit mark or MANIFEST), so they were left out.',
    )
  }
  for (const d of copy.damagedCheckpoints) say(`note: checkpoint ${d.name} of the source is ${d.reason}; it was left out (recovery skips it too).`)
  if (copy.attempts > 1) say(`note: the source pruned or rewrote files during the copy; it took ${copy.attempts} attempts.`)
  return 0
}

function checkDest(dir: string, dest: string): void {
  const src = path.resolve(dir)
  const abs = path.resolve(dest)
  if (abs === src || abs.startsWith(src + path.sep)) {
    throw new CliError(`${dest} is inside the database directory, which backup never changes`, 2, 'Give a directory elsewhere.')
  }
  if (fs.existsSync(abs) && (!fs.statSync(abs).isDirectory() || fs.readdirSync(abs).length > 0)) {
    throw new CliError(`${dest} already exists and is not an empty directory`, 2, 'Give a new or empty directory: backup does not merge into another database.')
  }
}

/**
 * The copy checked as `islab verify` checks a directory — every checkpoint (verified as it was
 * copied) and every record of every segment — and as open() would recover it (over an overlay,
 * so nothing is changed): it must come back at exactly the seq copied, with nothing to repair.
 */
async function verifyCopy(dest: string, copy: LiveCopy): Promise<void> {
  const fail = (what: string): never => {
    throw new CliError(`the copy in ${dest} does not verify: ${what}`, 1, `This is a bug in 'islab backup'; 'islab verify ${dest}' shows details.`)
  }
  const log = await readLog(files, dest, () => undefined, { fromSeq: 1 })
  if (log.problem !== undefined) fail(`${log.problem.file} at byte ${log.problem.offset}: ${log.problem.reason}`)
  try {
    const r = await recover(new OverlayFileLayer(files), dest, { mode: 'strict' })
    if (r.report.lastSeq !== copy.seq) fail(`open() recovers seq ${r.report.lastSeq}, not ${copy.seq}`)
    if (r.report.tornAt !== undefined || r.report.logFiles.leftoversRemoved.length > 0 || r.report.logFiles.manifestCreated) {
      fail('open() would change files')
    }
  } catch (err) {
    if (err instanceof CorruptionError) fail(err.message)
    throw err
  }
}
