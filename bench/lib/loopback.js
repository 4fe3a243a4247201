// Loopback helpers for the benches that start servers (the Redis peer, `islab serve`).
import net from 'node:net'

/** A free loopback port (the kernel picks it; closed again before redis-server binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** One PING on a fresh loopback connection: the first reply line, or undefined if it cannot connect. */
export function rawPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port })
    let buf = ''
    const done = (v) => {
      sock.destroy()
      resolve(v)
    }
    sock.setTimeout(1000, () => done(undefined))
    sock.on('error', () => done(undefined))
    sock.on('connect', () => sock.write('PING\r\n'))
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      const nl = buf.indexOf('\r\n')
      if (nl >= 0) done(buf.slice(0, nl))
    })
  })
}
