// The change log as the read-only stream __changes__: entry IDs are <seq>-<op index>, ranges and
// COUNT as XRANGE's, XREAD resumes after an ID (also across a server restart, with BLOCK), and
// the keys are read-only.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { open } from '../../src/index.js'
import { serve } from '../../src/server/index.js'
import { longTimeout } from '../../src/server/commands/streams.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { RawClient, countReplies, parseReply, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

type Entry = [string, string[]]

let s: Served
let r: Redis
beforeAll(async () => {
  s = await startServed({ dir: tmpDir(), durability: 'sync' })
  r = new Redis({ port: s.port, host: '127.0.0.1' })
})
afterAll(async () => {
  r.disconnect()
  await s.stop()
})

/** Field list as an object (fields are unique within an entry). */
function fields(e: Entry): Record<string, string> {
  const o: Record<string, string> = {}
  for (let i = 0; i < e[1].length; i += 2) o[e[1][i]!] = e[1][i + 1]!
  return o
}

describe('XRANGE, XREVRANGE, XLEN over the change log', () => {
  let first: number
  beforeAll(async () => {
    first = s.db.seq + 1
    await r.set('s:a', 'one') // first
    await r.mset('s:b', 'two', 'other', 'x', 's:c', 'three') // first+1: a batch of 3 ops
    await r.hset('s:h', 'f', 'v') // first+2
    await r.del('s:a') // first+3
    await s.db.put('s:api', { note: 'an object' }, { expiresAt: 4_000_000_000_000 }) // first+4
  })

  test('entries have IDs <seq>-<op index> and the fields of their change', async () => {
    const all = (await r.xrange('__changes__', `${first}`, '+')) as Entry[]
    expect(all.map((e) => e[0])).toEqual([`${first}-0`, `${first + 1}-0`, `${first + 1}-1`, `${first + 1}-2`, `${first + 2}-0`, `${first + 3}-0`, `${first + 4}-0`])
    expect(fields(all[0]!)).toMatchObject({ type: 'put', key: 's:a', value: 'one' })
    expect(Number(fields(all[1]!).time)).toBe(s.db.getEntry('s:b')!.time)
    expect(fields(all[2]!)).toMatchObject({ type: 'put', key: 'other', value: 'x' })
    expect(fields(all[4]!)).toMatchObject({ type: 'put', key: 's:h', 'value-type': 'hash' })
    expect(fields(all[5]!)).toMatchObject({ type: 'del', key: 's:a' })
    expect(fields(all[5]!).value).toBeUndefined()
    expect(fields(all[6]!)).toMatchObject({ type: 'put', key: 's:api', 'value-type': 'islab-value', 'expires-at': '4000000000000' })
  })

  test('a prefix stream keeps the IDs of the full one', async () => {
    const some = (await r.xrange('__changes__:s:', `${first}`, '+')) as Entry[]
    expect(some.map((e) => e[0])).toEqual([`${first}-0`, `${first + 1}-0`, `${first + 1}-2`, `${first + 2}-0`, `${first + 3}-0`, `${first + 4}-0`])
  })

  test('COUNT, exclusive bounds, partial IDs and XREVRANGE', async () => {
    const ids = async (p: Promise<unknown>) => ((await p) as Entry[]).map((e) => e[0])
    expect(await ids(r.xrange('__changes__', `${first}`, '+', 'COUNT', 2))).toEqual([`${first}-0`, `${first + 1}-0`])
    expect(await ids(r.xrange('__changes__', `(${first + 1}-0`, `${first + 1}`))).toEqual([`${first + 1}-1`, `${first + 1}-2`])
    expect(await ids(r.xrange('__changes__', `${first + 1}-1`, `(${first + 2}-0`))).toEqual([`${first + 1}-1`, `${first + 1}-2`])
    expect(await ids(r.xrevrange('__changes__', '+', '-', 'COUNT', 3))).toEqual([`${first + 4}-0`, `${first + 3}-0`, `${first + 2}-0`])
    expect(await ids(r.xrevrange('__changes__:s:', `${first + 1}-2`, `${first}`))).toEqual([`${first + 1}-2`, `${first + 1}-0`, `${first}-0`])
    expect(await ids(r.xrange('__changes__', `${first + 3}`, `${first}`))).toEqual([])
    expect(await ids(r.xrange('__changes__', '-', '+', 'COUNT', 0))).toEqual([])
    expect(await r.xlen('__changes__:s:')).toBe((await r.xrange('__changes__:s:', '-', '+')).length)
    expect(await r.xlen('__changes__')).toBeGreaterThanOrEqual(7)
  })

  test("errors and other keys answer as Redis's", async () => {
    const c = await RawClient.connect(s.port)
    try {
      const send = async (...a: string[]) => parseReply(Buffer.from(await c.send(resp(...a)), 'latin1'))[0]
      expect(await send('XRANGE', '__changes__', 'abc', '+')).toEqual({ error: 'ERR Invalid stream ID specified as stream command argument' })
      expect(await send('XRANGE', '__changes__', '(-', '+')).toEqual({ error: 'ERR Invalid stream ID specified as stream command argument' })
      expect(await send('XRANGE', '__changes__', '(18446744073709551615-18446744073709551615', '+')).toEqual({ error: 'ERR invalid start ID for the interval' })
      expect(await send('XRANGE', '__changes__', '-', '+', 'BOGUS', '1')).toEqual({ error: 'ERR syntax error' })
      expect(await send('XRANGE', 'nokey', '-', '+')).toEqual([])
      expect(await send('XLEN', 'nokey')).toBe(0)
      expect(await send('XREAD', 'STREAMS', 'nokey', '0')).toBe(null)
      expect(await send('XREAD', 'BLOCK', '-1', 'STREAMS', '__changes__', '0')).toEqual({ error: 'ERR timeout is negative' })
      expect(await send('XREAD', 'STREAMS', '__changes__', 'bad')).toEqual({ error: 'ERR Invalid stream ID specified as stream command argument' })
      expect(await send('XREAD', 'STREAMS', '__changes__', 'nokey', '0')).toEqual({ error: "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified." })
      await send('SET', 'str', 'v')
      expect(await send('XRANGE', 'str', '-', '+')).toEqual({ error: 'WRONGTYPE Operation against a key holding the wrong kind of value' })
      expect(await send('XLEN', 'str')).toEqual({ error: 'WRONGTYPE Operation against a key holding the wrong kind of value' })
      expect(await send('TYPE', '__changes__')).toBe('stream')
    } finally {
      c.close()
    }
  })

  test('the change-log keys are read-only', async () => {
    const seq = s.db.seq
    for (const cmd of [
      ['XADD', '__changes__', '*', 'f', 'v'],
      ['SET', '__changes__', 'x'],
      ['DEL', '__changes__'],
      ['DEL', '__changes__:user:'],
      ['HSET', '__changes__:x', 'f', 'v'],
      ['RENAME', 's:b', '__changes__'],
      ['MSET', 'fine', '1', '__changes__', '2'],
    ]) {
      await expect(r.call(cmd[0]!, ...cmd.slice(1)), cmd.join(' ')).rejects.toThrow('ERR __changes__ is the change log of IsLabDB, a read-only stream')
    }
    expect(s.db.seq).toBe(seq)
    expect(s.db.has('fine')).toBe(false)
    await expect(r.call('XADD', 'mystream', '*', 'f', 'v')).rejects.toThrow('ERR IsLabDB has no stream type')
    // A key that only starts like one is an ordinary key.
    expect(await r.set('__changes__x', 'ok')).toBe('OK')
  })
})

