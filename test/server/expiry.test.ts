// Expiry over RESP with real clients: deadlines set by commands are the database's own (the
// embedded API sees them, and they survive a restart), deadlines set through the API answer TTL,
// and a key that expires is gone for clients and logged as an expiry in the change feed.
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { open } from '../../src/index.js'
import type { Change } from '../../src/index.js'
import { serve } from '../../src/server/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
beforeAll(async () => {
  s = await startServed({ durability: 'memory', expiry: { sweepIntervalMs: 10 } })
})
afterAll(async () => {
  await s.stop()
})

async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('expiry with ioredis', () => {
  test('a deadline set over RESP is the entry\'s, and one set through the API answers TTL', async () => {
    const r = new Redis({ port: s.port, host: '127.0.0.1' })
    try {
      const before = Date.now()
      expect(await r.set('e:a', 'v', 'EX', 100)).toBe('OK')
      const at = s.db.getEntry('e:a')!.expiresAt!
      expect(at).toBeGreaterThanOrEqual(before + 100_000)
      expect(at).toBeLessThanOrEqual(Date.now() + 100_000)
      expect(await r.pexpiretime('e:a')).toBe(at)
      await s.db.put('e:api', 'x', { expiresAt: 4_000_000_000_123 })
      expect(await r.pexpiretime('e:api')).toBe(4_000_000_000_123)
      expect(await r.expiretime('e:api')).toBe(4_000_000_000)
      // INCR through RESP keeps the API's deadline; a put through the API without one clears it.
      await s.db.put('e:n', 5, { ttlMs: 60_000 })
      expect(await r.incr('e:n')).toBe(6)
      expect(s.db.get('e:n')).toBe(6)
      expect(s.db.getEntry('e:n')!.expiresAt).toBeGreaterThan(Date.now())
      await s.db.put('e:n', 7)
      expect(await r.ttl('e:n')).toBe(-1)
      expect(await r.persist('e:a')).toBe(1)
      expect(s.db.getEntry('e:a')!.expiresAt).toBeUndefined()
    } finally {
      r.disconnect()
    }
  })

  test('a key that expires is gone for clients and logged as an expiry', async () => {
    const r = new Redis({ port: s.port, host: '127.0.0.1' })
    const seen: Change[] = []
    const sub = s.db.changes({ prefix: 'e:short' }).subscribe((c) => seen.push(c))
    try {
      await r.set('e:short', 'v', 'PX', 30)
      await until(async () => (await r.exists('e:short')) === 0, 'the key to expire')
      expect(await r.get('e:short')).toBeNull()
      expect(await r.ttl('e:short')).toBe(-2)
      await until(() => seen.some((c) => c.type === 'del'), 'the expiry event')
      expect(seen.map((c) => [c.type, c.expired ?? false])).toEqual([
        ['put', false],
        ['del', true],
      ])
      expect(seen[0]!.expiresAt).toBeGreaterThan(seen[0]!.time)
    } finally {
      sub.unsubscribe()
      r.disconnect()
    }
  })

  test('EXPIRE with a deadline already past deletes the key (a delete, not an expiry)', async () => {
    const r = new Redis({ port: s.port, host: '127.0.0.1' })
    const seen: Change[] = []
    const sub = s.db.changes({ prefix: 'e:past' }).subscribe((c) => seen.push(c))
    try {
      await r.set('e:past', 'v')
      expect(await r.expire('e:past', -1)).toBe(1)
      expect(s.db.has('e:past')).toBe(false)
      await until(() => seen.length === 2, 'two changes')
      expect(seen[1]).toMatchObject({ type: 'del', key: 'e:past' })
      expect(seen[1]!.expired).toBeUndefined()
    } finally {
      sub.unsubscribe()
      r.disconnect()
    }
  })
})

describe('expiry with node-redis (RESP3)', () => {
  test('SETEX, GETEX and PTTL', async () => {
    const c = createClient({ socket: { port: s.port, host: '127.0.0.1' }, RESP: 3 })
    await c.connect()
    try {
      expect(await c.setEx('e:nr', 100, 'v')).toBe('OK')
      expect(await c.ttl('e:nr')).toBeGreaterThan(98)
      expect(await c.getEx('e:nr', { type: 'PERSIST' })).toBe('v')
      expect(await c.pTTL('e:nr')).toBe(-1)
      expect(await c.getEx('e:nr', { type: 'PX', value: 50_000 })).toBe('v')
      const pttl = await c.pTTL('e:nr')
      expect(pttl).toBeGreaterThan(49_000)
      expect(pttl).toBeLessThanOrEqual(50_000)
    } finally {
      c.destroy()
    }
  })
})

describe('deadlines past 2^53 ms', () => {
  test('are refused with Redis\'s "invalid expire time" (not stored rounded); up to 2^53 - 1 they are exact', async () => {
    const c = await RawClient.connect(s.port)
    try {
      const max = String(Number.MAX_SAFE_INTEGER)
      const over = '9007199254740993' // 2^53 + 1: a JS number would round it to 2^53
      expect(await c.send(resp('SET', 'big:k', 'v', 'PXAT', over))).toBe("-ERR invalid expire time in 'set' command\r\n")
      expect(await c.send(resp('EXISTS', 'big:k'))).toBe(':0\r\n')
      expect(await c.send(resp('SET', 'big:k', 'v', 'PXAT', max))).toBe('+OK\r\n')
      expect(await c.send(resp('PEXPIRETIME', 'big:k'))).toBe(`:${max}\r\n`)
      expect(await c.send(resp('PEXPIREAT', 'big:k', over))).toBe("-ERR invalid expire time in 'pexpireat' command\r\n")
      expect(await c.send(resp('EXPIREAT', 'big:k', '9007199254741'))).toBe("-ERR invalid expire time in 'expireat' command\r\n")
      expect(await c.send(resp('GETEX', 'big:k', 'PXAT', over))).toBe("-ERR invalid expire time in 'getex' command\r\n")
      expect(await c.send(resp('PSETEX', 'big:k', over, 'v'))).toBe("-ERR invalid expire time in 'psetex' command\r\n")
      expect(await c.send(resp('PEXPIRETIME', 'big:k'))).toBe(`:${max}\r\n`)
      // As Redis: a missing key answers 0 before the time is looked at.
      expect(await c.send(resp('PEXPIREAT', 'big:nokey', over))).toBe(':0\r\n')
    } finally {
      c.close()
    }
  })
})

test('deadlines set over RESP survive a restart', async () => {
  const dir = tmpDir()
  let db = await open({ dir })
  let server = await serve(db, { port: 0 })
  const r = new Redis({ port: server.port, host: '127.0.0.1' })
  await r.set('k', 'v', 'PXAT', 4_000_000_000_000)
  await r.hset('h', 'f', 'v')
  await r.pexpireat('h', 4_000_000_000_001)
  r.disconnect()
  await server.close()
  await db.close()
  db = await open({ dir })
  server = await serve(db, { port: 0 })
  const r2 = new Redis({ port: server.port, host: '127.0.0.1' })
  try {
    expect(await r2.pexpiretime('k')).toBe(4_000_000_000_000)
    expect(await r2.pexpiretime('h')).toBe(4_000_000_000_001)
    expect(await r2.hget('h', 'f')).toBe('v')
  } finally {
    r2.disconnect()
    await server.close()
    await db.close()
  }
})
