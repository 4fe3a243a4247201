// How the embedded API's values look over RESP, and the differences from Redis that are
// decisions (docs/server.md): keys are UTF-8 text, one database, no expiry yet, physics in OBJECT.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { tmpDir } from '../helpers/tmpdir.js'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

let s: Served
let c: RawClient
beforeAll(async () => {
  s = await startServed({ dir: tmpDir(), durability: 'sync' })
  c = await RawClient.connect(s.port)
})
afterAll(async () => {
  c.close()
  await s.stop()
})

describe('values set through the API', () => {
  test('strings answer as their UTF-8, numbers and bigints as decimal text', async () => {
    await s.db.put('api:str', 'grüße')
    await s.db.put('api:int', 42)
    await s.db.put('api:float', 1.5)
    await s.db.put('api:big', 12345678901234567890n)
    await s.db.put('api:bytes', new Uint8Array([1, 2, 3]))
    // The raw client shows bytes as latin1.
    expect(await c.send(resp('GET', 'api:str'))).toBe(`$7\r\n${Buffer.from('grüße').toString('latin1')}\r\n`)
    expect(await c.send(resp('STRLEN', 'api:str'))).toBe(':7\r\n')
    expect(await c.send(resp('GET', 'api:int'))).toBe('$2\r\n42\r\n')
    expect(await c.send(resp('GET', 'api:float'))).toBe('$3\r\n1.5\r\n')
    expect(await c.send(resp('GET', 'api:big'))).toBe('$20\r\n12345678901234567890\r\n')
    expect(await c.send(resp('GET', 'api:bytes'))).toBe('$3\r\n\x01\x02\x03\r\n')
    expect(await c.send(resp('TYPE', 'api:int'))).toBe('+string\r\n')
  })

  test('a counter set as a number stays a number for the API; one written over RESP is bytes', async () => {
    await s.db.put('api:visits', 10)
    expect(await c.send(resp('INCRBY', 'api:visits', '5'))).toBe(':15\r\n')
    expect(s.db.get('api:visits')).toBe(15)
    expect(await c.send(resp('INCRBYFLOAT', 'api:visits', '0.5'))).toBe('$4\r\n15.5\r\n')
    expect(s.db.get('api:visits')).toBe(15.5)
    expect(await c.send(resp('INCR', 'resp:visits'))).toBe(':1\r\n')
    expect(s.db.get('resp:visits')).toEqual(Buffer.from('1'))
    await s.db.put('api:bigcount', 9007199254740993n)
    expect(await c.send(resp('INCR', 'api:bigcount'))).toBe(':9007199254740994\r\n')
    expect(s.db.get('api:bigcount')).toBe(9007199254740994n)
  })

  test('a Map of strings is a hash; other values are WRONGTYPE to Redis commands, TYPE islab-value', async () => {
    await s.db.put('api:map', new Map<string, unknown>([['name', 'Ada'], ['age', 36]]))
    expect(await c.send(resp('HGETALL', 'api:map'))).toBe('*4\r\n$4\r\nname\r\n$3\r\nAda\r\n$3\r\nage\r\n$2\r\n36\r\n')
    expect(await c.send(resp('HINCRBY', 'api:map', 'age', '1'))).toBe(':37\r\n')
    expect(await c.send(resp('TYPE', 'api:map'))).toBe('+hash\r\n')
    await s.db.put('api:obj', { name: 'Ada' })
    await s.db.put('api:bool', true)
    await s.db.put('api:nested', new Map([['x', { deep: 1 }]]))
    for (const k of ['api:obj', 'api:bool', 'api:nested']) {
      expect(await c.send(resp('GET', k))).toBe('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n')
      expect(await c.send(resp('TYPE', k))).toBe('+islab-value\r\n')
    }
    expect(await c.send(resp('HGET', 'api:obj', 'name'))).toBe('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n')
    expect(await c.send(resp('MGET', 'api:obj', 'api:int'))).toBe('*2\r\n$-1\r\n$2\r\n42\r\n')
    // Generic commands work on any value.
    expect(await c.send(resp('EXISTS', 'api:obj'))).toBe(':1\r\n')
    expect(await c.send(resp('RENAME', 'api:obj', 'api:obj2'))).toBe('+OK\r\n')
    expect(s.db.get('api:obj2')).toEqual({ name: 'Ada' })
  })
})

