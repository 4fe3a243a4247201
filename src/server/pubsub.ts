// Publish/subscribe between the clients of one server (SUBSCRIBE, PSUBSCRIBE, PUBLISH), also the
// carrier of keyspace notifications (notifications.ts). Channel names are bytes, kept as latin1
// strings (one char per byte, so any bytes round-trip) and matched with Redis's glob patterns.
// Delivery is at most once, as Redis's: a message goes to whoever is subscribed when it is
// published, through the client's push channel (RESP3 `>` pushes, RESP2 arrays).
import type { ClientState } from './clientState.js'
import { globMatch } from './glob.js'
import { PushReply } from './resp/reply.js'
import type { Reply } from './resp/reply.js'

const MESSAGE = Buffer.from('message')
const PMESSAGE = Buffer.from('pmessage')

export class PubSub {
  private readonly channels = new Map<string, Set<ClientState>>()
  private readonly patterns = new Map<string, Set<ClientState>>()

  /** Channels with at least one subscriber, and patterns (PUBSUB CHANNELS/NUMPAT). */
  get channelCount(): number {
    return this.channels.size
  }

  get patternCount(): number {
    return this.patterns.size
  }

  /** True when nobody listens: publishers can skip building messages. */
  get idle(): boolean {
    return this.channels.size === 0 && this.patterns.size === 0
  }

  subscribe(client: ClientState, channel: string, pattern: boolean): boolean {
    const own = pattern ? client.patterns : client.channels
    if (own.has(channel)) return false
    own.add(channel)
    const map = pattern ? this.patterns : this.channels
    let set = map.get(channel)
    if (set === undefined) map.set(channel, (set = new Set()))
    set.add(client)
    return true
  }

  unsubscribe(client: ClientState, channel: string, pattern: boolean): boolean {
    const own = pattern ? client.patterns : client.channels
    if (!own.delete(channel)) return false
    const map = pattern ? this.patterns : this.channels
    const set = map.get(channel)
    set?.delete(client)
    if (set?.size === 0) map.delete(channel)
    return true
  }

  /** A client gone (or RESET): out of every channel and pattern. */
  leave(client: ClientState): void {
    for (const c of [...client.channels]) this.unsubscribe(client, c, false)
    for (const p of [...client.patterns]) this.unsubscribe(client, p, true)
  }

  /** Sends `message` on `channel` (latin1); returns how many clients received it. */
  publish(channel: string, message: Reply): number {
    let n = 0
    const subs = this.channels.get(channel)
    if (subs !== undefined) {
      const push = new PushReply([MESSAGE, Buffer.from(channel, 'latin1'), message])
      for (const c of subs) {
        c.push(push)
        n++
      }
    }
    if (this.patterns.size > 0) {
      for (const [pattern, clients] of this.patterns) {
        if (!globMatch(pattern, channel)) continue
        const push = new PushReply([PMESSAGE, Buffer.from(pattern, 'latin1'), Buffer.from(channel, 'latin1'), message])
        for (const c of clients) {
          c.push(push)
          n++
        }
      }
    }
    return n
  }

  /** Channels with subscribers matching `pattern` (PUBSUB CHANNELS). */
  activeChannels(pattern: string | undefined): string[] {
    return [...this.channels.keys()].filter((c) => pattern === undefined || globMatch(pattern, c))
  }

  subscribers(channel: string): number {
    return this.channels.get(channel)?.size ?? 0
  }
}