describe('XREAD', () => {
  test('resumes after an ID, with COUNT, in RESP2 and RESP3', async () => {
    const from = s.db.seq
    await r.set('x:1', 'a')
    await r.mset('x:2', 'b', 'x:3', 'c')
    const got = (await r.xread('COUNT', 2, 'STREAMS', '__changes__:x:', `${from}-0`)) as [string, Entry[]][]
    expect(got[0]![0]).toBe('__changes__:x:')
    expect(got[0]![1].map((e) => e[0])).toEqual([`${from + 1}-0`, `${from + 2}-0`])
    const rest = (await r.xread('STREAMS', '__changes__:x:', got[0]![1][1]![0])) as [string, Entry[]][]
    expect(rest[0]![1].map((e) => [e[0], fields(e).key])).toEqual([[`${from + 2}-1`, 'x:3']])
    const r3 = new Redis({ port: s.port, host: '127.0.0.1', protocol: 3 } as never)
    try {
      const m = (await r3.call('XREAD', 'STREAMS', '__changes__:x:', `${from + 2}-0`)) as unknown
      // RESP3: a map from stream key to entries (ioredis gives maps as flat arrays).
      expect(JSON.stringify(m)).toContain(`${from + 2}-1`)
      expect(await r3.call('XREAD', 'STREAMS', '__changes__:x:', `${from + 2}-1`)).toBeNull()
    } finally {
      r3.disconnect()
    }
  })

  test('BLOCK waits for a change, from `$`, without holding up other clients', async () => {
    const reader = new Redis({ port: s.port, host: '127.0.0.1' })
    try {
      const pending = reader.xread('BLOCK', 0, 'STREAMS', '__changes__:blk:', '$') as Promise<[string, Entry[]][]>
      // The others go on: writes and reads from another client, a write through the API.
      await new Promise((res) => setTimeout(res, 50))
      expect(await r.set('other:blk', '1')).toBe('OK')
      expect(await r.get('other:blk')).toBe('1')
      await s.db.put('blk:api', 'from the API')
      const got = await pending
      expect(got[0]![1].map((e) => fields(e))).toEqual([expect.objectContaining({ type: 'put', key: 'blk:api', value: 'from the API' })])
    } finally {
      reader.disconnect()
    }
  })

  test('commands pipelined after XREAD BLOCK wait until it is answered (as in Redis)', async () => {
    const c = await RawClient.connect(s.port)
    try {
      c.write(Buffer.concat([resp('XREAD', 'BLOCK', '0', 'STREAMS', '__changes__:pipe:', '$'), resp('SET', 'pipe:after', '1'), resp('GET', 'pipe:after')]))
      await untilAsync(async () => (await blocked()) === 1, 'the read to block')
      // The SET after it has not run: it would otherwise be the very change the read returns.
      await new Promise((res) => setTimeout(res, 50))
      expect(s.db.has('pipe:after')).toBe(false)
      await s.db.put('pipe:api', 'first')
      const text = Buffer.from(await c.until((b) => countReplies(b) >= 3))
      const [read, at] = parseReply(text, 0)
      expect(JSON.stringify(read)).toContain('pipe:api')
      expect(JSON.stringify(read)).not.toContain('pipe:after')
      expect(text.toString('latin1', at)).toBe('+OK\r\n$1\r\n1\r\n')
    } finally {
      c.close()
    }
  })

  test('a BLOCK longer than a Node timer holds (2^31 ms and more) waits instead of timing out at once', async () => {
    const c = await RawClient.connect(s.port)
    try {
      c.write(resp('XREAD', 'BLOCK', String(2 ** 31 + 5), 'STREAMS', '__changes__:long:', '$'))
      await untilAsync(async () => (await blocked()) === 1, 'the read to block')
      await new Promise((r) => setTimeout(r, 100))
      expect(c.take()).toBe('')
    } finally {
      c.close()
    }
    await untilAsync(async () => (await blocked()) === 0, 'the blocked read to end')
  })

  test('longTimeout fires once after its delay and not when cancelled', async () => {
    let fired = 0
    longTimeout(20, () => fired++)
    const cancelled = longTimeout(20, () => fired++)
    cancelled.cancel()
    await new Promise((r) => setTimeout(r, 80))
    expect(fired).toBe(1)
  })

  test('BLOCK times out with a null reply; a disconnect ends the wait', async () => {
    const c = await RawClient.connect(s.port)
    try {
      expect(await c.send(resp('XREAD', 'BLOCK', '30', 'STREAMS', '__changes__:never:', '$'))).toBe('*-1\r\n')
      expect(await c.send(resp('HELLO', '3')).then((t) => t.length > 0)).toBe(true)
      expect(await c.send(resp('XREAD', 'BLOCK', '30', 'STREAMS', '__changes__:never:', '$'))).toBe('_\r\n')
    } finally {
      c.close()
    }
    const d = await RawClient.connect(s.port)
    d.write(resp('XREAD', 'BLOCK', '0', 'STREAMS', '__changes__:never:', '$'))
    await untilAsync(async () => (await blocked()) === 1, 'the read to block')
    d.close()
    await untilAsync(async () => (await blocked()) === 0, 'the blocked read to end')
  })

  test('a resume from an ID the log no longer holds is an error, not a gap', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'sync', segmentBytes: 4096, checkpoint: { keep: 1, auto: false } })
    const server = await serve(db, { port: 0 })
    const c = new Redis({ port: server.port, host: '127.0.0.1' })
    try {
      for (let i = 0; i < 200; i++) await c.set(`k${i}`, 'x'.repeat(100))
      await db.checkpoint()
      await db.checkpoint()
      // An idle checkpoint starts a new segment and prunes the ones it covers: a write after it
      // gives the retained log an entry.
      await c.set('after', 'y')
      const oldest = ((await c.xrange('__changes__', '-', '+', 'COUNT', 1)) as Entry[])[0]![0]
      expect(Number(oldest.split('-')[0])).toBeGreaterThan(1)
      await expect(c.xread('STREAMS', '__changes__', '1-0')).rejects.toThrow(/the change log after 1-0 is no longer retained \(the oldest entry is \d+-0\)/)
      // From 0: everything there is, from the oldest entry on.
      const all = (await c.xread('COUNT', 1, 'STREAMS', '__changes__', '0')) as [string, Entry[]][]
      expect(all[0]![1][0]![0]).toBe(oldest)
    } finally {
      c.disconnect()
      await server.close()
      await db.close()
    }
  })
})

