// Replication under random schedules, through one real nats-server (JetStream) for the file and a
// fresh stream per run. Three nodes (one primary, two replicas at start) take a schedule of:
// writes (puts, deletes, batches; not awaited, so they overlap what follows) on whichever node
// currently believes it is the primary, kills, restarts, pauses of the nats-server (SIGSTOP, then
// SIGCONT after a while, not awaited either) and promotions of a replica. A kill is in-process:
// replication is stopped without the close grace (publishes in flight are abandoned) and the
// database closed; a restart reopens the directory in the role it had, except that a fenced node
// rejoins as a replica in a fresh directory (what docs/replication.md tells its users to do).
//
// After each run everything is settled (NATS resumed, dead nodes restarted, every primary that is
// not fenced makes one probe write) and then:
//  1. the stream is one linear history: message n is event n, msgID `<epoch>:n`, every epoch is
//     one node's run, and the runs' epochs never go back along the stream;
//  2. no node acknowledged a write it was asked for after it was fenced, and after the probes at
//     most one node is an unfenced primary;
//  3. every write acknowledged in ack: 'replicated' mode is in the stream, byte for byte;
//  4. every write acknowledged in ack: 'local' mode is in the stream, or inside the unpublished
//     range a fence of its node reported;
//  5. every live node converges: replicas and the unfenced primary hold exactly the stream's
//     history, a fenced node holds it up to its fork.
// A failing run prints the schedule (one line per step) and what happened in it.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openReplicated } from '../src/replication/index.js'
import type { ReplicatedDatabase } from '../src/replication/index.js'
import { encodeEvent } from '../src/index.js'
import type { FencedError } from '../src/index.js'
import { ensureTool, startServer } from '../test/helpers/systemTool.js'
import type { RunningServer } from '../test/helpers/systemTool.js'
import { tmpDir } from '../test/helpers/tmpdir.js'
import { streamMessages } from '../test/replication/helpers.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const NODES = 3
const KEYS = 6
const RUN_LIMIT_MS = 40_000
const TRACE = process.env.ISLAB_TRACE === '1'

type Step =
  | { t: 'write'; on: number; kind: 'put' | 'del' | 'batch'; n: number }
  | { t: 'kill'; node: number }
  | { t: 'restart'; node: number }
  | { t: 'pause'; ms: number }
  | { t: 'promote'; node: number }
  | { t: 'wait'; ms: number }

function show(s: Step): string {
  switch (s.t) {
    case 'write':
      return `write ${s.n} ${s.kind}${s.n > 1 ? 's' : ''} on primary #${s.on}`
    case 'kill':
    case 'restart':
    case 'promote':
      return `${s.t} N${s.node}`
    case 'pause':
      return `pause nats-server ${s.ms} ms`
    case 'wait':
      return `wait ${s.ms} ms`
  }
}

const named = (s: Step): Step => Object.assign(s, { [fc.toStringMethod]: () => show(s) })

