// Pub/sub and keyspace notifications, compared with a real redis-server where Redis is
// comparable (the subscribe-mode protocol, the events each command sends), and the part Redis
// has no counterpart for: writes through the embedded API and expiries notify too.
import { Redis } from 'ioredis'
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

/** Sends each command in turn and collects `n[i]` replies for it, parsed. */
async function script(port: number, steps: [string[], number][], resp3 = false): Promise<Parsed[][]> {
  const c = await RawClient.connect(port)
  try {
    if (resp3) await c.send(resp('HELLO', '3'))
    const out: Parsed[][] = []
    for (const [cmd, n] of steps) {
      const text = Buffer.from(await c.send(resp(...cmd), n), 'latin1')
      const replies: Parsed[] = []
      for (let at = 0; at < text.length; at += replyLength(text, at)) replies.push(parseReply(text, at)[0])
      out.push(replies)
    }
    return out
  } finally {
    c.close()
  }
}

describe('the same as redis-server', () => {
  test.each([
    [
      'RESP2 subscribe mode',
      false,
      [
        [['SUBSCRIBE', 'a', 'b'], 2],
        [['GET', 'x'], 1],
        [['PING'], 1],
        [['PING', 'hi'], 1],
        [['PSUBSCRIBE', 'p*'], 1],
        [['SUBSCRIBE', 'a'], 1],
        [['UNSUBSCRIBE', 'b'], 1],
        [['UNSUBSCRIBE', 'nosuch'], 1],
        [['PUNSUBSCRIBE'], 1],
        [['UNSUBSCRIBE'], 1],
        [['UNSUBSCRIBE'], 1],
        [['PUNSUBSCRIBE'], 1],
        [['PING'], 1],
        [['SUBSCRIBE'], 1],
        [['PUBLISH', 'nobody', 'm'], 1],
        [['SUBSCRIBE', 'c'], 1],
        [['RESET'], 1],
        [['GET', 'x'], 1],
      ],
    ],
    [
      'RESP3 pushes',
      true,
      [
        [['SUBSCRIBE', 'a'], 1],
        [['GET', 'x'], 1],
        [['PING'], 1],
        [['PUBLISH', 'a', 'hello'], 2],
        [['PSUBSCRIBE', 'a*'], 1],
        [['PUBLISH', 'ab', 'x'], 2],
        [['PUBLISH', 'a', 'y'], 3],
        [['UNSUBSCRIBE', 'x'], 1],
        [['PUNSUBSCRIBE', 'a*'], 1],
        [['UNSUBSCRIBE', 'a'], 1],
      ],
    ],
    [
      'CONFIG notify-keyspace-events',
      false,
      [
        [['CONFIG', 'SET', 'notify-keyspace-events', 'KEA'], 1],
        [['CONFIG', 'GET', 'notify-keyspace-events'], 1],
        [['CONFIG', 'SET', 'notify-keyspace-events', 'gx$K'], 1],
        [['CONFIG', 'GET', 'notify-keyspace-events'], 1],
        [['CONFIG', 'SET', 'notify-keyspace-events', 'AnKm'], 1],
        [['CONFIG', 'GET', 'notify-keyspace-events'], 1],
        [['CONFIG', 'SET', 'notify-keyspace-events', 'Q'], 1],
        [['CONFIG', 'SET', 'notify-keyspace-events', ''], 1],
        [['CONFIG', 'GET', 'notify-keyspace-events'], 1],
      ],
    ],
  ] as [string, boolean, [string[], number][]][])('%s', async (_name, resp3, steps) => {
    const expected = await script(redis.port, steps, resp3)
    const actual = await script(islab.port, steps, resp3)
    const rows = (r: Parsed[][]) => steps.map(([cmd], i) => ({ cmd: cmd.join(' '), replies: r[i] }))
    expect(rows(actual)).toEqual(rows(expected))
  })

  test('keyspace notifications name the command, as Redis does', async () => {
    const commands: string[][] = [
      ['SET', 'k', 'v'], ['SET', 'k', 'v', 'EX', '100'], ['APPEND', 'k', 'x'], ['SETRANGE', 'k', '0', 'y'], ['INCR', 'n'], ['DECRBY', 'n', '3'],
      ['INCRBYFLOAT', 'n', '1.5'], ['MSET', 'a', '1', 'b', '2'], ['SETEX', 's', '100', 'v'], ['GETSET', 's', 'w'], ['GETDEL', 's'], ['DEL', 'a', 'nokey'],
      ['EXPIRE', 'b', '100'], ['PERSIST', 'b'], ['GETEX', 'b', 'PX', '100000'], ['GETEX', 'b', 'PERSIST'], ['RENAME', 'b', 'c'], ['COPY', 'c', 'd'],
      ['HSET', 'h', 'f', '1', 'g', '2'], ['HINCRBY', 'h', 'f', '1'], ['HINCRBYFLOAT', 'h', 'f', '0.5'], ['HDEL', 'h', 'f'], ['HDEL', 'h', 'g'],
      ['EXPIRE', 'c', '0'], ['MULTI'], ['SET', 't', '1'], ['INCR', 't'], ['EXEC'], ['SET', 'end', '1'],
    ]
    const collect = async (port: number): Promise<string[]> => {
      const sub = new Redis({ port, host: '127.0.0.1' })
      const cmd = new Redis({ port, host: '127.0.0.1' })
      const seen: string[] = []
      try {
        await cmd.flushall()
        await cmd.config('SET', 'notify-keyspace-events', 'KEA')
        sub.on('pmessage', (_p: string, channel: string, message: string) => seen.push(`${channel} ${message}`))
        await sub.psubscribe('__key*__:*')
        for (const c of commands) await cmd.call(c[0]!, ...c.slice(1))
        const until = Date.now() + 5000
        while (!seen.includes('__keyevent@0__:set end') && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
        await cmd.config('SET', 'notify-keyspace-events', '')
        return seen
      } finally {
        sub.disconnect()
        cmd.disconnect()
      }
    }
    const expected = await collect(redis.port)
    const actual = await collect(islab.port)
    expect(expected).toContain('__keyevent@0__:set end')
    expect(actual).toEqual(expected)
  })
})

describe('notifications from every writer', () => {
  test('writes through the embedded API and expiries notify subscribers; PUBLISH reaches other clients', async () => {
    const sub = new Redis({ port: islab.port, host: '127.0.0.1' })
    const cmd = new Redis({ port: islab.port, host: '127.0.0.1' })
    const seen: string[] = []
    try {
      await cmd.config('SET', 'notify-keyspace-events', 'Kgx$')
      sub.on('pmessage', (_p: string, channel: string, message: string) => seen.push(`${channel} ${message}`))
      sub.on('message', (channel: string, message: string) => seen.push(`${channel} ${message}`))
      await sub.psubscribe('__keyspace@0__:api:*')
      await sub.subscribe('news')
      await islab.db.put('api:a', 'from the API')
      await islab.db.batch([
        { type: 'put', key: 'api:b', value: 1, expiresAt: Date.now() + 20 },
        { type: 'del', key: 'api:a' },
      ])
      expect(await cmd.publish('news', 'hello')).toBe(1)
      const until = Date.now() + 10_000
      while (!seen.includes('__keyspace@0__:api:b expired') && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
      expect(seen).toEqual([
        '__keyspace@0__:api:a set',
        '__keyspace@0__:api:b set',
        '__keyspace@0__:api:b expire',
        '__keyspace@0__:api:a del',
        'news hello',
        '__keyspace@0__:api:b expired',
      ])
      const list = await cmd.client('LIST')
      expect(list).toMatch(/sub=1 psub=1/)
    } finally {
      sub.disconnect()
      cmd.disconnect()
      await new Promise((r) => setTimeout(r, 50))
    }
    // The subscriber is gone, and so are its subscriptions.
    const c = await RawClient.connect(islab.port)
    try {
      expect(await c.send(resp('PUBSUB', 'NUMPAT'))).toBe(':0\r\n')
      expect(await c.send(resp('PUBLISH', 'news', 'x'))).toBe(':0\r\n')
    } finally {
      c.close()
    }
  })
})
