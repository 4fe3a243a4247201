// The wire, below the client libraries: inline commands, pipelines, replies in order, protocol
// errors (answered, then only that connection closes), limits, backpressure, RESP3 shapes.
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { RawClient, countReplies, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
beforeAll(async () => {
  s = await startServed({ durability: 'memory' }, { outputLimit: 1024 * 1024, maxclients: 50 })
})
afterAll(async () => {
  await s.stop()
})

describe('inline commands', () => {
  test('words, quotes and escapes as redis-cli and telnet send them', async () => {
    const c = await RawClient.connect(s.port)
    expect(await c.send('PING\r\n')).toBe('+PONG\r\n')
    expect(await c.send('set inl "a b\\x41\\n" \r\n')).toBe('+OK\r\n')
    expect(await c.send('GET inl\n')).toBe('$5\r\na bA\n\r\n')
    expect(await c.send("ECHO 'it\\'s'\r\n")).toBe("$4\r\nit's\r\n")
    // An empty line is no command.
    expect(await c.send('\r\n\r\nPING\r\n')).toBe('+PONG\r\n')
    c.close()
  })

  test('unbalanced quotes are a protocol error', async () => {
    const c = await RawClient.connect(s.port)
    c.write('SET x "abc\r\n')
    await c.until(() => c.closed)
    expect(c.take()).toBe('-ERR Protocol error: unbalanced quotes in request\r\n')
  })
})

describe('pipelines', () => {
  test('ten thousand commands in one write are answered in order', async () => {
    const c = await RawClient.connect(s.port)
    const parts: Buffer[] = []
    for (let i = 0; i < 10_000; i++) parts.push(resp('INCR', 'pipe:counter'), resp('GET', 'pipe:counter'))
    const text = await c.send(Buffer.concat(parts), 20_000)
    const lines = text.split('\r\n')
    for (let i = 0; i < 10_000; i++) {
      expect(lines[3 * i]).toBe(`:${i + 1}`)
      expect(lines[3 * i + 2]).toBe(String(i + 1))
    }
    c.close()
  })

  test('a request cut at every byte is answered as a whole', async () => {
    const c = await RawClient.connect(s.port)
    const req = Buffer.concat([resp('SET', 'cut', 'value with\r\nCRLF'), resp('GET', 'cut'), Buffer.from('PING\r\n')])
    for (let i = 0; i < req.length; i++) {
      c.write(req.subarray(i, i + 1))
      await new Promise((r) => setImmediate(r))
    }
    await c.until((b) => countReplies(b) >= 3)
    expect(c.take()).toBe('+OK\r\n$16\r\nvalue with\r\nCRLF\r\n+PONG\r\n')
    c.close()
  })

  test('writes in sync durability still answer in request order', async () => {
    const { startServed: start } = await import('./fixture.js')
    const { tmpDir } = await import('../helpers/tmpdir.js')
    const synced = await start({ dir: tmpDir(), durability: 'sync' })
    const c = await RawClient.connect(synced.port)
    try {
      const parts: Buffer[] = []
      for (let i = 0; i < 500; i++) parts.push(resp('SET', `s${i}`, String(i)), resp('GET', `s${i}`), resp('DBSIZE'))
      const text = await c.send(Buffer.concat(parts), 1500)
      const lines = text.split('\r\n')
      for (let i = 0; i < 500; i++) {
        expect(lines[4 * i]).toBe('+OK')
        expect(lines[4 * i + 2]).toBe(String(i))
        expect(lines[4 * i + 3]).toBe(`:${i + 1}`)
      }
      expect(synced.db.stats().durableSeq).toBe(synced.db.seq)
    } finally {
      c.close()
      await synced.stop()
    }
  })
})

describe('protocol errors', () => {
  const cases: [string, string | Buffer, string][] = [
    ['a bad multibulk count', '*abc\r\n', 'invalid multibulk length'],
    ['a bulk that is not $', '*1\r\n+PING\r\n', "expected '$', got '+'"],
    ['a bad bulk length', '*1\r\n$x\r\n', 'invalid bulk length'],
    ['a bulk past the limit', '*1\r\n$600000000\r\n', 'invalid bulk length'],
    ['too many arguments', '*99999999\r\n', 'invalid multibulk length'],
    ['an inline request past 64 KiB', 'A'.repeat(70 * 1024), 'too big inline request'],
    ['a bulk without its CRLF', '*1\r\n$4\r\nPINGxx', 'expected CRLF after bulk data'],
  ]
  test.each(cases)('%s: answered, then the connection closes; others go on', async (_name, bytes, message) => {
    const bystander = await RawClient.connect(s.port)
    const c = await RawClient.connect(s.port)
    c.write(Buffer.concat([resp('SET', 'before', 'ok'), Buffer.from(bytes)]))
    await c.until(() => c.closed)
    expect(c.take()).toBe(`+OK\r\n-ERR Protocol error: ${message}\r\n`)
    expect(await bystander.send(resp('GET', 'before'))).toBe('$2\r\nok\r\n')
    bystander.close()
  })

  test('an unknown command is an error reply, never a hang', async () => {
    const c = await RawClient.connect(s.port)
    expect(await c.send(resp('NOSUCH', 'a', 'b'))).toBe("-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n")
    expect(await c.send(resp('GET'))).toBe("-ERR wrong number of arguments for 'get' command\r\n")
    c.close()
  })
})

describe('limits', () => {
  test('backpressure: a client that does not read stops being read; nothing is lost', async () => {
    const big = 'x'.repeat(64 * 1024)
    const setup = await RawClient.connect(s.port)
    await setup.send(resp('SET', 'big', big))
    const n = 1000 // 64 MB of replies
    const expected = n * (`$${big.length}\r\n`.length + big.length + 2)
    let received = 0
    const sock = net.connect(s.port, '127.0.0.1')
    await new Promise((r) => sock.once('connect', r))
    sock.pause()
    const parts: Buffer[] = []
    for (let i = 0; i < n; i++) parts.push(resp('GET', 'big'))
    sock.write(Buffer.concat(parts))
    // While the client reads nothing, the server's unsent output for it stays near the limit
    // (1 MiB here) instead of growing to 64 MB.
    let omem = 0
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 20))
      const list = await setup.send(resp('CLIENT', 'LIST'))
      omem = Math.max(omem, ...[...list.matchAll(/omem=(\d+)/g)].map((m) => Number(m[1])))
    }
    expect(omem).toBeGreaterThan(0)
    expect(omem).toBeLessThan(8 * 1024 * 1024)
    const done = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        received += d.length
        if (received >= expected) resolve()
      })
    })
    sock.resume()
    await done
    expect(received).toBe(expected)
    sock.destroy()
    setup.close()
  })

  test('a client that reads fast gets large replies past the output limit without a stall', async () => {
    const { serve } = await import('../../src/server/index.js')
    const server = await serve(s.db, { port: 0, outputLimit: 16 * 1024 })
    const setup = await RawClient.connect(server.port)
    const value = 'y'.repeat(20 * 1024)
    await setup.send(resp('SET', 'fast:big', value))
    for (const n of [2, 10, 300]) {
      const expected = n * (`$${value.length}\r\n`.length + value.length + 2)
      const sock = net.connect(server.port, '127.0.0.1')
      await new Promise((r) => sock.once('connect', r))
      let received = 0
      const done = new Promise<void>((resolve) => {
        sock.on('data', (d: Buffer) => {
          received += d.length
          if (received >= expected) resolve()
        })
      })
      sock.write(Buffer.concat(Array.from({ length: n }, () => resp('GET', 'fast:big'))))
      await done
      expect(received).toBe(expected)
      sock.destroy()
    }
    setup.close()
    await server.close()
    // Replies the kernel takes at once: no 'drain' ever comes, the server must resume by itself.
    const tiny = await serve(s.db, { port: 0, outputLimit: 1 })
    const c = await RawClient.connect(tiny.port)
    const text = await c.send(Buffer.concat(Array.from({ length: 50 }, () => resp('ECHO', 'ok'))), 50)
    expect(text).toBe('$2\r\nok\r\n'.repeat(50))
    c.close()
    await tiny.close()
  })

  test('maxclients: one more client is told and closed', async () => {
    const db = s.db
    const { serve } = await import('../../src/server/index.js')
    const server = await serve(db, { port: 0, maxclients: 2 })
    const a = await RawClient.connect(server.port)
    const b = await RawClient.connect(server.port)
    expect(await a.send('PING\r\n')).toBe('+PONG\r\n')
    const c = await RawClient.connect(server.port)
    await c.until(() => c.closed)
    expect(c.take()).toBe('-ERR max number of clients reached\r\n')
    expect(await b.send('PING\r\n')).toBe('+PONG\r\n')
    a.close()
    b.close()
    await server.close()
  })

  test('an idle client is closed after the timeout', async () => {
    const { serve } = await import('../../src/server/index.js')
    const server = await serve(s.db, { port: 0, timeout: 1 })
    const c = await RawClient.connect(server.port)
    expect(await c.send('PING\r\n')).toBe('+PONG\r\n')
    await c.until(() => c.closed, 10_000)
    expect(c.closed).toBe(true)
    await server.close()
  })

  test('the idle timeout spares a subscriber and a client blocked in XREAD BLOCK (as Redis)', async () => {
    const { serve } = await import('../../src/server/index.js')
    const server = await serve(s.db, { port: 0, timeout: 1 })
    const sub = await RawClient.connect(server.port)
    const reader = await RawClient.connect(server.port)
    const idle = await RawClient.connect(server.port)
    expect(await sub.send(resp('SUBSCRIBE', 'idle-chan'))).toContain('subscribe')
    reader.write(resp('XREAD', 'BLOCK', '0', 'STREAMS', '__changes__:idle-never:', '$'))
    expect(await idle.send('PING\r\n')).toBe('+PONG\r\n')
    // The plain idle client is closed after its second; the other two outlive it by another second.
    await idle.until(() => idle.closed, 10_000)
    await new Promise((r) => setTimeout(r, 1_500))
    expect(sub.closed).toBe(false)
    expect(reader.closed).toBe(false)
    sub.close()
    reader.close()
    await server.close()
  })

  test('before AUTH, requests are kept small', async () => {
    const { serve } = await import('../../src/server/index.js')
    const server = await serve(s.db, { port: 0, requirepass: 'pw' })
    const c = await RawClient.connect(server.port)
    c.write('*20\r\n')
    await c.until(() => c.closed)
    expect(c.take()).toBe('-ERR Protocol error: unauthenticated multibulk length\r\n')
    const d = await RawClient.connect(server.port)
    expect(await d.send(resp('AUTH', 'pw'))).toBe('+OK\r\n')
    expect(await d.send(resp('SET', 'after-auth', 'x'.repeat(100_000)))).toBe('+OK\r\n')
    d.close()
    await server.close()
  })
})

