// CLIENT TRACKING: the switches and errors compared with redis-server, and real client-side
// caching with node-redis (RESP3, clientSideCache): a cached GET is invalidated when another
// client or the embedded API writes the key, or when it expires. RESP2 clients redirect.
import { Redis } from 'ioredis'
import { BasicClientSideCache, createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensureTool, startServer } from '../helpers/systemTool.js'
import type { RunningServer } from '../helpers/systemTool.js'
import { RawClient, parseReply, replyLength, resp, startServed } from './fixture.js'
import type { Parsed, Served } from './fixture.js'

let redis: RunningServer
let islab: Served
beforeAll(async () => {
  const binary = ensureTool('redis-server', 'redis-server')
  redis = await startServer(binary, (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir])
  islab = await startServed({ durability: 'memory', expiry: { sweepIntervalMs: 10 } })
})
afterAll(async () => {
  await redis?.stop()
  await islab?.stop()
})

/**
 * Sends each command and collects `n` replies for it. Within one command's replies the order is
 * not compared: Redis sends a client's invalidation of its own write after the write's reply,
 * this server before it; both precede the reply to the next command.
 */
async function script(port: number, steps: [string[], number][], resp3: boolean): Promise<Parsed[][]> {
  const c = await RawClient.connect(port)
  try {
    if (resp3) await c.send(resp('HELLO', '3'))
    await c.send(resp('FLUSHALL'))
    const out: Parsed[][] = []
    for (const [cmd, n] of steps) {
      const text = Buffer.from(await c.send(resp(...cmd), n), 'latin1')
      const replies: Parsed[] = []
      for (let at = 0; at < text.length; at += replyLength(text, at)) replies.push(parseReply(text, at)[0])
      out.push(replies.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)))
    }
    return out
  } finally {
    c.close()
  }
}

const one = (...cmd: string[]): [string[], number] => [cmd, 1]

describe('the same as redis-server', () => {
  test.each([
    [
      'errors and TRACKINGINFO (RESP2)',
      false,
      [
        one('CLIENT', 'TRACKINGINFO'), one('CLIENT', 'GETREDIR'), one('CLIENT', 'TRACKING', 'on', 'optin', 'optout'), one('CLIENT', 'TRACKING', 'on', 'prefix', 'a'),
        one('CLIENT', 'TRACKING', 'on', 'redirect', '99999'), one('CLIENT', 'TRACKING', 'on', 'bcast', 'prefix', 'a', 'prefix', 'ab'), one('CLIENT', 'TRACKING', 'maybe'),
        one('CLIENT', 'TRACKING', 'on', 'bogus'), one('CLIENT', 'CACHING', 'yes'), one('CLIENT', 'TRACKING', 'on', 'bcast', 'optin'), one('CLIENT', 'TRACKING', 'on', 'redirect', 'x'),
        one('CLIENT', 'TRACKING', 'on', 'optin'), one('CLIENT', 'TRACKINGINFO'), one('CLIENT', 'CACHING', 'no'), one('CLIENT', 'CACHING', 'yes'), one('CLIENT', 'TRACKINGINFO'),
        one('CLIENT', 'CACHING', 'maybe'), one('CLIENT', 'TRACKING', 'on', 'optout'), one('CLIENT', 'TRACKING', 'on', 'bcast'), one('CLIENT', 'GETREDIR'), one('CLIENT', 'TRACKING', 'off'),
        one('CLIENT', 'TRACKINGINFO'), one('CLIENT', 'TRACKING', 'on', 'bcast', 'prefix', 'a', 'noloop'), one('CLIENT', 'TRACKING', 'on', 'bcast', 'prefix', 'ab'),
        one('CLIENT', 'TRACKINGINFO'), one('GET', 'x'),
      ],
    ],
    [
      'invalidation pushes (RESP3)',
      true,
      [
        one('CLIENT', 'TRACKING', 'on'), one('GET', 'k'), [['SET', 'k', '1'], 2], one('SET', 'k', '2'), one('MGET', 'k', 'j'), [['MSET', 'k', '3', 'j', '4'], 3],
        one('HGET', 'h', 'f'), [['HSET', 'h', 'f', 'v'], 2], one('EXISTS', 'k'), [['DEL', 'k'], 2], one('CLIENT', 'TRACKINGINFO'),
        one('CLIENT', 'TRACKING', 'off'), one('CLIENT', 'TRACKING', 'on', 'optin'), one('GET', 'j'), one('SET', 'j', '5'), one('CLIENT', 'CACHING', 'yes'), one('GET', 'j'),
        [['SET', 'j', '6'], 2], one('CLIENT', 'TRACKING', 'off'), one('CLIENT', 'TRACKING', 'on', 'noloop'), one('GET', 'j'), one('SET', 'j', '7'),
      ],
    ],
  ] as [string, boolean, [string[], number][]][])('%s', async (_name, resp3, steps) => {
    const expected = await script(redis.port, steps, resp3)
    const actual = await script(islab.port, steps, resp3)
    const rows = (r: Parsed[][]) => steps.map(([cmd], i) => ({ cmd: cmd.join(' '), replies: r[i] }))
    expect(rows(actual)).toEqual(rows(expected))
  })
})

