// SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB: pub/sub between the clients of
// this server (pubsub.ts), which also carries keyspace notifications (notifications.ts). Each
// (un)subscription is answered with its own reply — RESP3 pushes, RESP2 arrays — as Redis does.
import type { Command, CommandContext } from '../command.js'
import { NO_KEYS, command } from '../command.js'
import { runSubcommand } from '../commandTable.js'
import type { Reply } from '../resp/reply.js'
import { MultiReply, PushReply } from '../resp/reply.js'

const doc = (summary: string, since: string) => ({ group: 'pubsub', summary, since })

const name = (arg: Buffer): string => arg.toString('latin1')
const bytes = (channel: string): Buffer => Buffer.from(channel, 'latin1')

function subscribe(ctx: CommandContext, args: Buffer[], pattern: boolean): Reply {
  const kind = Buffer.from(pattern ? 'psubscribe' : 'subscribe')
  const replies: Reply[] = []
  for (let i = 1; i < args.length; i++) {
    const channel = name(args[i]!)
    ctx.server.pubsub.subscribe(ctx.client, channel, pattern)
    replies.push(new PushReply([kind, bytes(channel), ctx.client.subscriptions]))
  }
  ctx.server.keyEvents?.refresh()
  return new MultiReply(replies)
}

function unsubscribe(ctx: CommandContext, args: Buffer[], pattern: boolean): Reply {
  const kind = Buffer.from(pattern ? 'punsubscribe' : 'unsubscribe')
  const own = pattern ? ctx.client.patterns : ctx.client.channels
  const channels = args.length > 1 ? args.slice(1).map(name) : [...own]
  const replies: Reply[] = []
  for (const channel of channels) {
    ctx.server.pubsub.unsubscribe(ctx.client, channel, pattern)
    replies.push(new PushReply([kind, bytes(channel), ctx.client.subscriptions]))
  }
  // Unsubscribing from all when there is nothing: one reply with a null channel.
  if (replies.length === 0) replies.push(new PushReply([kind, null, ctx.client.subscriptions]))
  ctx.server.keyEvents?.refresh()
  return new MultiReply(replies)
}

const pubsubSubcommands: Command[] = [
  command('pubsub|channels', -2, ['pubsub', 'loading', 'stale'], NO_KEYS, doc('Returns the active channels.', '2.8.0'), (ctx, a) =>
    ctx.server.pubsub.activeChannels(a.length > 2 ? name(a[2]!) : undefined).map(bytes),
  ),
  command('pubsub|numsub', -2, ['pubsub', 'loading', 'stale'], NO_KEYS, doc('Returns a count of subscribers to channels.', '2.8.0'), (ctx, a) =>
    a.slice(2).flatMap((c) => [c, ctx.server.pubsub.subscribers(name(c))]),
  ),
  command('pubsub|numpat', 2, ['pubsub', 'loading', 'stale'], NO_KEYS, doc('Returns a count of unique pattern subscriptions.', '2.8.0'), (ctx) => ctx.server.pubsub.patternCount),
]

const PUBSUB_FLAGS = ['pubsub', 'noscript', 'loading', 'stale', 'no-multi']

export const pubsubCommands: Command[] = [
  command('subscribe', -2, PUBSUB_FLAGS, NO_KEYS, doc('Listens for messages published to channels.', '2.0.0'), (ctx, a) => subscribe(ctx, a, false)),
  command('psubscribe', -2, PUBSUB_FLAGS, NO_KEYS, doc('Listens for messages published to channels that match one or more patterns.', '2.0.0'), (ctx, a) => subscribe(ctx, a, true)),
  command('unsubscribe', -1, PUBSUB_FLAGS, NO_KEYS, doc('Stops listening to messages posted to channels.', '2.0.0'), (ctx, a) => unsubscribe(ctx, a, false)),
  command('punsubscribe', -1, PUBSUB_FLAGS, NO_KEYS, doc('Stops listening to messages published to channels that match one or more patterns.', '2.0.0'), (ctx, a) =>
    unsubscribe(ctx, a, true),
  ),
  command('publish', 3, ['pubsub', 'loading', 'stale', 'fast'], NO_KEYS, doc('Posts a message to a channel.', '2.0.0'), (ctx, a) => ctx.server.pubsub.publish(name(a[1]!), a[2]!)),
  command('pubsub', -2, [], NO_KEYS, doc('A container for Pub/Sub commands.', '2.8.0'), (ctx, a) => runSubcommand(ctx, a, 'pubsub', pubsubSubcommands), pubsubSubcommands),
]
