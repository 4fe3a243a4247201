// Real clients against `serve`: ioredis 6 and node-redis 6 (RESP3, their default, and RESP2),
// and redis-cli from Debian's redis-tools. Each connects as it does against Redis (HELLO,
// CLIENT SETINFO, ioredis' INFO ready check) and must get to work without a retry loop.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { open } from '../../src/index.js'
import { serve } from '../../src/server/index.js'
import { ensureTool } from '../helpers/systemTool.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

const run = promisify(execFile)

let s: Served
beforeAll(async () => {
  s = await startServed()
})
afterAll(async () => {
  await s.stop()
})

describe.each([3, 2] as const)('ioredis, RESP%i', (protocol) => {
  test('connects, reads and writes strings, hashes and counters', async () => {
    const r = new Redis({ port: s.port, host: '127.0.0.1', protocol, lazyConnect: true, maxRetriesPerRequest: 0 })
    await r.connect()
    try {
      const k = `io${protocol}:`
      expect(await r.set(`${k}a`, 'héllo')).toBe('OK')
      expect(await r.get(`${k}a`)).toBe('héllo')
      expect(await r.getBuffer(`${k}a`)).toEqual(Buffer.from('héllo'))
      const bin = Buffer.from([0, 255, 13, 10, 36, 42])
      await r.set(`${k}bin`, bin)
      expect(await r.getBuffer(`${k}bin`)).toEqual(bin)
      expect(await r.incrby(`${k}n`, 41)).toBe(41)
      expect(await r.incr(`${k}n`)).toBe(42)
      expect(await r.hset(`${k}h`, 'f1', 'v1', 'f2', 'v2')).toBe(2)
      expect(await r.hgetall(`${k}h`)).toEqual({ f1: 'v1', f2: 'v2' })
      expect(await r.mget(`${k}a`, `${k}missing`, `${k}n`)).toEqual(['héllo', null, '42'])
      await expect(r.incr(`${k}a`)).rejects.toThrow('ERR value is not an integer or out of range')
      await expect(r.hget(`${k}a`, 'x')).rejects.toThrow('WRONGTYPE Operation against a key holding the wrong kind of value')
      const info = await r.info('persistence')
      expect(info).toContain('loading:0')
    } finally {
      r.disconnect()
    }
  })

  test('a pipeline of 5000 commands answers each in order', async () => {
    const r = new Redis({ port: s.port, host: '127.0.0.1', protocol })
    try {
      const p = r.pipeline()
      for (let i = 0; i < 5000; i++) {
        p.set(`pipe${protocol}:${i}`, String(i))
        p.get(`pipe${protocol}:${i}`)
      }
      const results = (await p.exec())!
      expect(results).toHaveLength(10000)
      for (let i = 0; i < 5000; i++) {
        expect(results[2 * i]).toEqual([null, 'OK'])
        expect(results[2 * i + 1]).toEqual([null, String(i)])
      }
    } finally {
      r.disconnect()
    }
  })

  test('MULTI/EXEC through the client is one event with one seq', async () => {
    const r = new Redis({ port: s.port, host: '127.0.0.1', protocol })
    try {
      const res = await r.multi().set(`tx${protocol}:a`, '1').incr(`tx${protocol}:n`).hset(`tx${protocol}:h`, 'f', 'v').exec()
      expect(res).toEqual([
        [null, 'OK'],
        [null, 1],
        [null, 1],
      ])
      const seqs = ['a', 'n', 'h'].map((x) => s.db.getEntry(`tx${protocol}:${x}`)!.seq)
      expect(new Set(seqs).size).toBe(1)
    } finally {
      r.disconnect()
    }
  })
})

