// The change log as read-only Redis streams (changeLog.ts): XRANGE, XREVRANGE, XLEN, XREAD
// (COUNT, BLOCK, `$`, resume after an ID). IsLabDB has no stream type of its own, so every other
// key reads as an empty stream (absent) or WRONGTYPE, as in Redis; writes to the change-log keys
// (XADD, SET, DEL, ...) are refused with CHANGE_LOG_READ_ONLY.
//
// These commands wait for the log, so they are `no-multi` (EXEC runs synchronously). XREAD BLOCK
// waits on db.changes() live; the connection's other commands wait behind it (as in Redis), the
// other connections do not; a timeout, a disconnect or the database closing ends the wait.
import { HistoryGoneError } from '../../index.js'
import type { Command, CommandContext } from '../command.js'
import { ONE_KEY, command, keyOf, word } from '../command.js'
import { CHANGE_LOG_READ_ONLY, MAX_ID, MIN_ID, changeLogPrefix, compareIds, entryReply, formatId, readEntries, readLast, readRetained } from '../changeLog.js'
import type { StreamEntry, StreamId } from '../changeLog.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, Errors, MapReply, NIL_ARRAY } from '../resp/reply.js'
import { parseInt64 } from '../values.js'
import { fail } from './access.js'

const doc = (summary: string, since: string) => ({ group: 'stream', summary, since })

export const Stream = {
  invalidId: new ErrorReply('ERR Invalid stream ID specified as stream command argument'),
  invalidStart: new ErrorReply('ERR invalid start ID for the interval'),
  invalidEnd: new ErrorReply('ERR invalid end ID for the interval'),
  readOnly: CHANGE_LOG_READ_ONLY,
  noStreams: new ErrorReply('ERR IsLabDB has no stream type: the only streams are the read-only change log, __changes__ and __changes__:<prefix>'),
}

const U64_MAX = 18446744073709551615n

function u64(s: string): number | undefined {
  if (!/^[0-9]{1,20}$/.test(s)) return undefined
  const b = BigInt(s)
  // The largest u64 is `+`'s value: MAX_ID's parts.
  return b > U64_MAX ? undefined : b === U64_MAX ? Number.MAX_VALUE : Number(b)
}

/** `<seq>` or `<seq>-<n>` (a missing n is `missingN`); `-` and `+` when `special`. */
function parseId(arg: Buffer, missingN: number, special = true): StreamId {
  const s = arg.toString('latin1')
  if (special && s === '-') return MIN_ID
  if (special && s === '+') return MAX_ID
  const dash = s.indexOf('-')
  const seq = u64(dash < 0 ? s : s.slice(0, dash))
  const n = dash < 0 ? missingN : u64(s.slice(dash + 1))
  if (seq === undefined || n === undefined) fail(Stream.invalidId)
  return { seq, n }
}

/** A range bound, with XRANGE's exclusive form `(id`. */
function parseBound(arg: Buffer, start: boolean): StreamId {
  if (arg[0] !== 0x28) return parseId(arg, start ? 0 : Number.MAX_VALUE)
  const id = parseId(arg.subarray(1), start ? 0 : Number.MAX_VALUE, false)
  if (start) {
    if (id.n !== Number.MAX_VALUE) return { seq: id.seq, n: id.n + 1 }
    if (id.seq === Number.MAX_VALUE) fail(Stream.invalidStart)
    return { seq: id.seq + 1, n: 0 }
  }
  if (id.n > 0) return { seq: id.seq, n: id.n - 1 }
  if (id.seq === 0) fail(Stream.invalidEnd)
  return { seq: id.seq - 1, n: Number.MAX_VALUE }
}

/** The stream a key names: its prefix; undefined for a key that is no stream (absent: empty). */
function streamOf(ctx: CommandContext, arg: Buffer): string | undefined {
  const key = keyOf(arg)
  const prefix = changeLogPrefix(key)
  if (prefix === undefined && ctx.ks.has(key)) fail(Errors.wrongType)
  return prefix
}

function parseCount(args: Buffer[], at: number): number | undefined {
  if (at === args.length) return undefined
  if (args.length !== at + 2 || word(args[at]!) !== 'count') fail(Errors.syntax)
  const n = parseInt64(args[at + 1]!) ?? fail(Errors.notInteger)
  return Math.max(0, Number(n))
}

/** The entry just before `id` (XRANGE's start is inclusive, readEntries' `after` exclusive). */
function before(id: StreamId): StreamId {
  if (id.n > 0) return { seq: id.seq, n: id.n - 1 }
  if (id.seq === 0) return { seq: 0, n: -1 }
  return { seq: id.seq - 1, n: Number.MAX_VALUE }
}

