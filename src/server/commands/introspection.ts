// COMMAND, COMMAND COUNT/INFO/DOCS/LIST: the command table as Redis describes it. redis-cli
// reads COMMAND DOCS at start for its hints; cluster-aware clients read the key positions.
import type { Command, CommandContext } from '../command.js'
import { NO_KEYS, command, word } from '../command.js'
import { runSubcommand } from '../commandTable.js'
import type { Reply } from '../resp/reply.js'
import { MapReply, SetReply, SimpleString } from '../resp/reply.js'
import { globMatch } from '../glob.js'
import { COMMAND_ARGUMENTS } from '../commandArgs.js'
import type { ArgumentDoc } from '../commandArgs.js'

const doc = (summary: string, since: string) => ({ group: 'server', summary, since })

/** Redis 7's command info: name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands. */
function describe(c: Command): Reply {
  return [
    c.name,
    c.arity,
    new SetReply(c.flags.map((f) => new SimpleString(f))),
    c.firstKey,
    c.lastKey,
    c.step,
    new SetReply([]),
    new SetReply([]),
    [],
    (c.subcommands ?? []).map(describe),
  ]
}

function docsOf(c: Command): Reply {
  const entries: [Reply, Reply][] = [
    ['summary', c.summary],
    ['since', c.since],
    ['group', c.group],
  ]
  const args = COMMAND_ARGUMENTS[c.name]
  if (args !== undefined) entries.push(['arguments', args.map(argumentDoc)])
  if (c.subcommands !== undefined && c.subcommands.length > 0) {
    entries.push(['subcommands', new MapReply(c.subcommands.map((s) => [s.name, docsOf(s)]))])
  }
  return new MapReply(entries)
}

/** One argument as Redis describes it: a map, its flags a set of simple strings. */
function argumentDoc(a: ArgumentDoc): Reply {
  const entries: [Reply, Reply][] = []
  for (const [k, v] of Object.entries(a) as [string, unknown][]) {
    if (k === 'flags') entries.push([k, new SetReply((v as string[]).map((f) => new SimpleString(f)))])
    else if (k === 'arguments') entries.push([k, (v as ArgumentDoc[]).map(argumentDoc)])
    else entries.push([k, v as string | number])
  }
  return new MapReply(entries)
}

function named(ctx: CommandContext, args: Buffer[]): (Command | undefined)[] {
  return args.slice(2).map((a) => {
    const [name, sub] = word(a).split('|')
    const c = ctx.table.get(name!)
    return sub === undefined ? c : c?.subcommands?.find((s) => s.name === `${name}|${sub}`)
  })
}

const subcommands: Command[] = [
  command('command|count', 2, ['loading', 'stale'], NO_KEYS, doc('Returns a count of commands.', '2.8.13'), (ctx) => ctx.table.commands.length),
  command('command|info', -2, ['loading', 'stale'], NO_KEYS, doc('Returns information about one, multiple or all commands.', '2.8.13'), (ctx, a) =>
    a.length === 2 ? ctx.table.commands.map(describe) : named(ctx, a).map((c) => (c === undefined ? null : describe(c))),
  ),
  command('command|docs', -2, ['loading', 'stale'], NO_KEYS, doc('Returns documentary information about one, multiple or all commands.', '7.0.0'), (ctx, a) => {
    const list = a.length === 2 ? ctx.table.commands : named(ctx, a).filter((c): c is Command => c !== undefined)
    return new MapReply(list.map((c) => [c.name, docsOf(c)]))
  }),
  command('command|list', -2, ['loading', 'stale'], NO_KEYS, doc('Returns a list of command names.', '7.0.0'), (ctx, a) => {
    let names = ctx.table.commands.map((c) => c.name)
    if (a.length === 5 && word(a[2]!) === 'filterby' && word(a[3]!) === 'pattern') names = names.filter((n) => globMatch(a[4]!.toString(), n))
    return names
  }),
  command('command|help', 2, ['loading', 'stale'], NO_KEYS, doc('Returns helpful text about the different subcommands.', '5.0.0'), () => [
    'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    '(no subcommand)', '    Return details about all commands.',
    'COUNT', '    Return the total number of commands in this server.',
    'LIST', '    Return a list of all commands in this server.',
    'INFO [<command-name> ...]', '    Return details about multiple commands.',
    'DOCS [<command-name> ...]', '    Return documentation details about multiple commands.',
    'HELP', '    Print this help.',
  ]),
]

export const introspectionCommands: Command[] = [
  command('command', -1, ['loading', 'stale'], NO_KEYS, doc('Returns detailed information about all commands.', '2.8.13'), (ctx, a) =>
    a.length === 1 ? ctx.table.commands.map(describe) : runSubcommand(ctx, a, 'command', subcommands),
  subcommands),
]
