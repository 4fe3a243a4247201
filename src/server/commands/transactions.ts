// MULTI/EXEC/DISCARD/WATCH/UNWATCH. EXEC runs the queued commands against one write set and
// submits it as one db.batch: one event, one seq, all or nothing. WATCH is IsLabDB's optimistic
// concurrency: the watched keys' seqs are taken at WATCH; EXEC answers a null array when one
// changed (checked before running, and again by the batch as ifSeq conditions on the writes).
import { ConflictError } from '../../index.js'
import type { Command, CommandContext } from '../command.js'
import { NO_KEYS, ALL_KEYS, command, keyOf, word } from '../command.js'
import { Keyspace } from '../keyspace.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, NIL_ARRAY, OK } from '../resp/reply.js'

const doc = (summary: string, since: string) => ({ group: 'transactions', summary, since })

function multi(ctx: CommandContext): Reply {
  if (ctx.client.multi !== undefined) return new ErrorReply('ERR MULTI calls can not be nested')
  ctx.client.multi = []
  return OK
}

function discard(ctx: CommandContext): Reply {
  if (ctx.client.multi === undefined) return new ErrorReply('ERR DISCARD without MULTI')
  ctx.client.endTransaction()
  return OK
}

function watch(ctx: CommandContext, args: Buffer[]): Reply {
  if (ctx.client.multi !== undefined) return new ErrorReply('ERR WATCH inside MULTI is not allowed')
  const keys = args.slice(1).map(keyOf)
  const watched = (ctx.client.watched ??= new Map())
  for (const k of keys) {
    if (watched.has(k)) continue
    watched.set(k, ctx.db.getEntry(k)?.seq ?? 0)
    ctx.server.watches.add(ctx.client, k)
  }
  // Follow the log's events from now on (at once: a write through the API right after counts).
  ctx.server.keyEvents?.refresh()
  return OK
}

function unwatch(ctx: CommandContext): Reply {
  ctx.client.unwatch()
  return OK
}

function watchedChanged(ctx: CommandContext, watched: ReadonlyMap<string, number>): boolean {
  for (const [k, seq] of watched) if ((ctx.db.getEntry(k)?.seq ?? 0) !== seq) return true
  return false
}

function exec(ctx: CommandContext, waited = false): Reply | Promise<Reply> {
  const client = ctx.client
  if (client.multi === undefined) return new ErrorReply('ERR EXEC without MULTI')
  // A write this server did not make (the embedded API, an expiry) may not have come through the
  // log's events yet: wait for them, still watching, so WATCH sees every write up to now. The
  // connection holds back this client's next commands meanwhile (they must see EXEC's effects).
  const events = ctx.server.keyEvents
  if (client.watched !== undefined && !client.watchDirty && !client.multiFailed && events?.undelivered(ctx.db.seq) === true) {
    // Waited once already and there are newer ones (writes keep coming): abort, as if touched.
    if (waited) client.watchDirty = true
    else {
      client.holdBack = true
      return events.delivery(ctx.db.seq).then(() => exec(ctx, true))
    }
  }
  const queued = client.multi
  const failed = client.multiFailed
  const watched = client.watched
  const dirty = client.watchDirty
  client.endTransaction()
  if (failed) return new ErrorReply('EXECABORT Transaction discarded because of previous errors.')
  if (watched !== undefined && (dirty || watchedChanged(ctx, watched))) return NIL_ARRAY
  // The queued commands run now, synchronously, one after the other: nothing else can run in
  // between, and their writes are collected in one write set.
  const ks = new Keyspace(ctx.db, ctx.ks.events, ctx.client, ctx.server.watches)
  const txCtx: CommandContext = { ...ctx, ks, inExec: true }
  const replies: Reply[] = []
  for (const args of queued) {
    const cmd = ctx.table.get(word(args[0]!))!
    const r = ctx.table.run(txCtx, cmd, args)
    // Commands that wait are `no-multi` and were refused at MULTI time.
    replies.push(r instanceof Promise ? new ErrorReply('ERR Command not allowed inside a transaction') : r)
  }
  const written = ks.commit(watched)
  if (written === undefined) return replies
  return written.then(
    () => replies,
    (err: unknown) => (err instanceof ConflictError ? NIL_ARRAY : ctx.table.errorReply(err)),
  )
}

export const transactionCommands: Command[] = [
  command('multi', 1, ['noscript', 'loading', 'stale', 'fast', 'allow-busy'], NO_KEYS, doc('Starts a transaction.', '1.2.0'), multi),
  command('exec', 1, ['noscript', 'loading', 'stale', 'skip-slowlog'], NO_KEYS, doc('Executes all commands in a transaction.', '1.2.0'), (ctx) => exec(ctx)),
  command('discard', 1, ['noscript', 'loading', 'stale', 'fast', 'allow-busy'], NO_KEYS, doc('Discards a transaction.', '2.0.0'), discard),
  command('watch', -2, ['noscript', 'loading', 'stale', 'fast', 'allow-busy'], ALL_KEYS, doc('Monitors changes to keys to determine the execution of a transaction.', '2.2.0'), watch),
  command('unwatch', 1, ['noscript', 'loading', 'stale', 'fast', 'allow-busy'], NO_KEYS, doc('Forgets about watched keys of a transaction.', '2.2.0'), unwatch),
]