async function xrange(ctx: CommandContext, args: Buffer[], reverse: boolean): Promise<Reply> {
  const prefix = streamOf(ctx, args[1]!)
  const start = parseBound(args[reverse ? 3 : 2]!, true)
  const end = parseBound(args[reverse ? 2 : 3]!, false)
  const count = parseCount(args, 4)
  if (prefix === undefined || compareIds(start, end) > 0 || count === 0) return []
  const entries = reverse
    ? await readLast(ctx.db, prefix, before(start), end, count ?? Infinity)
    : await readRetained(ctx.db, prefix, { after: before(start), until: end, count })
  return entries.map(entryReply)
}

async function xlen(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const prefix = streamOf(ctx, args[1]!)
  if (prefix === undefined) return 0
  // The retained log, counted: this reads it (IsLabDB keeps no count per prefix).
  return (await readRetained(ctx.db, prefix, { after: { seq: 0, n: -1 } })).length
}

interface XreadRequest {
  count: number | undefined
  /** ms; 0 waits for ever; undefined: no BLOCK. */
  block: number | undefined
  keys: Buffer[]
  ids: (StreamId | '$')[]
}

const UNBALANCED = new ErrorReply("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")

function parseXread(args: Buffer[]): XreadRequest {
  const r: XreadRequest = { count: undefined, block: undefined, keys: [], ids: [] }
  let i = 1
  for (; i < args.length; i++) {
    const w = word(args[i]!)
    const more = i + 1 < args.length
    if (w === 'streams') break
    if (w === 'count' && more) {
      const n = parseInt64(args[++i]!) ?? fail(Errors.notInteger)
      r.count = n <= 0 ? undefined : Number(n)
    } else if (w === 'block' && more) {
      const n = parseInt64(args[++i]!) ?? fail(new ErrorReply('ERR timeout is not an integer or out of range'))
      if (n < 0) fail(new ErrorReply('ERR timeout is negative'))
      r.block = Number(n)
    } else fail(Errors.syntax)
  }
  if (i >= args.length) fail(Errors.syntax)
  const rest = args.length - i - 1
  if (rest === 0 || rest % 2 !== 0) fail(UNBALANCED)
  const n = rest / 2
  r.keys = args.slice(i + 1, i + 1 + n)
  for (let j = 0; j < n; j++) {
    const a = args[i + 1 + n + j]!
    r.ids.push(a.length === 1 && a[0] === 0x24 ? '$' : parseId(a, 0, false))
  }
  return r
}

/** Names what a resume from an ID older than the retained log would skip, and what to do. */
function historyGone(key: string, after: StreamId, err: HistoryGoneError): ErrorReply {
  return new ErrorReply(
    `ERR ${key}: the change log after ${formatId(after)} is no longer retained (the oldest entry is ${err.oldestSeq}-0), so a resume from there would skip changes. ` +
      'Read from 0 to start over at the oldest entry, or keep more log (open the database with history: { retainSegments } or { retainMs }).',
  )
}

async function xread(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const req = parseXread(args)
  const streams: { key: string; prefix: string | undefined; after: StreamId }[] = []
  for (let j = 0; j < req.keys.length; j++) {
    const prefix = streamOf(ctx, req.keys[j]!)
    const id = req.ids[j]!
    // `$`: what is newest now; the stream holds durable changes only, so that is durableSeq.
    const after = id === '$' ? { seq: ctx.db.durableSeq, n: Number.MAX_VALUE } : id
    if (id !== '$' && id.seq > ctx.db.seq) {
      fail(new ErrorReply(`ERR ${keyOf(req.keys[j]!)}: the ID ${formatId(id)} is past the change log's last entry (seq ${ctx.db.seq}); it comes from another database`))
    }
    streams.push({ key: keyOf(req.keys[j]!), prefix, after })
  }
  const results: [string, StreamEntry[]][] = []
  for (const s of streams) {
    if (s.prefix === undefined) continue
    const entries = await readFrom(ctx, s.key, s.prefix, s.after, req.count)
    if (entries instanceof ErrorReply) return entries
    if (entries.length > 0) results.push([s.key, entries])
  }
  if (results.length === 0 && req.block !== undefined) {
    const waited = await waitForEntries(ctx, streams, req)
    if (waited instanceof ErrorReply) return waited
    if (waited !== undefined) results.push(waited)
  }
  if (results.length === 0) return NIL_ARRAY
  const replies = results.map(([key, entries]) => [key, entries.map(entryReply)] as [Reply, Reply])
  return ctx.client.protocol === 3 ? new MapReply(replies) : replies
}