describe.each([3, 2] as const)('node-redis, RESP%i', (RESP) => {
  test('connects with HELLO and works', async () => {
    const c = createClient({ socket: { host: '127.0.0.1', port: s.port, reconnectStrategy: false }, RESP })
    c.on('error', () => undefined)
    await c.connect()
    try {
      const k = `nr${RESP}:`
      expect(await c.set(`${k}a`, 'x')).toBe('OK')
      expect(await c.get(`${k}a`)).toBe('x')
      expect(await c.append(`${k}a`, 'yz')).toBe(3)
      expect(await c.getRange(`${k}a`, 1, -1)).toBe('yz')
      expect(await c.hSet(`${k}h`, { a: '1', b: '2' })).toBe(2)
      expect(await c.hGetAll(`${k}h`)).toEqual({ a: '1', b: '2' })
      expect(await c.hIncrBy(`${k}h`, 'a', 5)).toBe(6)
      expect(await c.exists([`${k}a`, `${k}h`, `${k}none`])).toBe(2)
      expect(await c.del([`${k}a`, `${k}none`])).toBe(1)
      expect(await c.type(`${k}h`)).toBe('hash')
      const res = await c.multi().set(`${k}m`, '1').incr(`${k}m`).get(`${k}m`).exec()
      expect(res).toEqual(['OK', 2, '2'])
      expect(await c.clientId()).toBeGreaterThan(0)
      const scanned: string[] = []
      for await (const keys of c.scanIterator({ MATCH: `${k}*`, COUNT: 1 })) scanned.push(...keys)
      expect(scanned.sort()).toEqual([`${k}h`, `${k}m`])
    } finally {
      c.destroy()
    }
  })
})

