import { afterAll, beforeAll, expect, test } from 'vitest'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
beforeAll(async () => {
  s = await startServed()
})
afterAll(async () => {
  await s.stop()
})

test('smoke', async () => {
  const c = await RawClient.connect(s.port)
  expect(await c.send('PING\r\n')).toBe('+PONG\r\n')
  expect(await c.send(resp('SET', 'a', 'hello'))).toBe('+OK\r\n')
  expect(await c.send(resp('GET', 'a'))).toBe('$5\r\nhello\r\n')
  expect(await c.send(resp('INCR', 'n'))).toBe(':1\r\n')
  expect(await c.send(resp('foo', 'bar'))).toBe("-ERR unknown command 'foo', with args beginning with: 'bar' \r\n")
  c.close()
})