/** Entries after `after`; a resume from an ID the log no longer holds is an error (not a silent gap). */
async function readFrom(ctx: CommandContext, key: string, prefix: string, after: StreamId, count: number | undefined, signal?: AbortSignal): Promise<StreamEntry[] | ErrorReply> {
  const live = signal !== undefined
  try {
    return await readEntries(ctx.db, prefix, { after, count, live, signal })
  } catch (err) {
    if (!(err instanceof HistoryGoneError)) throw err
    // From 0: the reader asked for everything there is, from the oldest entry on.
    if (after.seq === 0) return readRetained(ctx.db, prefix, { after, count })
    // Only the rest of event `after.seq` is gone (a database in memory mode keeps no log): the
    // reader saw that event's start; what follows it is all there.
    if (err.oldestSeq > after.seq && after.seq >= ctx.db.seq) return readEntries(ctx.db, prefix, { after: { seq: after.seq, n: Number.MAX_VALUE }, count, live, signal })
    return historyGone(key, after, err)
  }
}

/** Node's setTimeout fires at once past 2^31 - 1 ms (about 24.8 days): longer waits go in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Calls `fn` after `ms` milliseconds, however many (BLOCK takes any int64). */
export function longTimeout(ms: number, fn: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout
  const end = Date.now() + ms
  const arm = (left: number): void => {
    timer = setTimeout(() => {
      const rest = end - Date.now()
      if (rest > 0) arm(rest)
      else fn()
    }, Math.min(left, MAX_TIMER_MS))
  }
  arm(ms)
  return { cancel: () => clearTimeout(timer) }
}

/** XREAD BLOCK: the first stream to get an entry answers; timeout, disconnect or close: none. */
async function waitForEntries(
  ctx: CommandContext,
  streams: { key: string; prefix: string | undefined; after: StreamId }[],
  req: XreadRequest,
): Promise<[string, StreamEntry[]] | ErrorReply | undefined> {
  const stop = new AbortController()
  const gone = ctx.client.gone.signal
  const onGone = (): void => stop.abort()
  gone.addEventListener('abort', onGone)
  const timer = req.block! > 0 ? longTimeout(req.block!, () => stop.abort()) : undefined
  ctx.server.blockedClients++
  try {
    const waits = streams
      .filter((s) => s.prefix !== undefined)
      .map(async (s) => {
        const r = await readFrom(ctx, s.key, s.prefix!, s.after, req.count, stop.signal)
        if (r instanceof ErrorReply || r.length > 0) stop.abort()
        return [s.key, r] as const
      })
    if (waits.length === 0) {
      // No change-log key: nothing will ever come; wait out the timeout (Redis waits for an XADD).
      await new Promise<void>((resolve) => (stop.signal.aborted ? resolve() : stop.signal.addEventListener('abort', () => resolve())))
      return undefined
    }
    for (const [key, r] of await Promise.all(waits)) {
      if (r instanceof ErrorReply) return r
      if (r.length > 0) return [key, r]
    }
    return undefined
  } finally {
    timer?.cancel()
    gone.removeEventListener('abort', onGone)
    ctx.server.blockedClients--
  }
}

function refuseWrite(ctx: CommandContext, args: Buffer[]): Reply {
  return changeLogPrefix(keyOf(args[1]!)) !== undefined ? Stream.readOnly : Stream.noStreams
}

const NO_MULTI = ['readonly', 'no-multi']

export const streamCommands: Command[] = [
  command('xrange', -4, NO_MULTI, ONE_KEY, doc('Returns the messages from a stream within a range of IDs.', '5.0.0'), (ctx, a) => xrange(ctx, a, false)),
  command('xrevrange', -4, NO_MULTI, ONE_KEY, doc('Returns the messages from a stream within a range of IDs in reverse order.', '5.0.0'), (ctx, a) => xrange(ctx, a, true)),
  command('xlen', 2, NO_MULTI, ONE_KEY, doc('Return the number of messages in a stream.', '5.0.0'), xlen),
  command('xread', -4, ['readonly', 'blocking', 'no-multi'], [0, 0, 0], doc('Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.', '5.0.0'), xread),
  command('xadd', -5, ['write', 'denyoom', 'fast'], ONE_KEY, doc('Appends a new message to a stream (refused: the change log is read-only).', '5.0.0'), refuseWrite),
  command('xdel', -3, ['write', 'fast'], ONE_KEY, doc('Returns the number of messages after removing them from a stream (refused: the change log is read-only).', '5.0.0'), refuseWrite),
  command('xtrim', -4, ['write'], ONE_KEY, doc('Deletes messages from the beginning of a stream (refused: the change log is read-only).', '5.0.0'), refuseWrite),
]