describe('requirepass', () => {
  test('clients authenticate (HELLO AUTH, AUTH); without the password commands get NOAUTH', async () => {
    const db = await open({ durability: 'memory' })
    const server = await serve(db, { port: 0, requirepass: 's3cret' })
    try {
      const io = new Redis({ port: server.port, host: '127.0.0.1', password: 's3cret' })
      expect(await io.set('k', 'v')).toBe('OK')
      io.disconnect()
      const io2 = new Redis({ port: server.port, host: '127.0.0.1', protocol: 2, password: 's3cret' })
      expect(await io2.get('k')).toBe('v')
      io2.disconnect()
      const nr = createClient({ socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: false }, password: 's3cret' })
      nr.on('error', () => undefined)
      await nr.connect()
      expect(await nr.get('k')).toBe('v')
      nr.destroy()
      const bad = new Redis({ port: server.port, host: '127.0.0.1', protocol: 2, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
      bad.on('error', () => undefined)
      await bad.connect()
      await expect(bad.get('k')).rejects.toThrow('NOAUTH Authentication required.')
      await expect(bad.auth('wrong')).rejects.toThrow('WRONGPASS invalid username-password pair or user is disabled.')
      bad.disconnect()
    } finally {
      await server.close()
      await db.close()
    }
  })

  test('listening beyond loopback without a password is refused (protected mode)', async () => {
    await expect(serve(s.db, { port: 0, host: '0.0.0.0' })).rejects.toThrow(/protected mode/)
    await expect(serve(s.db, { port: 0, host: '0.0.0.0' })).rejects.not.toThrow(/\.\.$/)
  })

  test('a port in use, or a closed database, is a typed error that says what to do', async () => {
    const first = await serve(s.db, { port: 0 })
    try {
      const err = await serve(s.db, { port: first.port }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
      expect((err as Error).message).toContain('EADDRINUSE')
      expect((err as Error).message).toContain('pick another port')
    } finally {
      await first.close()
    }
    const db = await open({ dir: tmpDir(), durability: 'memory' })
    await db.close()
    await expect(serve(db, { port: 0 })).rejects.toMatchObject({ code: 'ISLAB_CLOSED' })
  })

  test('protected mode holds at runtime: CONFIG SET requirepass "" is refused beyond loopback', async () => {
    const server = await serve(s.db, { port: 0, host: '0.0.0.0', requirepass: 'pw' })
    try {
      const c = await RawClient.connect(server.port)
      expect(await c.send(resp('AUTH', 'pw'))).toBe('+OK\r\n')
      expect(await c.send(resp('CONFIG', 'SET', 'requirepass', ''))).toMatch(/^-ERR CONFIG SET failed \(possibly related to argument 'requirepass'\) - refusing to remove the password .*protected mode/)
      expect(await c.send(resp('CONFIG', 'GET', 'protected-mode'))).toBe('*2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n')
      // Still required, and still changeable.
      const d = await RawClient.connect(server.port)
      expect(await d.send(resp('GET', 'k'))).toMatch(/^-NOAUTH/)
      expect(await c.send(resp('CONFIG', 'SET', 'requirepass', 'other'))).toBe('+OK\r\n')
      expect(await d.send(resp('AUTH', 'other'))).toBe('+OK\r\n')
      c.close()
      d.close()
    } finally {
      await server.close()
    }
    // On loopback the password may go, as in Redis.
    const local = await serve(s.db, { port: 0, requirepass: 'pw' })
    const c = await RawClient.connect(local.port)
    await c.send(resp('AUTH', 'pw'))
    expect(await c.send(resp('CONFIG', 'SET', 'requirepass', ''))).toBe('+OK\r\n')
    const d = await RawClient.connect(local.port)
    expect(await d.send(resp('PING'))).toBe('+PONG\r\n')
    c.close()
    d.close()
    await local.close()
  })
})

describe('redis-cli', () => {
  test('runs commands and reads replies', async () => {
    const cli = ensureTool('redis-cli', 'redis-tools')
    const call = async (...args: string[]): Promise<string> => (await run(cli, ['-p', String(s.port), ...args])).stdout
    expect(await call('SET', 'cli:k', 'hello world')).toBe('OK\n')
    expect(await call('GET', 'cli:k')).toBe('hello world\n')
    expect(await call('INCR', 'cli:n')).toBe('1\n')
    expect(await call('HSET', 'cli:h', 'a', '1')).toBe('1\n')
    expect(await call('--raw', 'HGETALL', 'cli:h')).toBe('a\n1\n')
    expect(await call('-3', 'HGETALL', 'cli:h')).toBe('a 1\n')
    expect(await call('DBSIZE')).toMatch(/^\d+\n$/)
    expect(await call('PING')).toBe('PONG\n')
    // Commands on stdin, the way scripts feed it; COMMAND DOCS is what it asks for hints.
    const piped = await new Promise<string>((resolve, reject) => {
      const child = execFile(cli, ['-p', String(s.port)], (err, stdout) => (err ? reject(err) : resolve(stdout)))
      child.stdin!.end('SET cli:p 1\nINCRBY cli:p 9\nGET cli:p\nCOMMAND COUNT\n')
    })
    expect(piped.split('\n').slice(0, 3)).toEqual(['OK', '10', '10'])
    expect(await call('COMMAND', 'DOCS', 'get')).toContain('summary')
  })
})

describe('restart', () => {
  test('data written over RESP is there after a restart, and visible to the embedded API', async () => {
    const dir = tmpDir()
    let db = await open({ dir, durability: 'sync' })
    let server = await serve(db, { port: 0 })
    const r = new Redis({ port: server.port, host: '127.0.0.1' })
    await r.set('greeting', 'hello')
    await r.hset('user:1', 'name', 'Ada', 'plan', 'pro')
    await r.incrby('visits', 7)
    await r.mset('a', '1', 'b', '2')
    await r.del('b')
    r.disconnect()
    await server.close()
    await db.close()

    db = await open({ dir, durability: 'sync' })
    expect(db.get('greeting')).toEqual(Buffer.from('hello'))
    const user = db.get<Map<string, Buffer>>('user:1')!
    expect(user).toBeInstanceOf(Map)
    expect(Object.fromEntries([...user].map(([k, v]) => [k, v.toString()]))).toEqual({ name: 'Ada', plan: 'pro' })
    expect(db.has('b')).toBe(false)
    server = await serve(db, { port: 0 })
    const r2 = new Redis({ port: server.port, host: '127.0.0.1' })
    try {
      expect(await r2.get('greeting')).toBe('hello')
      expect(await r2.hgetall('user:1')).toEqual({ name: 'Ada', plan: 'pro' })
      expect(await r2.get('visits')).toBe('7')
      expect(await r2.exists('a', 'b')).toBe(1)
    } finally {
      r2.disconnect()
      await server.close()
      await db.close()
    }
  })
})
