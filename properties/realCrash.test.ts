// Real crashes: a child process (fixtures/crashWriter.mjs, running the built dist/) writes a
// deterministic workload in 'sync' mode with small segments and explicit checkpoints, and is
// SIGKILLed at a random moment. The directory is then reopened here and must hold:
//  (a) every acknowledged write: db.seq >= the last seq the child printed as acknowledged;
//  (c) exactly the model's state after db.seq operations (ops map 1:1 to seqs): no hole, no half batch;
//  (d) a sequence that continues: the next write gets db.seq + 1.
// One directory takes many kills in a row (kill, verify, restart the child where the log ends),
// so crashes also land on directories that were recovered from earlier crashes; some rounds
// verify a copy and leave the crashed original for the next child to recover itself (and some
// kills are timed from the spawn, so they can land during that recovery).
//
// Timing is not reproducible, but everything else is: a failure prints the master seed, and
// ISLAB_CRASH_SEED=<seed> replays the same workloads, windows, delays and kill modes.
// dist/ is rebuilt first if src/ is newer; the children run a private copy of it.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import { KEY_COUNT, applyOp, applyToModel, modelAfter, opAt } from './fixtures/crashOps.mjs'
import type { ModelState } from './fixtures/crashOps.mjs'
import { builtDistCopy } from '../test/helpers/builtDist.js'
import { prng } from '../test/helpers/simFileLayer.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'
const MASTER_SEED = process.env.ISLAB_CRASH_SEED !== undefined ? Number(process.env.ISLAB_CRASH_SEED) : (Date.now() ^ (process.pid << 8)) >>> 0
const CHAINS = FUZZ ? 150 : 6
const KILLS_PER_CHAIN = FUZZ ? 20 : 10
const PARALLEL = 2
const SEGMENT_BYTES = 4096
/** Ops between checkpoints; at 100 a good share of the run is spent checkpointing (see the count below). */
const CHECKPOINT_EVERY = 100
const WINDOWS = [1, 4, 16]

const root = path.resolve(new URL('..', import.meta.url).pathname)
const writer = path.join(root, 'properties/fixtures/crashWriter.mjs')

let distEntry = ''

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

interface Totals {
  kills: number
  duringCheckpoint: number
  checkpointTmpLeft: number
  tornTails: number
  beforeFirstAck: number
  verifiedOnCopy: number
  acks: number
  recoveredFromCheckpoint: number
}

interface ChildRun {
  lines: string[]
  signal: NodeJS.Signals | null
  code: number | null
  stderr: string
}

/** Spawns the writer, kills it per `kill`, and returns everything it printed. */
async function runChild(
  dir: string,
  seed: number,
  start: number,
  window: number,
  kill: { anchor: 'spawn' | 'first-ack'; delayMs: number },
): Promise<ChildRun> {
  const args = [writer, dir, String(seed), String(start), String(window), String(CHECKPOINT_EVERY), String(SEGMENT_BYTES), distEntry]
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let stderr = ''
  let ackSeen: () => void = () => undefined
  const firstAck = new Promise<void>((r) => (ackSeen = r))
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.includes('ack ')) ackSeen()
  })
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  // 'close': the process is gone and its stdout is drained, so every line it wrote is in `out`.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })))
  if (kill.anchor === 'first-ack') {
    await Promise.race([firstAck, closed, sleep(30_000)])
  }
  await sleep(kill.delayMs)
  child.kill('SIGKILL')
  const { code, signal } = await closed
  return { lines: out.split('\n').filter((l) => l.length > 0), signal, code, stderr }
}

interface Chain {
  index: number
  seed: number
  window: number
  rng: () => number
  dir: string
  /** The seq the directory holds (as last verified, or as the last cleanly closed probe left it). */
  start: number
  /** Model state after `at` ops. */
  model: ModelState
  at: number
}

function advance(chain: Chain, to: number): ModelState {
  if (to < chain.at) throw new Error(`model cannot go back from ${chain.at} to ${to}`)
  chain.model = modelAfter(chain.seed, to, { state: chain.model, at: chain.at })
  chain.at = to
  return chain.model
}

function expectState(db: Awaited<ReturnType<typeof open>>, model: ModelState): void {
  expect(db.size).toBe(model.size)
  for (let k = 0; k < KEY_COUNT; k++) {
    const key = `k${k}`
    const want = model.get(key)
    const got = db.getEntry(key)
    if (want === undefined) {
      expect(got, `${key} should be absent`).toBeUndefined()
    } else {
      expect(got?.seq, `${key}: seq of its last write`).toBe(want.seq)
      expect(isDeepStrictEqual(got?.value, want.value), `${key}: ${JSON.stringify(got?.value)} ≠ model ${JSON.stringify(want.value)}`).toBe(true)
    }
  }
}