test('XREAD BLOCK resumes without a gap across a server restart', async () => {
  const dir = tmpDir()
  const seen: string[] = []
  let last = '0'
  const writes = 30
  for (let round = 0; round < 3; round++) {
    const db = await open({ dir, durability: 'buffered' })
    const server = await serve(db, { port: 0 })
    const reader = new Redis({ port: server.port, host: '127.0.0.1' })
    const writer = new Redis({ port: server.port, host: '127.0.0.1' })
    // Writes keep coming while the reader reads; some land after its last read of this round.
    const writing = (async () => {
      for (let i = 0; i < writes; i++) await writer.set(`r:${round}:${i}`, String(i))
    })()
    const target = (round + 1) * writes - 5
    while (seen.length < target) {
      const got = (await reader.xread('COUNT', 7, 'BLOCK', 5000, 'STREAMS', '__changes__:r:', last)) as [string, Entry[]][] | null
      for (const e of got?.[0]![1] ?? []) {
        seen.push(fields(e).key!)
        last = e[0]
      }
    }
    await writing
    reader.disconnect()
    writer.disconnect()
    await server.close()
    await db.close()
  }
  // A last server: the reader drains what is left.
  const db = await open({ dir })
  const server = await serve(db, { port: 0 })
  const reader = new Redis({ port: server.port, host: '127.0.0.1' })
  try {
    const got = (await reader.xread('STREAMS', '__changes__:r:', last)) as [string, Entry[]][] | null
    for (const e of got?.[0]![1] ?? []) seen.push(fields(e).key!)
    const expected = [0, 1, 2].flatMap((round) => Array.from({ length: writes }, (_, i) => `r:${round}:${i}`))
    expect(seen).toEqual(expected)
  } finally {
    reader.disconnect()
    await server.close()
    await db.close()
  }
})

async function untilAsync(pred: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((res) => setTimeout(res, 10))
  }
}

/** INFO's blocked_clients: clients waiting in XREAD BLOCK. */
async function blocked(): Promise<number> {
  return Number(/blocked_clients:(\d+)/.exec(await r.info('clients'))![1])
}
