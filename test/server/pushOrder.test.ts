// RESP2 has no push type: a message written ahead of a reply still pending (a write waiting for
// its fsync) would be read by the client as that reply. Messages go after the replies before them.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { tmpDir } from '../helpers/tmpdir.js'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
beforeAll(async () => {
  s = await startServed({ dir: tmpDir(), durability: 'sync' })
})
afterAll(async () => {
  await s.stop()
})

test('RESP2: a message published while a write reply is pending arrives after that reply', async () => {
  const pub = await RawClient.connect(s.port)
  let misordered = 0
  for (let round = 0; round < 10; round++) {
    const a = await RawClient.connect(s.port)
    a.write(Buffer.concat([resp('SET', `k${round}`, 'v'), resp('SUBSCRIBE', `ch${round}`)]))
    // Publish again and again while the SET waits for its fsync, until A hears anything.
    for (let i = 0; i < 200; i++) {
      pub.write(resp('PUBLISH', `ch${round}`, 'early'))
      await new Promise((r) => setImmediate(r))
      if (a.pending.length > 0) break
    }
    const out = (await a.until((b) => b.toString('latin1').includes('early'))).toString('latin1')
    if (!out.startsWith('+OK\r\n*3\r\n$9\r\nsubscribe\r\n')) misordered++
    a.close()
  }
  expect(misordered).toBe(0)
  pub.close()
})
