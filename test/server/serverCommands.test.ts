// Server commands whose behaviour is not a reply to compare with redis-server's (the differential
// test does that): TIME's clock.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { RawClient, parseReply, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
beforeAll(async () => {
  s = await startServed({ durability: 'memory' })
})
afterAll(async () => {
  await s.stop()
})

describe('TIME', () => {
  test('never goes back: thousands of pipelined TIMEs are non-decreasing, and near the wall clock', async () => {
    const c = await RawClient.connect(s.port)
    try {
      const n = 5000
      const before = Date.now()
      const text = await c.send(Buffer.concat(Array.from({ length: n }, () => resp('TIME'))), n)
      const after = Date.now()
      const buf = Buffer.from(text, 'latin1')
      let at = 0
      let last = 0
      for (let i = 0; i < n; i++) {
        const [r, next] = parseReply(buf, at)
        at = next
        const [sec, usec] = r as string[]
        const us = Number(sec) * 1_000_000 + Number(usec)
        expect(Number(usec)).toBeLessThan(1_000_000)
        expect(us).toBeGreaterThanOrEqual(last)
        last = us
      }
      expect(last).toBeGreaterThanOrEqual(before * 1000)
      expect(last).toBeLessThan((after + 1) * 1000)
    } finally {
      c.close()
    }
  })
})