describe('differences from Redis, on purpose', () => {
  test('keys are non-empty UTF-8 text', async () => {
    expect(await c.send(resp('SET', '', 'x'))).toBe('-ERR invalid key: IsLabDB keys are not empty\r\n')
    expect(await c.send(resp('SET', Buffer.from([0xff, 0xfe]), 'x'))).toBe('-ERR invalid key: IsLabDB keys are UTF-8 text; these bytes are not valid UTF-8\r\n')
    expect(await c.send(resp('SET', 'ключ', 'значение'))).toBe('+OK\r\n')
    expect(s.db.get('ключ')).toEqual(Buffer.from('значение'))
    // Binary values are fine.
    expect(await c.send(resp('SET', 'bin', Buffer.from([0, 0xff, 0xfe])))).toBe('+OK\r\n')
    expect(s.db.get('bin')).toEqual(Buffer.from([0, 0xff, 0xfe]))
  })

  test('one database: SELECT 0 only', async () => {
    expect(await c.send(resp('SELECT', '0'))).toBe('+OK\r\n')
    expect(await c.send(resp('SELECT', '1'))).toBe('-ERR DB index is out of range\r\n')
  })

  test('setting or clearing a deadline is a write of the value: a new seq, the value unchanged', async () => {
    await s.db.put('ex', { kept: true })
    const seq = s.db.getEntry('ex')!.seq
    expect(await c.send(resp('EXPIRE', 'ex', '100'))).toBe(':1\r\n')
    const e = s.db.getEntry('ex')!
    expect(e.seq).toBeGreaterThan(seq)
    expect(e.value).toEqual({ kept: true })
    expect(await c.send(resp('PERSIST', 'ex'))).toBe(':1\r\n')
    expect(s.db.getEntry('ex')!.seq).toBeGreaterThan(e.seq)
    expect(s.db.getEntry('ex')!.expiresAt).toBeUndefined()
  })

  test('OBJECT ENCODING answers the physics tier, OBJECT FREQ the mass', async () => {
    await c.send(resp('SET', 'phys', 'v'))
    const enc = await c.send(resp('OBJECT', 'ENCODING', 'phys'))
    expect(['$3\r\nhot\r\n', '$4\r\nwarm\r\n', '$4\r\ncold\r\n']).toContain(enc)
    expect(enc).toBe(`$${s.db.physics.tier('phys')!.length}\r\n${s.db.physics.tier('phys')}\r\n`)
    expect(await c.send(resp('OBJECT', 'FREQ', 'phys'))).toMatch(/^:\d+\r\n$/)
  })

  test('FLUSHDB is one event deleting every key; SAVE writes a checkpoint', async () => {
    await c.send(resp('MSET', 'f1', '1', 'f2', '2', 'f3', '3'))
    const before = s.db.seq
    expect(await c.send(resp('FLUSHDB'))).toBe('+OK\r\n')
    expect(s.db.seq).toBe(before + 1)
    expect(s.db.size).toBe(0)
    await c.send(resp('SET', 'after', '1'))
    expect(await c.send(resp('SAVE'))).toBe('+OK\r\n')
    expect(s.db.stats().checkpoint.last?.seq).toBe(s.db.seq)
    expect(await c.send(resp('WAIT', '1', '0'))).toBe(':0\r\n')
    expect(s.db.stats().durableSeq).toBe(s.db.seq)
  })

  test('SCAN with a small COUNT returns every key exactly once when nothing changes', async () => {
    await c.send(resp('FLUSHDB'))
    const keys = Array.from({ length: 250 }, (_, i) => `scan:${i}`)
    await c.send(resp('MSET', ...keys.flatMap((k) => [k, 'v'])))
    const seen: string[] = []
    let cursor = '0'
    let calls = 0
    do {
      const text = await c.send(resp('SCAN', cursor, 'COUNT', '7'))
      const lines = text.split('\r\n')
      cursor = lines[2]!
      const n = Number(lines[3]!.slice(1))
      for (let i = 0; i < n; i++) seen.push(lines[5 + 2 * i]!)
      calls++
    } while (cursor !== '0')
    expect(seen.sort()).toEqual([...keys].sort())
    expect(calls).toBe(Math.ceil(250 / 7))
  })
})
