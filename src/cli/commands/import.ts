// `islab import`: writes NDJSON events or entries into a database, streaming: the file is read
// a chunk at a time and reading waits for the database (periodic flushes), so a file larger
// than memory imports.
import fs from 'node:fs'
import { fromTaggedJson } from '../../events/taggedJson.js'
import type { BatchOp, Database } from '../../index.js'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError } from '../args.js'
import { openForWriting } from '../edit.js'
import { fmtCount, fmtInt, plural } from '../format.js'
import { stdout } from '../output.js'
import { Progress } from '../progress.js'

export const spec: CommandSpec = {
  name: 'import',
  args: ['dir', 'file'],
  options: {},
  description: `
Reads <file> ('-' for stdin), one JSON object per line, and writes each line as one event:
  {"type":"put","key":"k","value":<tagged JSON>}      what 'islab dump' prints (seq, time and
  {"type":"del","key":"k"}                             iso are ignored: events get new seqs)
  {"type":"batch","ops":[{"type":"put",…},…]}         one atomic batch
  {"type":"entangle","key":"k","partners":["p",…],"strength":0.5}
                                                      db.entangle (strength 0: disentangle)
  {"key":"k","value":<tagged JSON>}                   what 'islab replay --export' prints
Blank lines are skipped, and so are entangle lines without partners (they change nothing). Values use the tagged JSON of 'islab dump', so bigints, Dates,
Buffers, Maps and Sets come back as they were.

Streams with backpressure: memory stays bounded however large the file (the database itself
holds its state in memory). Writes are buffered and flushed to disk every 8 MiB of input and
at the end. On a bad line, everything before it stays written; the message gives the line
number and how to resume. Opens the database, so it needs it closed.`,
  examples: [
    'islab import ./data state.ndjson',
    'islab dump ./old | islab import ./new -',
    'islab replay ./data --to 5000 --export - | islab import ./copy -',
  ],
}

const FLUSH_EVERY_BYTES = 8 << 20

export async function run(args: ParsedArgs): Promise<number> {
  const [dir, file] = args.positionals as [string, string]
  let total: number | undefined
  if (file !== '-') {
    try {
      total = fs.statSync(file).size
    } catch {
      throw new CliError(`cannot read ${file}: no such file`, 2)
    }
  }
  const db = await openForWriting(dir, 'import')
  const firstSeq = db.seq + 1
  const started = performance.now()
  const bar = Progress.start({ label: 'import', totalBytes: total, itemName: 'lines' })
  const counts: Counts = { put: 0, del: 0, batch: 0, entangle: 0 }
  let lineNo = 0
  let bytes = 0
  let sinceFlush = 0
  try {
    const input = file === '-' ? process.stdin : fs.createReadStream(file, { highWaterMark: 1 << 20 })
    let rest = ''
    for await (const chunk of input as AsyncIterable<Buffer>) {
      bytes += chunk.length
      sinceFlush += chunk.length
      const text = rest + chunk.toString('utf8')
      const lines = text.split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        lineNo++
        // One at a time: in buffered mode a write resolves once it is in memory, so this costs
        // a microtask, and a bad line stops the import with nothing after it written.
        await write(db, line, lineNo, counts)
      }
      if (sinceFlush >= FLUSH_EVERY_BYTES) {
        sinceFlush = 0
        await db.flush() // backpressure: the next chunk is read once these writes are on disk
      }
      bar.update(bytes, lineNo)
    }
    if (rest.trim() !== '') {
      lineNo++
      await write(db, rest, lineNo, counts)
    }
    await db.flush()
  } catch (err) {
    await db.flush().catch(() => undefined)
    const message = err instanceof Error ? err.message.replace(/\.$/, '') : String(err)
    const done = db.seq >= firstSeq ? ` The lines before it were written (seqs ${fmtInt(firstSeq)}–${fmtInt(db.seq)}).` : ' Nothing was written.'
    const resume = file === '-' ? '' : ` Resume after fixing it with: tail -n +${lineNo} ${file} | islab import ${dir} -`
    if (err instanceof LineError) throw new CliError(`line ${fmtInt(err.line)}: ${message}.${done}`, 1, resume.trim() || undefined)
    throw err
  } finally {
    bar.finish()
    await db.close()
  }
  const secs = (performance.now() - started) / 1000
  const events = counts.put + counts.del + counts.batch + counts.entangle
  const entangles = counts.entangle > 0 ? `, ${plural(counts.entangle, 'entangle')}` : ''
  stdout.line(
    `Imported ${plural(events, 'event')} (${plural(counts.put, 'put')}, ${plural(counts.del, 'delete')}, ${plural(counts.batch, 'batch', 'batches')}${entangles}) ` +
      `into ${dir}${events > 0 ? `, seqs ${fmtInt(firstSeq)}–${fmtInt(firstSeq + events - 1)}` : ''}, in ${secs.toFixed(2)} s ` +
      `(${fmtCount(events / Math.max(secs, 1e-3))} events/s).`,
  )
  return 0
}

class LineError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message)
  }
}

interface Counts {
  put: number
  del: number
  batch: number
  entangle: number
}

/** Writes one line; the promise rejects with a LineError naming the line. */
function write(db: Database, line: string, n: number, counts: Counts): Promise<unknown> {
  if (line.trim() === '') return Promise.resolve()
  let j: { type?: unknown; key?: unknown; value?: unknown; ops?: unknown; partners?: unknown; strength?: unknown }
  try {
    j = JSON.parse(line) as typeof j
  } catch {
    return Promise.reject(new LineError(n, 'not JSON'))
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return Promise.reject(new LineError(n, 'not a JSON object'))
  const fail = (err: unknown): never => {
    throw new LineError(n, err instanceof Error ? err.message : String(err))
  }
  try {
    if (j.type === 'batch') {
      if (!Array.isArray(j.ops)) throw new Error('a batch needs an "ops" array')
      const ops = (j.ops as { type?: unknown; key?: unknown; value?: unknown }[]).map((o): BatchOp =>
        o?.type === 'del' ? { type: 'del', key: o.key as string } : { type: 'put', key: o?.key as string, value: decode(o?.value) },
      )
      counts.batch++
      return db.batch(ops).catch(fail)
    }
    if (j.type === 'del') {
      counts.del++
      return db.delete(j.key as string).catch(fail)
    }
    if (j.type === 'entangle') {
      const { partners, strength } = j
      if (!Array.isArray(partners)) throw new Error('an entangle line needs a "partners" array of keys')
      if (typeof strength !== 'number') throw new Error('an entangle line needs a number "strength" (0 removes the partners)')
      // Only disentangle() of a key without partners logs none: nothing to write.
      if (partners.length === 0) return Promise.resolve()
      counts.entangle++
      const written = strength === 0 ? db.disentangle(j.key as string, partners as string[]) : db.entangle(j.key as string, partners as string[], { strength })
      return written.catch(fail)
    }
    if (j.type !== undefined && j.type !== 'put') throw new Error(`unknown type ${JSON.stringify(j.type)} (expected put, del, batch or entangle)`)
    if (!('value' in j)) throw new Error('a put needs a "value"')
    counts.put++
    return db.put(j.key as string, decode(j.value)).catch(fail)
  } catch (err) {
    return Promise.reject(new LineError(n, err instanceof Error ? err.message : String(err)))
  }
}

function decode(v: unknown): unknown {
  if (v === undefined) throw new Error('a put needs a "value"')
  return fromTaggedJson(v as never)
}
