// A real nats-server with JetStream for the replication tests: installed from Debian when
// missing, started on 127.0.0.1 on a free port with a temp store, restartable on the same port
// and store (to test catch-up after NATS was down).
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ensureTool, freePort, startServer } from '../helpers/systemTool.js'
import type { RunningServer } from '../helpers/systemTool.js'

export interface Nats {
  readonly url: string
  /** Stops the server, keeping its store. */
  stop(): Promise<void>
  /** Starts it again on the same port with the same store. */
  start(): Promise<void>
  /** Stops it and removes its store. */
  destroy(): Promise<void>
  /** SIGSTOP pauses it (connections stay open, nothing is answered), SIGCONT resumes it. */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void
  output(): string
}

export async function startNats(): Promise<Nats> {
  const binary = ensureTool('nats-server', 'nats-server')
  const port = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'islab-nats-'))
  const args = (p: number, d: string) => ['-js', '-a', '127.0.0.1', '-p', String(p), '-sd', d]
  let server: RunningServer | undefined = await startServer(binary, args, { port, dir })
  let lastOutput = ''
  return {
    url: `127.0.0.1:${port}`,
    async stop() {
      lastOutput = server?.output() ?? lastOutput
      await server?.stop()
      server = undefined
    },
    async start() {
      server ??= await startServer(binary, args, { port, dir })
    },
    signal(sig) {
      server?.process.kill(sig)
    },
    async destroy() {
      await server?.stop()
      server = undefined
      rmSync(dir, { recursive: true, force: true })
    },
    output: () => server?.output() ?? lastOutput,
  }
}
