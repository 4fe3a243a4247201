// `islab serve --nats … --stream …` as a user runs it: a primary and a replica, each its own
// `islab serve` process on a real nats-server, a real redis-cli; writes to the replica get
// Redis's READONLY error; `islab promote` promotes the replica, the old primary is fenced at its
// next write; ROLE and INFO say which is which.
import { execFile } from 'node:child_process'
import net from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, test, vi } from 'vitest'
import { ensureTool, freePort, waitForPort } from '../helpers/systemTool.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { startNats } from '../replication/natsServer.js'
import type { Nats } from '../replication/natsServer.js'
import { ensureBuilt, islab, islabAsync } from './cli.js'

const run = promisify(execFile)
let nats: Nats
let redisCli: string

beforeAll(async () => {
  ensureBuilt()
  redisCli = ensureTool('redis-cli', 'redis-tools')
  nats = await startNats()
})
afterAll(async () => {
  await nats?.destroy()
})

async function served(args: string[]) {
  const port = await freePort()
  const s = islabAsync(['serve', ...args, '--port', String(port)])
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)))
  await Promise.race([waitForPort(port, 30_000), exited.then((code) => Promise.reject(new Error(`islab serve exited ${code}: ${s.err()}`)))])
  const call = async (...a: string[]): Promise<string> => (await run(redisCli, ['-p', String(port), ...a])).stdout.trim()
  const stop = async (): Promise<number | null> => {
    s.child.kill('SIGTERM')
    return exited
  }
  return { port, call, stop, err: s.err }
}

test('a served primary and replica over NATS: reads on the replica, READONLY writes, islab promote fences the old primary', async () => {
  const stream = `SERVE_${process.pid}`
  const p = await served([tmpDir(), '--nats', nats.url, '--stream', stream])
  const r = await served([tmpDir(), '--nats', nats.url, '--stream', stream, '--role', 'replica'])
  try {
    expect(await p.call('SET', 'greeting', 'hello')).toBe('OK')
    await vi.waitFor(async () => expect(await r.call('GET', 'greeting')).toBe('hello'), { timeout: 15_000, interval: 50 })
    expect(await r.call('SET', 'x', '1')).toBe("READONLY You can't write against a read only replica.")
    expect((await r.call('ROLE')).split('\n')[0]).toBe('slave')
    expect((await p.call('ROLE')).split('\n')[0]).toBe('master')
    expect(await r.call('INFO', 'replication')).toContain('role:slave')
    expect(await r.call('REPLICAOF', '127.0.0.1', '6379')).toMatch(/not supported: an islab replica follows a NATS JetStream stream/)

    const promoted = islab(['promote', '--port', String(r.port)])
    expect(promoted.stderr + promoted.stdout).toContain('is the primary of its stream now')
    expect(promoted.code).toBe(0)
    expect((await r.call('ROLE')).split('\n')[0]).toBe('master')
    expect(await r.call('SET', 'after', 'promotion')).toBe('OK')
    // Once the stream holds the new primary's write, the old primary's next write finds the
    // stream moved on: it is fenced, and says so. (Before that, whichever publishes first wins.)
    await vi.waitFor(async () => expect(await r.call('INFO', 'replication')).toContain('islab_stream_seq:2'), { timeout: 15_000, interval: 50 })
    await p.call('SET', 'late', 'write')
    await vi.waitFor(async () => expect(await p.call('SET', 'later', 'write')).toMatch(/ISLAB_FENCED/), { timeout: 15_000, interval: 100 })
    expect(await p.call('GET', 'greeting')).toBe('hello')
    // Found by review: the fenced old primary answered REPLICAOF NO ONE with OK and ROLE master,
    // so `islab promote` pointed at it by mistake said "is the primary of its stream now", exit 0.
    expect(await p.call('REPLICAOF', 'NO', 'ONE')).toMatch(/ISLAB_FENCED/)
    const wrong = islab(['promote', '--port', String(p.port)])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr + wrong.stdout).toMatch(/ISLAB_FENCED/)
    // Each server said on stderr what happened to it (a new user found them silent).
    expect(r.err()).toContain('islab serve: promoted: the primary of its stream')
    expect(p.err()).toContain('islab serve: fenced, writes are refused from now on')
  } finally {
    expect(await r.stop()).toBe(0)
    await p.stop()
  }
}, 90_000)

test('bad usage of the replication options and of islab promote is exit 2, with what to do', async () => {
  const noNats = islab(['serve', tmpDir(), '--stream', 'S', '--port', '0'])
  expect(noNats.code).toBe(2)
  expect(noNats.stderr).toContain('--nats')
  const noStream = islab(['serve', tmpDir(), '--nats', nats.url, '--port', '0'])
  expect(noStream.code).toBe(2)
  expect(noStream.stderr).toContain('--stream')
  expect(islab(['serve', tmpDir(), '--nats', nats.url, '--stream', 'S', '--role', 'leader', '--port', '0']).code).toBe(2)
  const nobody = islab(['promote', '--port', String(await freePort())])
  expect(nobody.code).toBe(2)
  expect(nobody.stderr).toContain('nothing listens')
})

// Found by review: a server that closed the connection without answering (it was stopped while
// promoting) left islab promote waiting out its whole --timeout, then saying it "did not answer".
test('islab promote against a server that closes the connection without a reply: exit 1 at once, saying so', async () => {
  const closer = net.createServer((socket) => socket.end())
  await new Promise<void>((r) => closer.listen(0, '127.0.0.1', r))
  const port = (closer.address() as net.AddressInfo).port
  try {
    const p = islabAsync(['promote', '--port', String(port), '--timeout', '3600'])
    const code = await Promise.race([new Promise<number | null>((r) => p.child.once('exit', r)), new Promise<string>((r) => setTimeout(() => r('still waiting'), 30_000))])
    if (code === 'still waiting') p.child.kill()
    expect(code).toBe(1)
    expect(p.err()).toMatch(/closed the connection/)
  } finally {
    closer.close()
  }
}, 60_000)
