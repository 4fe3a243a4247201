// islabdb/replication without the optional NATS packages: a typed error saying what to install.
// (test/package/install.test.ts checks the same end to end, in a project that lacks them.)
import { describe, expect, it } from 'vitest'
import { loadReplicated } from '../../src/replication/loadReplicated.js'

const options = { dir: '/nowhere', replication: { servers: 'nats://127.0.0.1:1', stream: 'orders', role: 'primary' as const } }

function notFound(spec: string): Error {
  return Object.assign(new Error(`Cannot find package '${spec}' imported from /app/node_modules/islabdb/dist/replication/streamLink.js`), { code: 'ERR_MODULE_NOT_FOUND' })
}

describe('loadReplicated', () => {
  it('turns a missing @nats-io package into ISLAB_REPLICATION naming it and the install command', async () => {
    const err = await loadReplicated(options, () => Promise.reject(notFound('@nats-io/jetstream'))).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ISLAB_REPLICATION', stream: 'orders' })
    expect((err as Error).message).toContain('@nats-io/jetstream is not installed')
    expect((err as Error).message).toContain('npm install @nats-io/transport-node')
  })

  it('passes any other failure through unchanged', async () => {
    const other = notFound('./replicated.js')
    await expect(loadReplicated(options, () => Promise.reject(other))).rejects.toBe(other)
    const boom = new Error('boom')
    await expect(loadReplicated(options, () => Promise.reject(boom))).rejects.toBe(boom)
  })

  it('hands the loaded module over when it loads', async () => {
    const m = { openReplicated: () => 1 }
    await expect(loadReplicated(options, () => Promise.resolve(m))).resolves.toBe(m)
  })
})
