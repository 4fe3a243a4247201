// MULTI/EXEC is one db.batch (one event, one seq); WATCH is optimistic concurrency on seqs.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
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

describe('MULTI/EXEC', () => {
  test('many clients incrementing in transactions: the final value is exact, each EXEC one event', async () => {
    const clients = Array.from({ length: 12 }, () => new Redis({ port: s.port, host: '127.0.0.1' }))
    const seqBefore = s.db.seq
    try {
      await Promise.all(
        clients.map(async (r) => {
          for (let i = 0; i < 25; i++) {
            const res = await r.multi().incr('tx:count').incr('tx:count').get('tx:count').exec()
            expect((res![0]![1] as number) + 1).toBe(res![1]![1])
            // Both increments of one EXEC are adjacent: no other client's write came between.
            expect(String(res![1]![1])).toBe(res![2]![1])
          }
        }),
      )
      expect(await clients[0]!.get('tx:count')).toBe(String(12 * 25 * 2))
      expect(s.db.seq - seqBefore).toBe(12 * 25)
    } finally {
      for (const r of clients) r.disconnect()
    }
  })

  test('commands inside see each other; a failing command is reported and the rest apply', async () => {
    const c = await RawClient.connect(s.port)
    expect(await c.send(resp('MULTI'))).toBe('+OK\r\n')
    expect(await c.send(resp('SET', 'tx:s', 'abc'))).toBe('+QUEUED\r\n')
    expect(await c.send(resp('APPEND', 'tx:s', 'def'))).toBe('+QUEUED\r\n')
    expect(await c.send(resp('INCR', 'tx:s'))).toBe('+QUEUED\r\n')
    expect(await c.send(resp('GET', 'tx:s'))).toBe('+QUEUED\r\n')
    expect(await c.send(resp('RENAME', 'tx:s', 'tx:t'))).toBe('+QUEUED\r\n')
    expect(await c.send(resp('EXISTS', 'tx:s', 'tx:t'))).toBe('+QUEUED\r\n')
    expect(await c.send(resp('EXEC'))).toBe('*6\r\n+OK\r\n:6\r\n-ERR value is not an integer or out of range\r\n$6\r\nabcdef\r\n+OK\r\n:1\r\n')
    expect(s.db.get('tx:t')).toEqual(Buffer.from('abcdef'))
    expect(s.db.has('tx:s')).toBe(false)
    c.close()
  })

  test('an error while queueing aborts EXEC (EXECABORT); DISCARD drops the queue', async () => {
    const c = await RawClient.connect(s.port)
    await c.send(resp('MULTI'))
    expect(await c.send(resp('SET', 'tx:abort', '1'))).toBe('+QUEUED\r\n')
    expect(await c.send(resp('GET'))).toBe("-ERR wrong number of arguments for 'get' command\r\n")
    expect(await c.send(resp('EXEC'))).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n')
    expect(s.db.has('tx:abort')).toBe(false)
    await c.send(resp('MULTI'))
    await c.send(resp('SET', 'tx:abort', '1'))
    expect(await c.send(resp('DISCARD'))).toBe('+OK\r\n')
    expect(await c.send(resp('EXEC'))).toBe('-ERR EXEC without MULTI\r\n')
    expect(s.db.has('tx:abort')).toBe(false)
    c.close()
  })

  test('WATCH: a write by another client between WATCH and EXEC makes EXEC answer nil and change nothing', async () => {
    const a = await RawClient.connect(s.port)
    const b = await RawClient.connect(s.port)
    await a.send(resp('SET', 'w:k', '1'))
    expect(await a.send(resp('WATCH', 'w:k'))).toBe('+OK\r\n')
    expect(await b.send(resp('SET', 'w:k', '2'))).toBe('+OK\r\n')
    await a.send(resp('MULTI'))
    await a.send(resp('SET', 'w:k', '3'))
    await a.send(resp('SET', 'w:other', 'x'))
    expect(await a.send(resp('EXEC'))).toBe('*-1\r\n')
    expect(s.db.get('w:k')).toEqual(Buffer.from('2'))
    expect(s.db.has('w:other')).toBe(false)
    // Not changed: EXEC applies; the watch ends with EXEC.
    await a.send(resp('WATCH', 'w:k', 'w:absent'))
    await a.send(resp('MULTI'))
    await a.send(resp('INCR', 'w:k'))
    expect(await a.send(resp('EXEC'))).toBe('*1\r\n:3\r\n')
    // Watching an absent key: creating it is a change.
    await a.send(resp('WATCH', 'w:absent'))
    await b.send(resp('SET', 'w:absent', 'now'))
    await a.send(resp('MULTI'))
    await a.send(resp('GET', 'w:absent'))
    expect(await a.send(resp('EXEC'))).toBe('*-1\r\n')
    // UNWATCH forgets.
    await a.send(resp('WATCH', 'w:k'))
    await b.send(resp('SET', 'w:k', '9'))
    await a.send(resp('UNWATCH'))
    await a.send(resp('MULTI'))
    await a.send(resp('GET', 'w:k'))
    expect(await a.send(resp('EXEC'))).toBe('*1\r\n$1\r\n9\r\n')
    a.close()
    b.close()
  })

  test('WATCH sees a key created and deleted again since (absent, written, absent: EXEC aborts, as in Redis)', async () => {
    const a = await RawClient.connect(s.port)
    const b = await RawClient.connect(s.port)
    await a.send(resp('DEL', 'aba:w'))
    expect(await a.send(resp('WATCH', 'aba:w'))).toBe('+OK\r\n')
    await b.send(resp('SET', 'aba:w', '1'))
    await b.send(resp('DEL', 'aba:w'))
    await a.send(resp('MULTI'))
    await a.send(resp('SET', 'aba:other', '1'))
    expect(await a.send(resp('EXEC'))).toBe('*-1\r\n')
    expect(s.db.has('aba:other')).toBe(false)
    // A DEL of a key that is not there writes nothing: no abort. Nor after UNWATCH.
    await a.send(resp('WATCH', 'aba:w'))
    await b.send(resp('DEL', 'aba:w'))
    await a.send(resp('MULTI'))
    await a.send(resp('SET', 'aba:other', '2'))
    expect(await a.send(resp('EXEC'))).toBe('*1\r\n+OK\r\n')
    await a.send(resp('WATCH', 'aba:w'))
    await b.send(resp('SET', 'aba:w', '1'))
    await b.send(resp('DEL', 'aba:w'))
    await a.send(resp('UNWATCH'))
    await a.send(resp('MULTI'))
    await a.send(resp('SET', 'aba:other', '3'))
    expect(await a.send(resp('EXEC'))).toBe('*1\r\n+OK\r\n')
    // The watcher's own write counts too (Redis).
    await a.send(resp('WATCH', 'aba:w'))
    await a.send(resp('SET', 'aba:w', '1'))
    await a.send(resp('DEL', 'aba:w'))
    await a.send(resp('MULTI'))
    await a.send(resp('SET', 'aba:other', '4'))
    expect(await a.send(resp('EXEC'))).toBe('*-1\r\n')
    expect(s.db.get('aba:other')).toEqual(Buffer.from('3'))
    a.close()
    b.close()
  })

  test('WATCH sees a key created and deleted again through the embedded API (no notifications or tracking on): EXEC aborts', async () => {
    const a = await RawClient.connect(s.port)
    await a.send(resp('DEL', 'aba:api'))
    expect(await a.send(resp('WATCH', 'aba:api'))).toBe('+OK\r\n')
    await s.db.put('aba:api', 'x')
    await s.db.delete('aba:api')
    await a.send(resp('MULTI'))
    await a.send(resp('SET', 'aba:api:other', '1'))
    // Redis aborts EXEC when a watched key was touched, whether it exists at EXEC or not.
    expect(await a.send(resp('EXEC'))).toBe('*-1\r\n')
    expect(s.db.has('aba:api:other')).toBe(false)
    // A write to another key through the API does not abort; nor does anything once UNWATCHed.
    await a.send(resp('WATCH', 'aba:api'))
    await s.db.put('aba:api:unrelated', 'y')
    await a.send(resp('MULTI'))
    await a.send(resp('SET', 'aba:api:other', '2'))
    expect(await a.send(resp('EXEC'))).toBe('*1\r\n+OK\r\n')
    a.close()
  })

  test('WATCH with ioredis: an optimistic increment retried until it wins', async () => {
    const clients = Array.from({ length: 6 }, () => new Redis({ port: s.port, host: '127.0.0.1' }))
    try {
      let conflicts = 0
      await Promise.all(
        clients.map(async (r) => {
          for (let i = 0; i < 10; i++) {
            for (;;) {
              await r.watch('w:opt')
              const v = Number((await r.get('w:opt')) ?? '0')
              const res = await r.multi().set('w:opt', String(v + 1)).exec()
              if (res !== null) break
              conflicts++
            }
          }
        }),
      )
      // Every increment counted once, however many attempts lost (conflicts) on the way.
      expect(await clients[0]!.get('w:opt')).toBe('60')
      expect(s.db.getEntry('w:opt')!.seq).toBeGreaterThan(0)
      void conflicts
    } finally {
      for (const r of clients) r.disconnect()
    }
  })

  test('MULTI inside MULTI, WATCH inside MULTI, and commands not allowed in a transaction', async () => {
    const c = await RawClient.connect(s.port)
    await c.send(resp('MULTI'))
    expect(await c.send(resp('MULTI'))).toBe('-ERR MULTI calls can not be nested\r\n')
    expect(await c.send(resp('WATCH', 'x'))).toBe('-ERR WATCH inside MULTI is not allowed\r\n')
    expect(await c.send(resp('SAVE'))).toBe('-ERR Command not allowed inside a transaction\r\n')
    expect(await c.send(resp('EXEC'))).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n')
    c.close()
  })
})
