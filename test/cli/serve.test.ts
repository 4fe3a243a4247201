// `islab serve` as a user runs it: the built binary, a real redis-cli, SIGTERM to stop; the data
// is in the directory afterwards and the lock is released.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { beforeAll, expect, test } from 'vitest'
import { open } from '../../src/index.js'
import { ensureTool, freePort, waitForPort } from '../helpers/systemTool.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { ensureBuilt, islab, islabAsync } from './cli.js'

const run = promisify(execFile)

beforeAll(() => {
  ensureBuilt()
})

test('serves a directory to redis-cli and closes it cleanly on SIGTERM', async () => {
  const cli = ensureTool('redis-cli', 'redis-tools')
  const dir = tmpDir()
  const port = await freePort()
  const server = islabAsync(['serve', dir, '--port', String(port), '--durability', 'sync'])
  const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)))
  try {
    await waitForPort(port)
    const call = async (...args: string[]): Promise<string> => (await run(cli, ['-p', String(port), ...args])).stdout
    expect(await call('SET', 'greeting', 'hello')).toBe('OK\n')
    expect(await call('HSET', 'user:1', 'name', 'Ada')).toBe('1\n')
    expect(await call('GET', 'greeting')).toBe('hello\n')
  } finally {
    server.child.kill('SIGTERM')
  }
  expect(await exited).toBe(0)
  expect(server.err()).toContain('stopped; the database is closed')
  const db = await open({ dir })
  try {
    expect(db.get('greeting')).toEqual(Buffer.from('hello'))
    expect((db.get('user:1') as Map<string, Buffer>).get('name')).toEqual(Buffer.from('Ada'))
  } finally {
    await db.close()
  }
})

test('refuses to listen beyond loopback without --requirepass', () => {
  const r = islab(['serve', tmpDir(), '--host', '0.0.0.0', '--port', '0'])
  expect(r.code).toBe(2)
  expect(r.stderr).toContain('protected mode')
})

test('bad usage is exit 2', () => {
  expect(islab(['serve', tmpDir(), '--port', 'x']).code).toBe(2)
  expect(islab(['serve', tmpDir(), '--durability', 'fast']).code).toBe(2)
})
