// The fast paths of a request: the command found from its bytes (no string made), reply headers
// written as bytes, and writes answered without waiting when the durability mode acknowledges
// them once applied — each checked against what the plain path gives.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { word } from '../../src/server/command.js'
import { CommandTable } from '../../src/server/commandTable.js'
import { ALL_COMMANDS } from '../../src/server/commands/index.js'
import { ReplyWriter } from '../../src/server/resp/replyWriter.js'
import type { Reply } from '../../src/server/resp/reply.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { RawClient, resp, startServed } from './fixture.js'
import type { Served } from './fixture.js'

describe('command lookup by bytes', () => {
  const table = new CommandTable(ALL_COMMANDS)
  const names = ALL_COMMANDS.map((c) => c.name)

  test('every command is found in lower, upper and mixed case', () => {
    for (const name of names) {
      const mixed = [...name].map((ch, i) => (i % 2 === 0 ? ch.toUpperCase() : ch)).join('')
      for (const spelling of [name, name.toUpperCase(), mixed]) expect(table.lookup(Buffer.from(spelling, 'latin1'))?.name).toBe(name)
    }
  })

  test('agrees with the name made into a string, for names near real ones and for any bytes', () => {
    const near = fc
      .tuple(fc.constantFrom(...names), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('keep', 'replace', 'drop', 'add', 'upper'))
      .map(([name, at, byte, how]) => {
        const b = [...Buffer.from(name, 'latin1')]
        const i = at % b.length
        if (how === 'replace') b[i] = byte
        else if (how === 'drop') b.splice(i, 1)
        else if (how === 'add') b.splice(i, 0, byte)
        else if (how === 'upper') b[i] = b[i]! ^ 0x20
        return Buffer.from(b)
      })
    const any = fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a))
    fc.assert(
      fc.property(fc.oneof(near, any), (arg) => {
        expect(table.lookup(arg)).toBe(table.get(word(arg)))
      }),
      { numRuns: 5000 },
    )
  })

  test('an unknown name of a known length and first letter is unknown, with Redis text', async () => {
    const s = await startServed({ durability: 'memory' })
    const c = await RawClient.connect(s.port)
    try {
      expect(await c.send(resp('GEX', 'k'))).toBe("-ERR unknown command 'GEX', with args beginning with: 'k' \r\n")
      expect(await c.send(resp('gEt', 'k'))).toBe('$-1\r\n')
      expect(await c.send(resp('sEt', 'k', 'v'))).toBe('+OK\r\n')
      expect(await c.send(resp('SeT', 'k'))).toBe("-ERR wrong number of arguments for 'set' command\r\n")
    } finally {
      c.close()
      await s.stop()
    }
  })
})

describe('reply headers written as bytes', () => {
  const encode = (reply: Reply): string => {
    const w = new ReplyWriter()
    w.write(reply)
    return Buffer.concat(w.take()).toString('latin1')
  }
  const sizes = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 9999, 10000, 16383, 16384, 65535, 65536, 100000]

  test('bulk strings and arrays of every digit count', () => {
    for (const n of sizes) {
      const body = Buffer.alloc(n, 120)
      expect(encode(body)).toBe(`$${n}\r\n${body.toString('latin1')}\r\n`)
      expect(encode('é'.repeat(n))).toBe(`$${2 * n}\r\n${Buffer.from('é'.repeat(n)).toString('latin1')}\r\n`)
    }
    for (const n of [0, 1, 9, 10, 99, 100, 1000, 12345]) expect(encode(new Array<Reply>(n).fill(7))).toBe(`*${n}\r\n${':7\r\n'.repeat(n)}`)
  })

  test('any bytes, any length: header and body as the plain encoding', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 40 }), (parts) => {
        const replies = parts.map((p) => Buffer.from(p))
        expect(encode(replies)).toBe(`*${replies.length}\r\n${replies.map((b) => `$${b.length}\r\n${b.toString('latin1')}\r\n`).join('')}`)
      }),
      { numRuns: 300 },
    )
  })
})

describe('writes answered at once in buffered mode', () => {
  let s: Served
  beforeAll(async () => {
    s = await startServed({ dir: tmpDir(), durability: 'buffered' })
  })
  afterAll(async () => {
    await s.stop()
  })

  test('a pipeline mixing writes, reads, a waiting command and errors is answered in order', async () => {
    const c = await RawClient.connect(s.port)
    try {
      const cmds = [
        resp('SET', 'a', '1'),
        resp('INCR', 'a'),
        resp('GET', 'a'),
        resp('WAIT', '0', '0'),
        resp('INCR', 'a'),
        resp('HSET', 'h', 'f', 'v'),
        resp('INCR', 'h'),
        resp('MSET', 'b', '1', 'c', '2'),
        resp('MGET', 'a', 'b', 'c'),
      ]
      const out = await c.send(cmds.join(''), cmds.length)
      expect(out).toBe(
        '+OK\r\n:2\r\n$1\r\n2\r\n:0\r\n:3\r\n:1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n' +
          '*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n',
      )
      // What was answered is in the database.
      expect(Buffer.from(s.db.get('a') as Buffer).toString()).toBe('3')
    } finally {
      c.close()
    }
  })

  test('a write whose acknowledgement is gated (replication ack) is answered when the gate opens', async () => {
    const local = await startServed({ dir: tmpDir(), durability: 'buffered' })
    const writer = await RawClient.connect(local.port)
    const reader = await RawClient.connect(local.port)
    const release: (() => void)[] = []
    try {
      local.db.gateAcks((r) => new Promise((resolve) => release.push(() => resolve(r))))
      writer.write(resp('SET', 'g', 'v'))
      // The reader sees the write applied (so the writer's command has run, and its reply would
      // have left in that same turn if it were not waiting) ...
      for (;;) {
        if ((await reader.send(resp('GET', 'g'))) === '$1\r\nv\r\n') break
      }
      await new Promise((r) => setImmediate(r))
      // ... while the writer's OK waits for the gate.
      expect(writer.pending.length).toBe(0)
      expect(release).toHaveLength(1)
      local.db.gateAcks(undefined)
      release[0]!()
      expect((await writer.until((b) => b.length >= 5)).toString()).toBe('+OK\r\n')
    } finally {
      writer.close()
      reader.close()
      await local.stop()
    }
  })

  test('a write the database refuses gets its error, not OK', async () => {
    const local = await startServed({ dir: tmpDir(), durability: 'buffered' })
    const c = await RawClient.connect(local.port)
    try {
      expect(await c.send(resp('SET', 'k', 'v'))).toBe('+OK\r\n')
      // The database closed under the server: db.put rejects without taking a seq.
      await local.db.close()
      const reply = await c.send(resp('SET', 'k', 'w'))
      expect(reply).toMatch(/^-ERR ISLAB_CLOSED/)
    } finally {
      c.close()
      await local.server.close()
    }
  })
})
