// AUTH pipelined with what follows (node-redis sends AUTH/HELLO and its first commands in one
// write): the commands after a successful AUTH in the same read get the authenticated limits.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
beforeAll(async () => {
  s = await startServed({ durability: 'memory' }, { requirepass: 'pw' })
})
afterAll(async () => {
  await s.stop()
})

const many = Array.from({ length: 30 }, (_, i) => `f${i}`)

test('AUTH then a large value and many arguments in the same write', async () => {
  const c = await RawClient.connect(s.port)
  const text = await c.send(Buffer.concat([resp('AUTH', 'pw'), resp('SET', 'big', 'x'.repeat(100_000)), resp('DEL', ...many), resp('STRLEN', 'big')]), 4)
  expect(text).toBe('+OK\r\n+OK\r\n:0\r\n:100000\r\n')
  c.close()
})

test('HELLO 3 AUTH then a large value in the same write, inline commands too', async () => {
  const c = await RawClient.connect(s.port)
  c.write(Buffer.concat([resp('HELLO', '3', 'AUTH', 'default', 'pw'), resp('SET', 'big2', 'y'.repeat(50_000)), Buffer.from(`DEL ${many.join(' ')}\r\nSTRLEN big2\r\n`)]))
  const out = await c.until((b) => b.toString('latin1').endsWith(':50000\r\n') || c.closed)
  expect(out.toString('latin1')).toMatch(/\+OK\r\n:0\r\n:50000\r\n$/)
  expect(c.closed).toBe(false)
  c.close()
})

test('a failed AUTH keeps the limits for what follows it in the same write', async () => {
  const c = await RawClient.connect(s.port)
  c.write(Buffer.concat([resp('AUTH', 'wrong'), resp('SET', 'big3', 'z'.repeat(100_000))]))
  await c.until(() => c.closed)
  expect(c.take()).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n-ERR Protocol error: unauthenticated bulk length\r\n')
})