const stepArb: fc.Arbitrary<Step> = fc
  .oneof(
    { weight: 8, arbitrary: fc.record({ t: fc.constant('write' as const), on: fc.nat(1), kind: fc.constantFrom('put' as const, 'del' as const, 'batch' as const), n: fc.integer({ min: 1, max: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('kill' as const), node: fc.nat(NODES - 1) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('restart' as const), node: fc.nat(NODES - 1) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('pause' as const), ms: fc.integer({ min: 50, max: 700 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('promote' as const), node: fc.nat(NODES - 1) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 5, max: 200 }) }) },
  )
  .map(named)

const scheduleArb = fc.record({
  acks: fc.array(fc.constantFrom('local' as const, 'replicated' as const), { minLength: NODES, maxLength: NODES }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 14 }),
})

interface Run {
  node: number
  epoch: string
  order: number
  fencedAt?: number
  fence?: FencedError
  dir: string
}

interface Write {
  node: number
  run: Run | undefined
  dir: string
  mode: 'local' | 'replicated'
  calledAt: number
  seq?: number
  refused?: string
}

interface Node {
  id: number
  ack: 'local' | 'replicated'
  role: 'primary' | 'replica'
  dir: string
  db: ReplicatedDatabase | undefined
  run: Run | undefined
  /** Rejoins as a replica in a fresh directory when next restarted (it was fenced). */
  rejoin: boolean
}

let nats: RunningServer
let natsDir = ''
let url = ''
let streams = 0
let paused = false
let resumeTimer: NodeJS.Timeout | undefined

beforeAll(async () => {
  natsDir = mkdtempSync(path.join(os.tmpdir(), 'islab-natsprop-'))
  nats = await startServer(ensureTool('nats-server', 'nats-server'), (p, d) => ['-js', '-a', '127.0.0.1', '-p', String(p), '-sd', d], { dir: natsDir })
  url = `127.0.0.1:${nats.port}`
})
afterAll(async () => {
  resume()
  await nats?.stop()
  rmSync(natsDir, { recursive: true, force: true })
})

function resume(): void {
  clearTimeout(resumeTimer)
  if (paused) nats.process.kill('SIGCONT')
  paused = false
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer))
}

