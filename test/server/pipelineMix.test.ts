// A pipeline whose replies are partly ready at once (GET, PING, a write the command refuses) and
// partly waiting (a write's acknowledgement in durability 'sync'; in 'buffered' a write is
// answered once sequenced): every reply comes back in request order, however the pipeline is
// cut into reads, and a refused write leaves no trace.
import { afterAll, describe, expect, test } from 'vitest'
import { RawClient, countReplies, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'
import { tmpDir } from '../helpers/tmpdir.js'

const NOT_INT = '-ERR value is not an integer or out of range'

/** One round of the pipeline for key suffix `i`, and the replies it must get (error lines by prefix). */
function round(i: number): { req: Buffer[]; expect: (string | RegExp)[] } {
  const k = `mix:${i}`
  return {
    req: [
      resp('SET', k, '1'),
      resp('INCR', k),
      resp('SET', '', 'refused'), // an empty key: the command refuses it
      resp('INCR', k),
      resp('SET', `${k}:s`, 'abc'),
      resp('INCR', `${k}:s`), // refused: not an integer, the value stays
      resp('GET', k),
      Buffer.from('PING\r\n'),
      resp('GET', `${k}:s`),
      resp('EXISTS', ''),
    ],
    expect: ['+OK', ':2', /^-ERR /, ':3', '+OK', NOT_INT, '$1', '3', '+PONG', '$3', 'abc', /^-ERR /],
  }
}

function check(text: string, rounds: number): void {
  const lines = text.split('\r\n')
  let at = 0
  for (let i = 0; i < rounds; i++) {
    for (const e of round(i).expect) {
      const line = lines[at++]!
      if (typeof e === 'string') expect(line).toBe(e)
      else expect(line).toMatch(e)
    }
  }
  expect(lines.slice(at)).toEqual([''])
}

const servers: Served[] = []
afterAll(async () => {
  for (const s of servers) await s.stop()
})

describe.each(['buffered', 'sync'] as const)("durability '%s'", (durability) => {
  test('sync and waiting replies, refused writes among them, come back in request order', async () => {
    const s = await startServed({ dir: tmpDir(), durability })
    servers.push(s)
    const c = await RawClient.connect(s.port)
    const rounds = 300
    const all = Buffer.concat(Array.from({ length: rounds }, (_, i) => Buffer.concat(round(i).req)))
    // Cut into reads of varying sizes, each on its own turn, so pending writes span reads.
    let off = 0
    for (let n = 1; off < all.length; n = (n * 7 + 3) % 997) {
      c.write(all.subarray(off, off + n))
      off += n
      if (n % 5 === 0) await new Promise((r) => setImmediate(r))
    }
    await c.until((b) => countReplies(b) >= rounds * 10, 20_000)
    check(c.take(), rounds)
    expect(s.db.get('')).toBeUndefined()
    expect(String(s.db.get('mix:0:s'))).toBe('abc')
    c.close()
  })

  test('the same pipeline cut at every byte', async () => {
    const s = await startServed({ dir: tmpDir(), durability })
    servers.push(s)
    const c = await RawClient.connect(s.port)
    const all = Buffer.concat(round(0).req)
    for (let i = 0; i < all.length; i++) {
      c.write(all.subarray(i, i + 1))
      await new Promise((r) => setImmediate(r))
    }
    await c.until((b) => countReplies(b) >= 10)
    check(c.take(), 1)
    c.close()
  })
})
