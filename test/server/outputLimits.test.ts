// Output limits (issue: review 18): replies waiting behind a pending one count against
// outputLimit, and a subscriber that does not read is closed at pubsubOutputLimit.
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
beforeAll(async () => {
  s = await startServed({ durability: 'memory' }, { outputLimit: 1024 * 1024, pubsubOutputLimit: 2 * 1024 * 1024 })
})
afterAll(async () => {
  await s.stop()
})

/** The largest omem CLIENT LIST shows over ~600 ms. */
async function peakOmem(observer: RawClient): Promise<number> {
  let omem = 0
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 20))
    const list = await observer.send(resp('CLIENT', 'LIST'))
    omem = Math.max(omem, ...[...list.matchAll(/omem=(\d+)/g)].map((m) => Number(m[1])))
  }
  return omem
}

describe('outputLimit', () => {
  for (const first of [['SET', 'a', '1'], ['SAVE']]) {
    test(`replies queued behind a pending one (${first[0]}) count: a client that does not read stops being read`, async () => {
      const big = 'x'.repeat(64 * 1024)
      const setup = await RawClient.connect(s.port)
      await setup.send(resp('SET', 'big', big))
      const n = 1000 // 64 MB of replies
      const sock = net.connect(s.port, '127.0.0.1')
      await new Promise((r) => sock.once('connect', r))
      sock.pause()
      sock.write(Buffer.concat([resp(...first), ...Array.from({ length: n }, () => resp('GET', 'big'))]))
      const omem = await peakOmem(setup)
      expect(omem).toBeGreaterThan(0)
      expect(omem).toBeLessThan(8 * 1024 * 1024)
      // Nothing is lost once it reads.
      const expected = '+OK\r\n'.length + n * (`$${big.length}\r\n`.length + big.length + 2)
      let received = 0
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
  }
})

describe('pubsubOutputLimit', () => {
  test('a subscriber that does not read is closed once its unsent messages pass the limit', async () => {
    const sub = await RawClient.connect(s.port)
    await sub.send(resp('SUBSCRIBE', 'slow'))
    sub.socket.pause()
    const pub = await RawClient.connect(s.port)
    const msg = 'm'.repeat(100_000)
    let closedAfter = -1
    for (let i = 0; i < 400 && closedAfter < 0; i++) {
      const n = Number((await pub.send(resp('PUBLISH', 'slow', msg))).slice(1, -2))
      if (n === 0) closedAfter = i
    }
    // 2 MiB is about 21 messages; the kernel's socket buffers take some more.
    expect(closedAfter).toBeGreaterThan(0)
    expect(closedAfter).toBeLessThan(400)
    const list = await pub.send(resp('CLIENT', 'LIST'))
    expect(list).not.toMatch(/sub=1/)
    expect(await pub.send(resp('CONFIG', 'GET', 'client-output-buffer-limit'))).toContain(`pubsub ${2 * 1024 * 1024} ${512 * 1024} 60`)
    // A subscriber that reads gets every message.
    const fast = await RawClient.connect(s.port)
    await fast.send(resp('SUBSCRIBE', 'fast'))
    for (let i = 0; i < 100; i++) expect(await pub.send(resp('PUBLISH', 'fast', msg))).toBe(':1\r\n')
    fast.close()
    pub.close()
    sub.close()
  })
})