async function killOnce(chain: Chain, k: number, totals: Totals): Promise<void> {
  const r = chain.rng
  const anchor = r() < 0.2 ? 'spawn' : 'first-ack'
  const delayMs = anchor === 'spawn' ? Math.floor(r() * 350) : 20 + Math.floor(r() * 380)
  const onCopy = r() < 0.3
  const where = `chain ${chain.index} (workload seed ${chain.seed}, window ${chain.window}), kill ${k} (${anchor} + ${delayMs} ms${onCopy ? ', verified on a copy' : ''}), start seq ${chain.start}`
  const run = await runChild(chain.dir, chain.seed, chain.start, chain.window, { anchor, delayMs })
  try {
    const errors = run.lines.filter((l) => l.startsWith('error'))
    expect(errors, 'the child reported an error').toEqual([])
    expect(run.signal, `the child must die by our SIGKILL (exit code ${run.code}, stderr: ${run.stderr.slice(-2000)})`).toBe('SIGKILL')
    const acks = run.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)))
    const lastAck = acks.length > 0 ? Math.max(...acks) : undefined
    const openCheckpoints = new Set<string>()
    for (const l of run.lines) {
      const [what, n] = l.split(' ')
      if (what === 'checkpoint-start') openCheckpoints.add(n!)
      if (what === 'checkpoint-end') openCheckpoints.delete(n!)
    }
    totals.kills++
    totals.acks += acks.length
    if (lastAck === undefined) totals.beforeFirstAck++
    if (openCheckpoints.size > 0) totals.duringCheckpoint++
    if (fs.readdirSync(chain.dir).some((n) => n.endsWith('.ckpt.tmp'))) totals.checkpointTmpLeft++

    let verifyDir = chain.dir
    if (onCopy) {
      verifyDir = tmpDir('islab-crash-copy-')
      fs.cpSync(chain.dir, verifyDir, { recursive: true })
      totals.verifiedOnCopy++
    }
    const db = await open({ dir: verifyDir, durability: 'sync', segmentBytes: SEGMENT_BYTES, checkpoint: false })
    let seq: number
    let after: ModelState
    try {
      seq = db.seq
      // (a) nothing acknowledged is lost, including what earlier children and probes wrote.
      const acked = Math.max(chain.start, lastAck ?? 0)
      expect(seq, 'db.seq after recovery vs the last acknowledged seq').toBeGreaterThanOrEqual(acked)
      // ...and nothing that was never issued: at most `window` writes were in flight unacknowledged.
      expect(seq, 'db.seq after recovery vs the writes the child issued').toBeLessThanOrEqual(acked + chain.window)
      const rec = db.stats().recovery!
      if (rec.tornBytesTruncated > 0) totals.tornTails++
      if (rec.checkpointSeq > 0) totals.recoveredFromCheckpoint++
      expect(rec.lost, 'strict recovery never gives up events').toBeUndefined()
      expect(rec.checkpointsSkipped, 'a crash never leaves a damaged checkpoint under a final name').toEqual([])
      // (c) exactly the state after `seq` operations.
      const model = advance(chain, seq)
      expectState(db, model)
      // (d) the sequence continues: the next operation of the workload gets seq + 1.
      const next = opAt(chain.seed, seq + 1)
      const written = await applyOp(db, next)
      expect(written.seq, 'seq of the first write after recovery').toBe(seq + 1)
      after = new Map(model)
      applyToModel(after, next, seq + 1)
      expectState(db, after)
    } finally {
      await db.close()
    }
    if (onCopy) {
      // The crashed original is left to the next child, which must recover the same seq itself.
      chain.start = seq
      fs.rmSync(verifyDir, { recursive: true, force: true })
    } else {
      chain.start = seq + 1
      chain.model = after
      chain.at = seq + 1
    }
  } catch (err) {
    const tail = run.lines.slice(-8).join(' | ')
    const files = fs.existsSync(chain.dir) ? fs.readdirSync(chain.dir).map((n) => `${n}:${fs.statSync(path.join(chain.dir, n)).size}`) : []
    throw new Error(
      `realCrash failed — master seed ${MASTER_SEED}, ${where}: ${(err as Error).message}\n` +
        `child output (last lines): ${tail}\n` +
        `directory now: ${files.join(' ')}\n` +
        `replay with: ISLAB_CRASH_SEED=${MASTER_SEED} npx vitest run properties/realCrash.test.ts`,
      { cause: err },
    )
  }
}

describe('real crashes (SIGKILL of a writing child process)', () => {
  beforeAll(() => {
    distEntry = builtDistCopy()
  }, 120_000)

  it(
    `recovers every acknowledged write, exactly a prefix, and continues the sequence (${CHAINS * KILLS_PER_CHAIN} kills)`,
    async () => {
      const started = performance.now()
      const master = prng(MASTER_SEED)
      const chains: Chain[] = Array.from({ length: CHAINS }, (_, index) => {
        const rng = prng(Math.floor(master() * 2 ** 32))
        return {
          index,
          seed: Math.floor(rng() * 2 ** 31),
          window: WINDOWS[Math.floor(rng() * WINDOWS.length)]!,
          rng,
          dir: tmpDir('islab-crash-'),
          start: 0,
          model: new Map(),
          at: 0,
        }
      })
      const totals: Totals = { kills: 0, duringCheckpoint: 0, checkpointTmpLeft: 0, tornTails: 0, beforeFirstAck: 0, verifiedOnCopy: 0, acks: 0, recoveredFromCheckpoint: 0 }
      let nextChain = 0
      const worker = async (): Promise<void> => {
        while (nextChain < chains.length) {
          const chain = chains[nextChain++]!
          for (let k = 0; k < KILLS_PER_CHAIN; k++) await killOnce(chain, k, totals)
          fs.rmSync(chain.dir, { recursive: true, force: true })
        }
      }
      await Promise.all(Array.from({ length: PARALLEL }, worker))
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      console.log(`realCrash: master seed ${MASTER_SEED}; ${seconds} s;`, JSON.stringify(totals))
      expect(totals.kills).toBe(CHAINS * KILLS_PER_CHAIN)
      // The workload checkpoints often enough that some kills land inside a checkpoint.
      expect(totals.duringCheckpoint, `kills during a checkpoint (master seed ${MASTER_SEED})`).toBeGreaterThan(0)
    },
    FUZZ ? 3_600_000 : 120_000,
  )
})