async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('node-redis client-side caching', () => {
  test('a cached GET is invalidated when another client, the embedded API or an expiry changes the key', async () => {
    const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 })
    const cached = createClient({ socket: { port: islab.port, host: '127.0.0.1' }, RESP: 3, clientSideCache: cache })
    const other = createClient({ socket: { port: islab.port, host: '127.0.0.1' }, RESP: 3 })
    await cached.connect()
    await other.connect()
    const invalidated: string[] = []
    cache.on('invalidate', (key: unknown) => invalidated.push(String(key)))
    try {
      await other.set('csc:k', 'v1')
      expect(await cached.get('csc:k')).toBe('v1')
      expect(await cached.get('csc:k')).toBe('v1')
      expect(cache.stats().hitCount).toBe(1)

      // Another client writes: the cache is told, and the next GET asks the server.
      await other.set('csc:k', 'v2')
      await until(() => invalidated.includes('csc:k'), 'the invalidation')
      expect(await cached.get('csc:k')).toBe('v2')
      expect(cache.stats().missCount).toBe(2)

      // The embedded API writes.
      invalidated.length = 0
      expect(await cached.get('csc:k')).toBe('v2')
      await islab.db.put('csc:k', 'from the API')
      await until(() => invalidated.includes('csc:k'), 'the invalidation of an API write')
      expect(await cached.get('csc:k')).toBe('from the API')

      // The key expires (the database's expiry event).
      invalidated.length = 0
      await other.set('csc:e', 'short', { PX: 30 })
      expect(await cached.get('csc:e')).toBe('short')
      await until(() => invalidated.includes('csc:e'), 'the invalidation of an expiry')
      expect(await cached.get('csc:e')).toBeNull()
    } finally {
      cached.destroy()
      other.destroy()
    }
  })
})

describe('RESP2 and BCAST', () => {
  test('a RESP2 client redirects its invalidations to a subscriber of __redis__:invalidate', async () => {
    const listener = new Redis({ port: islab.port, host: '127.0.0.1' })
    const reader = new Redis({ port: islab.port, host: '127.0.0.1' })
    const messages: string[][] = []
    try {
      const listenerId = (await listener.client('ID')) as number
      listener.on('messageBuffer', (channel: Buffer, message: unknown) => messages.push([channel.toString(), String(message)]))
      await listener.subscribe('__redis__:invalidate')
      expect(await reader.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(listenerId))).toBe('OK')
      expect(await reader.call('CLIENT', 'GETREDIR')).toBe(listenerId)
      await reader.get('r2:k')
      await islab.db.put('r2:k', 'changed')
      await until(() => messages.length > 0, 'the redirected invalidation')
      expect(messages).toEqual([['__redis__:invalidate', 'r2:k']])
    } finally {
      listener.disconnect()
      reader.disconnect()
    }
  })

  test('BCAST hears of every change under its prefixes, without reading first', async () => {
    const c = await RawClient.connect(islab.port)
    try {
      await c.send(resp('HELLO', '3'))
      expect(await c.send(resp('CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'bc:'))).toBe('+OK\r\n')
      await islab.db.put('other:x', 1)
      await islab.db.batch([
        { type: 'put', key: 'bc:1', value: 'a' },
        { type: 'del', key: 'other:x' },
      ])
      const text = await c.until((b) => b.toString('latin1').includes('bc:1'))
      expect(text.toString('latin1')).toBe('>2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nbc:1\r\n')
    } finally {
      c.close()
    }
  })
})

describe('the tracking table', () => {
  async function stats(c: RawClient): Promise<{ keys: number; items: number }> {
    const info = await c.send(resp('INFO', 'stats'))
    return { keys: Number(/tracking_total_keys:(\d+)/.exec(info)![1]), items: Number(/tracking_total_items:(\d+)/.exec(info)![1]) }
  }

  test('a client that disconnects, or turns tracking off, leaves the table (no leak of closed clients)', async () => {
    const observer = await RawClient.connect(islab.port)
    const before = await stats(observer)
    const clients: RawClient[] = []
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.connect(islab.port)
      await c.send(resp('HELLO', '3'))
      await c.send(resp('CLIENT', 'TRACKING', 'on'))
      await c.send(resp('GET', `leak:${i}`))
      await c.send(resp('GET', 'leak:shared'))
      clients.push(c)
    }
    expect(await stats(observer)).toEqual({ keys: before.keys + 21, items: before.items + 40 })
    await clients[0]!.send(resp('CLIENT', 'TRACKING', 'off'))
    expect(await stats(observer)).toEqual({ keys: before.keys + 20, items: before.items + 38 })
    for (const c of clients) c.close()
    let now = await stats(observer)
    for (let i = 0; i < 100 && now.keys !== before.keys; i++) {
      await new Promise((r) => setTimeout(r, 20))
      now = await stats(observer)
    }
    expect(now).toEqual(before)
    observer.close()
  })
})