describe('RESP3', () => {
  test('a HELLO in a pipeline changes only the replies after it, also behind a pending write', async () => {
    const c = await RawClient.connect(s.port)
    const text = await c.send(Buffer.concat([resp('SET', 'hp:k', 'v'), resp('GET', 'hp:none'), resp('HELLO', '3'), resp('GET', 'hp:none')]), 4)
    expect(text.startsWith('+OK\r\n$-1\r\n%7\r\n')).toBe(true)
    expect(text.endsWith('_\r\n')).toBe(true)
    c.close()
  })

  test('HELLO 3 switches the reply types; RESET goes back to RESP2', async () => {
    const c = await RawClient.connect(s.port)
    const hello = await c.send(resp('HELLO', '3', 'SETNAME', 'me'))
    expect(hello.startsWith('%7\r\n')).toBe(true)
    expect(hello).toContain('$5\r\nproto\r\n:3\r\n')
    expect(await c.send(resp('GET', 'r3:none'))).toBe('_\r\n')
    await c.send(resp('HSET', 'r3:h', 'f', 'v'))
    expect(await c.send(resp('HGETALL', 'r3:h'))).toBe('%1\r\n$1\r\nf\r\n$1\r\nv\r\n')
    expect(await c.send(resp('CLIENT', 'GETNAME'))).toBe('$2\r\nme\r\n')
    expect((await c.send(resp('CLIENT', 'INFO'))).startsWith('=')).toBe(true)
    expect(await c.send(resp('RESET'))).toBe('+RESET\r\n')
    expect(await c.send(resp('GET', 'r3:none'))).toBe('$-1\r\n')
    expect(await c.send(resp('HELLO', '4'))).toBe('-NOPROTO unsupported protocol version\r\n')
    c.close()
  })
})
