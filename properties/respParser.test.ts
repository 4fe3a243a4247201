// The RESP request parser under fast-check: random bytes never crash or hang it (a
// ProtocolError at worst), valid requests split at any byte boundaries parse exactly as in one
// piece, and pipelines of thousands come out whole and in order. Then the same against a live
// server: random bytes on one connection leave the server and the other clients working.
import net from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ProtocolError, RequestParser } from '../src/server/resp/requestParser.js'
import { RawClient, resp, startServed } from '../test/server/fixture.js'
import type { Served } from '../test/server/fixture.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'

/** Parses `chunks` in order; the commands, and the protocol error if any. */
function parseAll(chunks: Buffer[], parser = new RequestParser()): { commands: string[][]; error: string | undefined } {
  const out: Buffer[][] = []
  for (const chunk of chunks) {
    const err = parser.parseInto(chunk, out)
    if (err !== undefined) return { commands: out.map((c) => c.map((a) => a.toString('hex'))), error: err.message }
  }
  return { commands: out.map((c) => c.map((a) => a.toString('hex'))), error: undefined }
}

/** Cuts `b` at the given points (sorted, deduplicated, inside b). */
function cut(b: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (b.length + 1)))].sort((x, y) => x - y)
  const out: Buffer[] = []
  let prev = 0
  for (const p of at) {
    out.push(b.subarray(prev, p))
    prev = p
  }
  out.push(b.subarray(prev))
  return out
}

const arg = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))
const command = fc.array(arg, { minLength: 1, maxLength: 6 })
/** Inline-safe words: no spaces, quotes, CR/LF. */
const inlineWord = fc.stringMatching(/^[A-Za-z0-9:_.-]{1,12}$/)
const inlineCommand = fc.array(inlineWord, { minLength: 1, maxLength: 5 })

describe('RequestParser', () => {
  test('random bytes: commands or a ProtocolError, never another exception', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), (chunks) => {
        const parser = new RequestParser({ maxBulkBytes: 1 << 20, maxInlineBytes: 256, maxArgs: 1000 })
        const out: Buffer[][] = []
        for (const c of chunks) {
          const err = parser.parseInto(Buffer.from(c), out)
          if (err !== undefined) {
            expect(err).toBeInstanceOf(ProtocolError)
            break
          }
        }
        for (const cmd of out) expect(cmd.length).toBeGreaterThan(0)
      }),
      { numRuns: FUZZ ? 20_000 : 1000 },
    )
  })

  test('random bytes after a valid prefix: the commands before the damage are all returned', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 10 }), fc.uint8Array({ minLength: 1, maxLength: 100 }), (cmds, junk) => {
        const bytes = Buffer.concat([...cmds.map((c) => resp(...c)), Buffer.from(junk)])
        const { commands } = parseAll([bytes], new RequestParser({ maxBulkBytes: 1 << 20, maxInlineBytes: 256, maxArgs: 1000 }))
        expect(commands.slice(0, cmds.length)).toEqual(cmds.map((c) => c.map((a) => a.toString('hex'))))
      }),
      { numRuns: FUZZ ? 5000 : 300 },
    )
  })

  test('valid requests, multibulk and inline, split anywhere, parse as in one piece', () => {
    const request = fc.oneof(
      command.map((c) => ({ bytes: resp(...c), args: c.map((a) => a.toString('hex')) })),
      inlineCommand.map((w) => ({ bytes: Buffer.from(`${w.join(' ')}\r\n`), args: w.map((x) => Buffer.from(x).toString('hex')) })),
    )
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (reqs, points) => {
        const whole = Buffer.concat(reqs.map((r) => r.bytes))
        const expected = reqs.map((r) => r.args)
        expect(parseAll([whole])).toEqual({ commands: expected, error: undefined })
        expect(parseAll(cut(whole, points))).toEqual({ commands: expected, error: undefined })
      }),
      { numRuns: FUZZ ? 5000 : 300 },
    )
  })

  test('one request cut at every single byte boundary', () => {
    fc.assert(
      fc.property(command, (c) => {
        const bytes = resp(...c)
        const expected = { commands: [c.map((a) => a.toString('hex'))], error: undefined }
        for (let i = 0; i <= bytes.length; i++) expect(parseAll([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(expected)
        expect(parseAll(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)))).toEqual(expected)
      }),
      { numRuns: FUZZ ? 2000 : 100 },
    )
  })

  test('pipelines of thousands, in random chunks, come out whole and in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 5000 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 50 }), (n, sizes) => {
        const cmds = Array.from({ length: n }, (_, i) => ['SET', `key:${i}`, 'v'.repeat(i % 50)])
        const whole = Buffer.concat(cmds.map((c) => resp(...c)))
        const chunks: Buffer[] = []
        for (let p = 0, i = 0; p < whole.length; i++) {
          const size = sizes[i % sizes.length]!
          chunks.push(whole.subarray(p, p + size))
          p += size
        }
        const { commands, error } = parseAll(chunks)
        expect(error).toBeUndefined()
        expect(commands.length).toBe(n)
        for (let i = 0; i < n; i += 97) expect(commands[i]).toEqual(cmds[i]!.map((a) => Buffer.from(a).toString('hex')))
      }),
      { numRuns: FUZZ ? 200 : 15 },
    )
  })
})

describe('a live server', () => {
  let s: Served
  beforeAll(async () => {
    s = await startServed()
  })
  afterAll(async () => {
    await s.stop()
  })

  test('random bytes on one connection never take the server or other clients down', async () => {
    const bystander = await RawClient.connect(s.port)
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }), async (chunks) => {
        const sock = net.connect(s.port, '127.0.0.1')
        sock.on('data', () => undefined)
        sock.on('error', () => undefined)
        await new Promise((r) => sock.once('connect', r))
        for (const c of chunks) sock.write(c)
        await new Promise((r) => setImmediate(r))
        sock.destroy()
        expect(await bystander.send('PING\r\n')).toBe('+PONG\r\n')
      }),
      { numRuns: FUZZ ? 2000 : 100 },
    )
    bystander.close()
  })
})