async function runSchedule(acks: ('local' | 'replicated')[], steps: Step[]): Promise<void> {
  const stream = `P${++streams}_${process.pid}`
  const trace: string[] = []
  if (TRACE) trace.push = (...lines: string[]) => (console.log(`[${stream}] ${lines.join('\n')}`), Array.prototype.push.apply(trace, lines))
  let tick = 0
  let order = 0
  const runs = new Map<string, Run>()
  const writes: Write[] = []
  const settling: Promise<unknown>[] = []
  /** Each directory's log, as shipped records by seq (directories only grow). */
  const records = new Map<string, Map<number, Buffer>>()
  const problems: string[] = []

  const nodes: Node[] = acks.map((ack, id) => ({ id, ack, role: id === 0 ? 'primary' : 'replica', dir: tmpDir(), db: undefined, run: undefined, rejoin: false }))

  const noteRun = (n: Node): void => {
    const epoch = n.db!.replication.epoch
    if (epoch === undefined) return
    if (runs.has(epoch)) problems.push(`epoch ${epoch} used twice`)
    n.run = { node: n.id, epoch, order: order++, dir: n.dir }
    runs.set(epoch, n.run)
    trace.push(`  N${n.id} publishes as epoch ${epoch} (run ${n.run.order})`)
  }

  const open = async (n: Node): Promise<void> => {
    const db = await openReplicated({
      dir: n.dir,
      durability: 'buffered',
      syncIntervalMs: 5,
      replication: { servers: url, stream, role: n.role, ack: n.ack, ackTimeoutMs: 500, window: 8, snapshots: false },
    })
    n.db = db
    n.run = undefined
    db.replication.on('fenced', (err: FencedError) => {
      const r = n.run
      trace.push(`  N${n.id} fenced: unpublished ${err.unpublishedFromSeq ?? '-'}..${err.unpublishedToSeq ?? '-'}`)
      if (r === undefined) return void problems.push(`N${n.id} fenced without a run of its own`)
      r.fencedAt = ++tick
      r.fence = err
      n.rejoin = true
    })
    db.replication.on('stalled', (err: Error) => trace.push(`  N${n.id} stalled: ${err.message}`))
    noteRun(n)
  }

  const capture = async (n: Node): Promise<void> => {
    const db = n.db!
    await db.flush()
    let m = records.get(n.dir)
    if (m === undefined) records.set(n.dir, (m = new Map()))
    for await (const ev of db.events({ since: m.size, live: false })) m.set(ev.seq, encodeEvent(ev))
  }

  const kill = async (n: Node): Promise<void> => {
    const db = n.db!
    n.db = undefined
    await db.replication.stop()
    await capture({ ...n, db })
    await db.close()
  }

  let valueId = 0
  const write = (n: Node, kind: 'put' | 'del' | 'batch'): void => {
    const db = n.db!
    const k = `k${valueId % KEYS}`
    const v = { w: ++valueId, by: n.id }
    const w: Write = { node: n.id, run: n.run, dir: n.dir, mode: n.ack, calledAt: ++tick }
    writes.push(w)
    const p = kind === 'put' ? db.put(k, v) : kind === 'del' ? db.delete(k) : db.batch([{ type: 'put', key: k, value: v }, { type: 'del', key: `k${(valueId + 1) % KEYS}` }])
    settling.push(
      p.then(
        (r) => void (w.seq = r.seq),
        (err: { code?: string }) => void (w.refused = err.code ?? String(err)),
      ),
    )
  }

  const body = async (): Promise<void> => {
    for (const n of nodes) await open(n)
    for (const s of steps) {
      trace.push(show(s))
      const live = nodes.filter((n) => n.db !== undefined)
      switch (s.t) {
        case 'write': {
          const primaries = live.filter((n) => n.db!.replication.role === 'primary')
          const n = primaries[s.on % Math.max(1, primaries.length)]
          if (n === undefined) break
          for (let i = 0; i < s.n; i++) write(n, s.kind)
          break
        }
        case 'kill': {
          const n = nodes[s.node]!
          if (n.db !== undefined) await kill(n)
          break
        }
        case 'restart': {
          const n = nodes[s.node]!
          if (n.db !== undefined) break
          if (n.rejoin) {
            n.dir = tmpDir()
            n.role = 'replica'
            n.rejoin = false
          }
          await open(n)
          break
        }
        case 'pause':
          if (!paused) {
            nats.process.kill('SIGSTOP')
            paused = true
            resumeTimer = setTimeout(resume, s.ms)
          }
          break
        case 'promote': {
          const n = nodes[s.node]!
          if (n.db === undefined || n.db.replication.role !== 'replica') break
          try {
            await n.db.promote()
            n.role = 'primary'
            noteRun(n)
          } catch (err) {
            trace.push(`  promote refused: ${(err as Error).message}`)
          }
          break
        }
        case 'wait':
          await sleep(s.ms)
          break
      }
    }

    // Settle: NATS back, every node alive, every primary's writes published or fenced.
    trace.push('settle')
    resume()
    for (const n of nodes) {
      if (n.db !== undefined) continue
      if (n.rejoin) {
        n.dir = tmpDir()
        n.role = 'replica'
        n.rejoin = false
      }
      await open(n)
    }
    const unfencedPrimaries = () => nodes.filter((n) => n.db!.replication.role === 'primary' && n.run?.fence === undefined)
    for (const n of unfencedPrimaries()) {
      await n.db!.flush()
      await within(n.db!.replication.replicated(n.db!.seq), 15_000, `N${n.id} publishing its writes`).catch((err: Error) => trace.push(`  N${n.id}: ${err.message}`))
    }
    // The probes: of two nodes that both still believe they are the primary, one is fenced now.
    for (const n of unfencedPrimaries()) {
      trace.push(`  probe on N${n.id}`)
      write(n, 'put')
      await within(n.db!.flush(), 15_000, `N${n.id} flushing its probe`)
      await within(n.db!.replication.replicated(n.db!.seq), 15_000, `N${n.id} publishing its probe`).catch((err: Error) => trace.push(`  N${n.id}: ${err.message}`))
    }
    await within(Promise.all(settling), 15_000, 'the writes settling')
    const winners = unfencedPrimaries()
    if (winners.length > 1) problems.push(`two unfenced primaries after the probes: ${winners.map((n) => `N${n.id}`).join(', ')}`)

    // 1. One linear history.
    const msgs = await within(streamMessages(url, stream), 15_000, 'reading the stream')
    let lastOrder = -1
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!
      const [epoch, seq] = (m.msgID ?? '').split(':')
      const run = runs.get(epoch ?? '')
      if (m.seq !== i + 1 || m.eventSeq !== m.seq || seq !== String(m.seq)) problems.push(`stream message ${i + 1}: seq ${m.seq}, event ${m.eventSeq}, msgID ${m.msgID}`)
      if (run === undefined) problems.push(`stream seq ${m.seq}: epoch ${epoch} is no node's run`)
      else if (run.order < lastOrder) problems.push(`stream seq ${m.seq}: epoch of run ${run.order} (N${run.node}) after run ${lastOrder}`)
      else lastOrder = run.order
    }
    const head = msgs.length

    // 5. Convergence (replicas wait for the stream's head first).
    for (const n of nodes) {
      const db = n.db!
      if (n.role === 'replica') await within(db.waitForSeq(head), 15_000, `N${n.id} following to ${head}`).catch((err: Error) => problems.push(err.message))
      await capture(n)
    }
    for (const n of nodes) {
      const log = records.get(n.dir)!
      const fence = n.run?.fence
      const upTo = fence !== undefined ? Math.min(head, (fence.unpublishedFromSeq ?? n.db!.seq + 1) - 1) : head
      if (fence === undefined && n.db!.seq !== head) problems.push(`N${n.id} (${n.role}) ends at seq ${n.db!.seq}, the stream at ${head}`)
      for (let s = 1; s <= upTo; s++) {
        if (!Buffer.from(msgs[s - 1]!.data).equals(log.get(s) ?? Buffer.alloc(0))) {
          problems.push(`N${n.id}'s event ${s} is not the stream's`)
          break
        }
      }
    }

    // 2.-4. Acknowledged writes.
    for (const w of writes) {
      if (w.seq === undefined) continue
      const where = `write acknowledged by N${w.node} at seq ${w.seq} (${w.mode})`
      if (w.run?.fencedAt !== undefined && w.calledAt > w.run.fencedAt) problems.push(`${where} was asked for after the fence`)
      const mine = records.get(w.dir)?.get(w.seq)
      const inStream = mine !== undefined && w.seq <= head && Buffer.from(msgs[w.seq - 1]!.data).equals(mine)
      if (inStream) continue
      const reported = [...runs.values()].some((r) => r.dir === w.dir && r.fence?.unpublishedFromSeq !== undefined && r.fence.unpublishedFromSeq <= w.seq! && w.seq! <= r.fence.unpublishedToSeq!)
      if (w.mode === 'replicated') problems.push(`${where} is not in the stream`)
      else if (!reported) problems.push(`${where} is neither in the stream nor reported unpublished by a fence`)
    }
    trace.push(`stream head ${head}; writes acknowledged ${writes.filter((w) => w.seq !== undefined).length}, refused ${writes.filter((w) => w.refused !== undefined).length}`)
  }
  try {
    // A run that hangs is a failure too (with what happened up to there), not a test timeout.
    await within(body(), RUN_LIMIT_MS, 'the run')
  } catch (err) {
    problems.push(`threw: ${(err as Error).stack ?? String(err)}`)
  } finally {
    resume()
    for (const n of nodes) await within(n.db?.close() ?? Promise.resolve(), 10_000, `closing N${n.id}`).catch((err: Error) => problems.push(err.message))
  }
  if (problems.length > 0) throw new Error(`${problems.join('\n')}\n--- what happened:\n${trace.join('\n')}`)
}

describe('replication under random schedules of writes, kills, pauses and promotions', () => {
  it('the stream stays one linear history, nothing acknowledged is lost, and every live node converges', async () => {
    await fc.assert(
      fc.asyncProperty(scheduleArb, ({ acks, steps }) => runSchedule(acks, steps)),
      { numRuns: FUZZ ? 200 : 20, ...(process.env.ISLAB_SEED ? { seed: Number(process.env.ISLAB_SEED), path: process.env.ISLAB_PATH } : {}) },
    )
  }, 600_000)
})
