import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { ensureTool, startServer } from './systemTool.js'

describe('systemTool', () => {
  it('starts a real redis-server on a free loopback port and stops it', async () => {
    ensureTool('redis-server', 'redis-server')
    const srv = await startServer('redis-server', (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''])
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(srv.port, '127.0.0.1', () => sock.write('PING\r\n'))
        sock.once('data', (d) => {
          resolve(String(d))
          sock.destroy()
        })
        sock.once('error', reject)
      })
      expect(reply).toBe('+PONG\r\n')
    } finally {
      await srv.stop()
    }
    expect(srv.process.exitCode !== null || srv.process.signalCode !== null).toBe(true)
  })
})
