// CLIENT TRACKING, CLIENT CACHING, CLIENT TRACKINGINFO, CLIENT GETREDIR: the switches of
// server-assisted client-side caching (tracking.ts), with Redis's checks and error texts.
import type { Command, CommandContext } from '../command.js'
import { NO_KEYS, command, word } from '../command.js'
import type { Reply } from '../resp/reply.js'
import { ErrorReply, Errors, MapReply, OK, SetReply } from '../resp/reply.js'
import type { TrackingMode } from '../tracking.js'
import { intArg } from './access.js'

const doc = (summary: string, since: string) => ({ group: 'connection', summary, since })

/** Redis's stringCheckPrefix: one is a prefix of the other. */
function overlaps(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length)
  return a.slice(0, n) === b.slice(0, n)
}

function tracking(ctx: CommandContext, args: Buffer[]): Reply {
  const client = ctx.client
  let redirect = 0
  let bcast = false
  let optin = false
  let optout = false
  let noloop = false
  const prefixes: string[] = []
  for (let j = 3; j < args.length; j++) {
    const w = word(args[j]!)
    const more = j + 1 < args.length
    if (w === 'redirect' && more) {
      j++
      if (redirect !== 0) return new ErrorReply('ERR A client can only redirect to a single other client')
      redirect = intArg(args[j]!)
      if (!ctx.server.clients.has(redirect)) return new ErrorReply('ERR The client ID you want redirect to does not exist')
    } else if (w === 'bcast') bcast = true
    else if (w === 'optin') optin = true
    else if (w === 'optout') optout = true
    else if (w === 'noloop') noloop = true
    else if (w === 'prefix' && more) prefixes.push(args[++j]!.toString('utf8'))
    else return Errors.syntax
  }
  const onOff = word(args[2]!)
  if (onOff === 'off') {
    ctx.server.tracking.off(client)
    ctx.server.keyEvents?.refresh()
    return OK
  }
  if (onOff !== 'on') return Errors.syntax
  const current = client.tracking
  if (!bcast && prefixes.length > 0) return new ErrorReply('ERR PREFIX option requires BCAST mode to be enabled')
  if (current !== undefined && current.bcast !== bcast) {
    return new ErrorReply("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
  }
  if (bcast && (optin || optout)) return new ErrorReply('ERR OPTIN and OPTOUT are not compatible with BCAST')
  if (optin && optout) return new ErrorReply("ERR You can't specify both OPTIN mode and OPTOUT mode")
  if (current !== undefined && ((optin && current.optout) || (optout && current.optin))) {
    return new ErrorReply("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
  }
  const existing = current?.prefixes ?? []
  if (bcast) {
    for (let i = 0; i < prefixes.length; i++) {
      for (const e of existing) {
        if (overlaps(e, prefixes[i]!)) return new ErrorReply(`ERR Prefix '${prefixes[i]}' overlaps with an existing prefix '${e}'. Prefixes for a single client must not overlap.`)
      }
      for (let j = i + 1; j < prefixes.length; j++) {
        if (overlaps(prefixes[i]!, prefixes[j]!)) {
          return new ErrorReply(`ERR Prefix '${prefixes[i]}' overlaps with another provided prefix '${prefixes[j]}'. Prefixes for a single client must not overlap.`)
        }
      }
    }
  }
  // BCAST without a prefix is every key: the prefix '' (TRACKINGINFO shows it, as Redis's).
  const all = [...existing, ...prefixes]
  const mode: TrackingMode = { bcast, prefixes: bcast && all.length === 0 ? [''] : all, optin, optout, noloop, redirect }
  ctx.server.tracking.on(client, mode)
  ctx.server.keyEvents?.refresh()
  return OK
}

function caching(ctx: CommandContext, args: Buffer[]): Reply {
  const t = ctx.client.tracking
  if (t === undefined) return new ErrorReply('ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled')
  const w = word(args[2]!)
  if (w === 'yes') {
    if (!t.optin) return new ErrorReply('ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.')
    ctx.client.cachingNext = true
  } else if (w === 'no') {
    if (!t.optout) return new ErrorReply('ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.')
    ctx.client.cachingNext = false
  } else return Errors.syntax
  return OK
}

function trackingInfo(ctx: CommandContext): Reply {
  const t = ctx.client.tracking
  const flags: string[] = []
  if (t === undefined) flags.push('off')
  else {
    flags.push('on')
    if (t.bcast) flags.push('bcast')
    if (t.optin) flags.push('optin')
    if (t.optout) flags.push('optout')
    if (ctx.client.cachingNext === true) flags.push('caching-yes')
    if (ctx.client.cachingNext === false) flags.push('caching-no')
    if (t.noloop) flags.push('noloop')
    if (t.redirect !== 0 && !ctx.server.clients.has(t.redirect)) flags.push('broken_redirect')
  }
  return new MapReply([
    ['flags', new SetReply(flags)],
    ['redirect', t === undefined ? -1 : t.redirect],
    ['prefixes', t?.prefixes ?? []],
  ])
}

const FLAGS = ['noscript', 'loading', 'stale']

export const trackingSubcommands: Command[] = [
  command('client|tracking', -3, FLAGS, NO_KEYS, doc('Controls server-assisted client-side caching for the connection.', '6.0.0'), tracking),
  command('client|caching', 3, FLAGS, NO_KEYS, doc('Instructs the server whether to track the keys in the next request.', '6.0.0'), caching),
  command('client|trackinginfo', 2, FLAGS, NO_KEYS, doc('Returns information about server-assisted client-side caching for the connection.', '6.2.0'), trackingInfo),
  command('client|getredir', 2, FLAGS, NO_KEYS, doc('Returns the client ID to which the connection\'s tracking notifications are redirected.', '6.0.0'), (ctx) =>
    ctx.client.tracking === undefined ? -1 : ctx.client.tracking.redirect,
  ),
]
