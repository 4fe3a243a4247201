// The fault tests' moving parts: a nats-server the test can pause (SIGSTOP/SIGCONT), stop and
// restart on the same port and store; primaries and replicas as child processes (faultNode.mjs,
// run from a copy of dist/) that can be killed with SIGKILL; and the checks run after each fault.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { unpack } from 'msgpackr'
import { expect } from 'vitest'
import { decodeEvent, encodeEvent, HistoryGoneError, open } from '../../src/index.js'
import { builtDistCopy } from '../helpers/builtDist.js'
import { ensureTool, freePort, startServer } from '../helpers/systemTool.js'
import type { RunningServer } from '../helpers/systemTool.js'
import { logRecords, stateOf, streamMessages } from './helpers.js'

export interface FaultNats {
  readonly url: string
  /** SIGSTOP / SIGCONT. */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void
  stop(): Promise<void>
  start(): Promise<void>
  destroy(): Promise<void>
}

export async function startFaultNats(): Promise<FaultNats> {
  const binary = ensureTool('nats-server', 'nats-server')
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-natsf-'))
  const args = (p: number, d: string) => ['-js', '-a', '127.0.0.1', '-p', String(p), '-sd', d]
  let server: RunningServer | undefined = await startServer(binary, args, { port, dir })
  const stop = async (): Promise<void> => {
    server?.process.kill('SIGCONT')
    await server?.stop()
    server = undefined
  }
  return {
    url: `127.0.0.1:${port}`,
    signal: (sig) => void server?.process.kill(sig),
    stop,
    async start() {
      server ??= await startServer(binary, args, { port, dir })
    },
    async destroy() {
      await stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

let script: string | undefined
function nodeScript(): string {
  if (script !== undefined) return script
  const entry = builtDistCopy()
  const s = path.join(path.dirname(entry), '..', 'test', 'replication', 'faultNode.mjs')
  fs.mkdirSync(path.dirname(s), { recursive: true })
  fs.copyFileSync(new URL('./faultNode.mjs', import.meta.url), s)
  return (script = s)
}

export interface NodeConfig {
  dir: string
  role: 'primary' | 'replica'
  servers: string
  stream: string
  tag: string
  ack?: 'local' | 'replicated'
  window?: number
  ackTimeoutMs?: number
}

/** One primary or replica process. */
export class Node {
  readonly proc: ChildProcess
  /** Acknowledged writes of this process: seq → write index (key `${tag}:${i % 300}`, value { tag, i }). */
  readonly acked = new Map<number, number>()
  /** The last status line: seq, durable seq, seq the stream holds (a replica: its seq). */
  status = { seq: 0, durable: 0, replicated: 0 }
  fenced: { from: number; to: number } | undefined
  private lines: string[] = []
  private waiters: (() => void)[] = []
  private err = ''
  readonly exited: Promise<number | null>

  constructor(readonly c: NodeConfig) {
    this.proc = spawn(process.execPath, [nodeScript(), JSON.stringify(c)], { stdio: ['pipe', 'pipe', 'pipe'] })
    let buf = ''
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.line(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
      }
    })
    this.proc.stderr!.on('data', (d: Buffer) => (this.err = (this.err + d.toString()).slice(-4000)))
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)))
    this.exited.then(() => this.wake())
  }

  private line(l: string): void {
    const [k, a, b, c] = l.split(' ')
    if (k === 'a') this.acked.set(Number(a), Number(b))
    else if (k === 's') this.status = { seq: Number(a), durable: Number(b), replicated: Number(c) }
    else {
      if (k === 'fenced') this.fenced = { from: Number(a), to: Number(b) }
      this.lines.push(l)
    }
    this.wake()
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Waits (at most `ms`) until `test` holds, checked after each line. */
  async until(what: string, test: () => boolean, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms
    while (!test()) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`${this.c.role} exited while waiting for ${what}: ${this.err}`)
      if (Date.now() > deadline) throw new Error(`${this.c.role} did not reach ${what} within ${ms} ms (status ${JSON.stringify(this.status)}): ${this.err}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 100)
      })
    }
  }

  /** Waits for a line starting with `prefix`, returns its words after it. */
  async expectLine(prefix: string, ms = 20_000): Promise<string[]> {
    let found: string | undefined
    await this.until(`a line '${prefix}'`, () => (found = this.lines.find((l) => l.startsWith(`${prefix} `))) !== undefined, ms)
    this.lines.splice(this.lines.indexOf(found!), 1)
    return found!.split(' ').slice(1)
  }

  send(cmd: string): void {
    this.proc.stdin!.write(`${cmd}\n`)
  }

  kill9(): Promise<number | null> {
    this.proc.kill('SIGKILL')
    return this.exited
  }

  /** Stops writing, lets its last writes reach the stream (a primary), closes, exits. */
  async stop(): Promise<number> {
    this.send('stop')
    const [seq] = await this.expectLine('bye', 30_000)
    await this.exited
    return Number(seq)
  }
}

export async function startNode(c: NodeConfig): Promise<{ node: Node; seq: number; restoredFrom: number }> {
  const node = new Node(c)
  const [seq, restoredFrom] = await node.expectLine('ready', 30_000)
  return { node, seq: Number(seq), restoredFrom: Number(restoredFrom) }
}

/** Acknowledged writes that must be in the history: seq → [tag, index]. */
export type Acked = Map<number, [string, number]>

export function collect(into: Acked, n: Node, upTo = Infinity): void {
  for (const [seq, i] of n.acked) if (seq <= upTo) into.set(seq, [n.c.tag, i])
}

/**
 * After a fault, every process stopped: the stream is one linear history (stream seq n holds
 * event n, no gap, no duplicate, ending at the primary's seq, byte for byte the primary's log),
 * every replica equals the primary (keys, values, seqs, times), and every acknowledged write in
 * `mustHave` is in the stream at its seq.
 */
export async function expectConverged(url: string, stream: string, primaryDir: string, replicaDirs: string[], mustHave: Acked): Promise<void> {
  const p = await open({ dir: primaryDir, readOnly: true, followMs: false })
  try {
    const msgs = await streamMessages(url, stream)
    expect(msgs.length).toBeGreaterThan(0)
    const first = msgs[0]!.seq
    expect(msgs.map((m) => m.seq)).toEqual(Array.from({ length: msgs.length }, (_, i) => first + i))
    expect(msgs.every((m) => m.eventSeq === m.seq)).toBe(true)
    expect(msgs.at(-1)!.seq).toBe(p.seq)
    const log = await logRecords(p).catch(async (err: unknown) => {
      // A checkpoint let the log below it go: compare from where the log begins.
      if (!(err instanceof HistoryGoneError)) throw err
      const out: Buffer[] = []
      for await (const ev of p.events({ since: err.oldestSeq - 1, live: false })) out.push(encodeEvent(ev))
      return out
    })
    const logFirst = p.seq - log.length + 1
    for (const m of msgs) {
      const mine = log[m.seq - logFirst]
      if (mine !== undefined && Buffer.compare(Buffer.from(m.data), mine) !== 0) expect({ seq: m.seq, sameAsPrimaryLog: false }).toEqual({ seq: m.seq, sameAsPrimaryLog: true })
    }
    const bySeq = new Map(msgs.map((m) => [m.seq, m.data]))
    const missing: number[] = []
    for (const [seq, [tag, i]] of mustHave) {
      const data = bySeq.get(seq)
      if (data === undefined) {
        if (seq < first) continue // trimmed below a snapshot: the state check covers it
        missing.push(seq)
        continue
      }
      const ev = decodeEvent(data)
      if (ev.type !== 'put' || ev.key !== `${tag}:${i % 300}` || (unpack(ev.value) as { i: number }).i !== i) missing.push(seq)
    }
    expect(missing).toEqual([])
    const state = await stateOf(p)
    for (const d of replicaDirs) {
      const r = await open({ dir: d, readOnly: true, followMs: false })
      try {
        expect(r.seq).toBe(p.seq)
        expect(await stateOf(r)).toEqual(state)
      } finally {
        await r.close()
      }
    }
  } finally {
    await p.close()
  }
}
