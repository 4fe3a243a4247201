// Real components for the faces' tests: a Debian tool (redis-server, redis-cli, nats-server) is
// installed with apt-get when missing, and a server is started on 127.0.0.1, on a free port, in a
// temp directory, and stopped by the test. Nothing here mocks a server or a client.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

function onPath(binary: string): boolean {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim() !== ''
  } catch {
    return false
  }
}

let aptUpdated = false

/**
 * Makes sure `binary` is on PATH, installing Debian's `debPackage` if it is not. Throws (failing
 * the test, never skipping it) when it cannot: the test needs the real program.
 */
export function ensureTool(binary: string, debPackage: string): string {
  if (onPath(binary)) return binary
  if (!onPath('apt-get')) throw new Error(`${binary} is missing and there is no apt-get: install ${debPackage}`)
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const sudo = root ? [] : ['sudo', '-n']
  const run = (args: string[]): void => {
    const [cmd, ...rest] = [...sudo, ...args]
    const r = spawnSync(cmd!, rest, {
      stdio: 'pipe',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300_000,
    })
    if (r.status !== 0) {
      throw new Error(`${args.join(' ')} failed (${r.status ?? r.signal}): ${String(r.stderr).slice(-2000)}`)
    }
  }
  if (!aptUpdated) {
    run(['apt-get', 'update', '-qq'])
    aptUpdated = true
  }
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', debPackage])
  if (!onPath(binary)) throw new Error(`installed ${debPackage} but ${binary} is still not on PATH`)
  return binary
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port, or rejects after timeoutMs. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1')
      sock.once('connect', () => {
        sock.destroy()
        resolve(true)
      })
      sock.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface RunningServer {
  readonly port: number
  readonly dir: string
  readonly process: ChildProcess
  /** Output so far (for a failing test's message). */
  output(): string
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its temp directory. */
  stop(): Promise<void>
}

/**
 * Starts `binary` with `args(port, dir)` in a fresh temp directory and waits for its port.
 * Used for redis-server and nats-server; the caller passes the flags that bind 127.0.0.1.
 */
export async function startServer(
  binary: string,
  args: (port: number, dir: string) => string[],
  opts: { port?: number; dir?: string } = {},
): Promise<RunningServer> {
  const port = opts.port ?? (await freePort())
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), `${path.basename(binary)}-`))
  const child = spawn(binary, args(port, dir), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (d) => (out = (out + String(d)).slice(-20_000)))
  child.stderr?.on('data', (d) => (out = (out + String(d)).slice(-20_000)))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => {
        throw new Error(`${binary} exited at start: ${out}`)
      }),
    ])
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return {
    port,
    dir,
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
      if (!opts.dir) rmSync(dir, { recursive: true, force: true })
    },
  }
}
