// A server close answers the commands it already ran before it ends a connection: a write made
// and not answered is one a client retries, applying it twice (an INCR counted twice).
import net from 'node:net'
import { describe, expect, test } from 'vitest'
import { open } from '../../src/index.js'
import { serve } from '../../src/server/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { countReplies, resp } from './fixture.js'

describe('server close', () => {
  test('sends the replies of every command it ran (sync durability, a pipeline of INCRs in flight)', async () => {
    const db = await open({ dir: tmpDir(), durability: 'sync' })
    const server = await serve(db, { port: 0 })
    const sock = net.connect(server.port, '127.0.0.1')
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
    const chunks: Buffer[] = []
    const ended = new Promise<void>((resolve) => sock.once('close', () => resolve()))
    sock.on('error', () => undefined)
    sock.on('data', (d: Buffer) => chunks.push(d))
    const n = 3000
    sock.write(Buffer.concat([resp('SET', 'ctr', '0'), ...Array.from({ length: n }, () => resp('INCR', 'ctr'))]))
    // Close as soon as the server has run some of the pipeline: its writes are applied (db.seq
    // moved) and wait for their group commit, their replies not yet sent.
    while (db.seq < 2) await new Promise((r) => setImmediate(r))
    await server.close()
    await ended
    const replies = countReplies(Buffer.concat(chunks))
    const counted = Number(String(db.get('ctr')))
    await db.close()
    // Every INCR the database applied was answered (the SET's +OK is the one more reply).
    expect(counted).toBeGreaterThan(0)
    expect(replies).toBe(counted + 1)
  }, 30_000)
})
