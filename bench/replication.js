#!/usr/bin/env node
// Replication through NATS JetStream (issue 19), against a real nats-server (-js, 127.0.0.1, a
// free port, a temp store; Debian's package installed when missing, as for redis-server):
//
//   throughput  a primary (this process) writes flat out while a replica (a child process)
//               follows: events/s through the stream, from the first put to the replica having
//               applied the last one (and the rate the stream stored them).
//   lag         the primary writes at a steady rate (default 10k puts/s); the replica stamps each
//               seq as it applies it, the primary each put as it is acknowledged, both on
//               process.hrtime (CLOCK_MONOTONIC: one clock for every process of the machine).
//               lag = applied − acknowledged, p50/p99 over the run minus its first second.
//               For the default ack ('local', behind the buffered WAL's fdatasync) and 'replicated'.
//   catch-up    a fresh replica restores the primary's newest snapshot (200k keys) from the
//               Object Store and consumes the stream after it (100k events): events/s overall
//               and for the stream part alone.
//   cost        the primary's bulk put throughput (1M puts in chunks of 1000, then flush: a burst of
//               100k hid the GC cost that builds up over a longer load) with
//               replication off, on ('local'), and on with ack: 'replicated', rounds interleaved
//               in a rotating order; the cost is the median of 1 − on/off per round (target ≤ 15%).
//
// Run alone (`npm run build && node bench/replication.js [options]`) or as workload
// `replication` of `npm run bench`. Writes bench/results/replication.json and the replication
// section of bench/RESULTS.md (a partial run: replication-partial.json only).
import { execFileSync, fork, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fmtRate } from './lib/measure.js'
import { gitDescribe, pick, writeSectionResults } from './lib/resultsSection.js'
import { freePort } from './lib/loopback.js'

const BENCH_FILE = fileURLToPath(import.meta.url)
const BENCH_DIR = path.dirname(BENCH_FILE)
const REPO_DIR = path.dirname(BENCH_DIR)

export const REPLICATION_PARTS = ['throughput', 'lag', 'catchup', 'cost']
export const REPLICATION_DEFAULTS = { n: 100_000, rounds: 3, rate: 10_000, lagSeconds: 8, snapshotKeys: 200_000, tail: 100_000, costN: 1_000_000, costRounds: 3, chunk: 1000 }
const COST_TARGET = 0.15

/** Milliseconds on CLOCK_MONOTONIC: comparable between the processes of one machine. */
const hr = () => Number(process.hrtime.bigint()) / 1e6
const T0 = performance.now()
const dbg = (s) => process.env.BENCH_DEBUG && console.log(`  [${((performance.now() - T0) / 1000).toFixed(2)} s] ${s}`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * nats-server, installed from Debian (apt-get install nats-server) when missing, with the policy
 * of bench/setup.js's redis-server: BENCH_SETUP_NATS=0 never installs; =1 installs also with
 * sudo; unset installs only as root with apt-get. Returns its path, or undefined (skipped).
 */
export function ensureNats(log = console.log) {
  const found = process.env.NATS_SERVER || which('nats-server')
  if (found) return found
  const want = process.env.BENCH_SETUP_NATS
  if (want === '0') return undefined
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!which('apt-get') || (want !== '1' && !isRoot)) {
    log('bench: nats-server is missing; apt-get install nats-server (or BENCH_SETUP_NATS=1 npm run bench); replication is skipped this run')
    return undefined
  }
  log('bench: nats-server is missing: apt-get install nats-server')
  const sudo = isRoot ? [] : ['sudo']
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'nats-server']]) {
    const [cmd, ...rest] = [...sudo, ...args]
    const r = spawnSync(cmd, rest, { stdio: 'inherit', env })
    if (r.status !== 0) {
      log(`bench: ${args.join(' ')} failed (${r.status ?? r.signal}); replication is skipped`)
      return undefined
    }
  }
  return which('nats-server')
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function startNats(bin, tmp) {
  const port = await freePort()
  const dir = path.join(tmp, 'nats')
  fs.mkdirSync(dir, { recursive: true })
  const proc = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' })
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  const t0 = performance.now()
  while (!(await portOpen(port))) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`)
    if (performance.now() - t0 > 30_000) throw new Error('nats-server did not listen within 30 s')
    await sleep(20)
  }
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()
  return {
    url: `127.0.0.1:${port}`,
    version,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode !== null) return
      proc.kill('SIGTERM')
      if (await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)])) proc.kill('SIGKILL')
    },
    kill: () => proc.exitCode === null && proc.kill('SIGKILL'),
  }
}

/** A replica in a child process (this file with --replica-child); messages as in replicaChild(). */
class ReplicaProc {
  constructor(dist, dir, url, stream, opts = {}) {
    const args = ['--replica-child', JSON.stringify({ dist, dir, url, stream, ...opts })]
    this.child = fork(BENCH_FILE, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
    this.inbox = []
    this.child.on('message', (m) => {
      this.inbox.push(m)
      this.wake?.()
    })
    this.child.on('exit', (code) => {
      this.exit = code
      this.wake?.()
    })
  }
  async next(type, timeoutMs = 600_000) {
    const until = performance.now() + timeoutMs
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type)
      if (i >= 0) return this.inbox.splice(i, 1)[0]
      if (this.exit !== undefined) throw new Error(`replica child exited (${this.exit}) before '${type}'`)
      if (performance.now() > until) throw new Error(`replica child: no '${type}' within ${timeoutMs} ms`)
      await new Promise((r) => {
        this.wake = r
        setTimeout(r, 1000)
      })
    }
  }
  send(m) {
    this.child.send(m)
  }
  async reach(seq) {
    this.send({ cmd: 'reach', seq })
    return (await this.next('reached')).at
  }
  async close() {
    if (this.exit !== undefined) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.send({ cmd: 'close' })
    await Promise.race([exited, sleep(30_000)])
    this.kill()
  }
  kill() {
    if (this.exit === undefined && this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

/**
 * The child: opens a replica, reports { ready, openStartAt, openedAt, seq, restoredFrom },
 * stamps each applied seq when `track` is set, answers { reached, at } to { cmd: 'reach', seq },
 * { times } (the stamps, as a Float64Array's bytes in base64) to { cmd: 'times' }, and exits
 * after { cmd: 'close' }.
 */
async function replicaChild(cfg) {
  const { openReplicated } = await import(pathToFileURL(path.join(cfg.dist, 'replication', 'index.js')).href)
  const send = (m) => new Promise((resolve) => process.send(m, resolve))
  process.on('disconnect', () => process.exit(3))
  const openStartAt = hr()
  const db = await openReplicated({ dir: cfg.dir, durability: 'buffered', replication: { servers: cfg.url, stream: cfg.stream, role: 'replica', snapshots: cfg.snapshots === false ? false : undefined } })
  const openedAt = hr()
  let times
  if (cfg.track) {
    times = new Float64Array(cfg.track + 1)
    // Applied (visible to reads here), not yet durable: what a reader of this replica sees.
    db.changes({ since: db.seq, durableOnly: false }).subscribe({
      next: (c) => {
        if (c.seq < times.length && times[c.seq] === 0) times[c.seq] = hr()
      },
    })
  }
  process.on('message', async (m) => {
    if (m.cmd === 'reach') {
      await db.waitForSeq(m.seq)
      await send({ type: 'reached', at: hr(), seq: db.seq })
    } else if (m.cmd === 'times') {
      await send({ type: 'times', data: Buffer.from(times.buffer).toString('base64') })
    } else if (m.cmd === 'close') {
      await db.close()
      process.exit(0)
    }
  })
  await send({ type: 'ready', openStartAt, openedAt, seq: db.seq, restoredFrom: db.replication.restoredFrom, state: db.stats().replication?.state })
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Key i and its ~100-byte value (as bench/lib/data.js's, without its lookup tables). */
function keyOf(i) {
  return `k${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(7, '0')}`
}
function valueOf(i) {
  return { id: i, name: `user-${i}`, email: `user${i}@example.com`, score: (i * 7919) % 10007, tags: ['a', 'b', i % 5 === 0 ? 'vip' : 'std'] }
}

async function putChunked(db, from, to, chunk) {
  for (let i = from; i < to; i += chunk) {
    const end = Math.min(to, i + chunk)
    const ps = new Array(end - i)
    for (let j = i; j < end; j++) ps[j - i] = db.put(keyOf(j), valueOf(j))
    await Promise.all(ps)
  }
}

async function waitUntil(f, what, timeoutMs = 120_000) {
  const until = performance.now() + timeoutMs
  while (!f()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

export async function runReplicationBench(options = {}) {
  const opts = { ...REPLICATION_DEFAULTS, parts: REPLICATION_PARTS, dist: path.join(REPO_DIR, 'dist'), log: console.log, ...options }
  const log = opts.log
  const bin = ensureNats(log)
  if (bin === undefined) {
    log('replication: skipped: nats-server is not installed')
    return { skipped: 'nats-server is not installed (Debian: apt-get install nats-server, or BENCH_SETUP_NATS=1)' }
  }
  const dist = path.resolve(opts.dist)
  if (!fs.existsSync(path.join(dist, 'replication', 'index.js'))) throw new Error(`${dist}/replication/index.js is missing: run npm run build first`)
  const { open } = await import(pathToFileURL(path.join(dist, 'index.js')).href)
  const { openReplicated } = await import(pathToFileURL(path.join(dist, 'replication', 'index.js')).href)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-repl-bench-'))
  dbg('starting nats-server')
  const nats = await startNats(bin, tmp)
  dbg('nats-server up')
  const children = new Set()
  let streams = 0
  const newStream = () => `BENCH${++streams}_${process.pid}`
  let dirs = 0
  const newDir = (label) => fs.mkdtempSync(path.join(tmp, `${label}-${++dirs}-`))
  const replica = (dir, stream, o) => {
    const r = new ReplicaProc(dist, dir, nats.url, stream, o)
    children.add(r)
    return r
  }
  const primary = async (stream, extra = {}) => {
    const p = await openReplicated({ dir: newDir('primary'), durability: 'buffered', replication: { servers: nats.url, stream, role: 'primary', ...extra } })
    // The stream exists once the publisher reconciled with it (the replica's consumer needs it).
    await waitUntil(() => p.stats().replication?.state === 'live', 'the primary to go live')
    return p
  }
  const onSignal = (sig) => {
    for (const c of children) c.kill()
    nats.kill()
    fs.rmSync(tmp, { recursive: true, force: true })
    process.kill(process.pid, sig)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const started = performance.now()
  const doc = {
    date: new Date().toISOString(),
    git: gitDescribe(REPO_DIR),
    versions: { nats: nats.version },
    config: pick(opts, ['n', 'rounds', 'rate', 'lagSeconds', 'snapshotKeys', 'tail', 'costN', 'costRounds', 'chunk', 'parts']),
  }
  try {
    // ---- throughput: flat out, primary here, replica in a child.
    if (opts.parts.includes('throughput')) {
      const rounds = []
      for (let round = 0; round < opts.rounds; round++) {
        const stream = newStream()
        dbg('throughput: opening the primary')
        const p = await primary(stream, { snapshots: false })
        dbg('throughput: primary live')
        const r = replica(newDir('replica'), stream, { snapshots: false })
        await r.next('ready')
        dbg('throughput: replica ready')
        const t0 = hr()
        await putChunked(p, 0, opts.n, opts.chunk)
        const ackedAt = hr()
        await p.replication.replicated(p.seq)
        const storedAt = hr()
        dbg('throughput: stored')
        const appliedAt = await r.reach(p.seq)
        dbg('throughput: applied')
        const n = p.seq
        const res = { events: n, putsPerSec: n / ((ackedAt - t0) / 1000), streamPerSec: n / ((storedAt - t0) / 1000), replicaPerSec: n / ((appliedAt - t0) / 1000) }
        rounds.push(res)
        log(`replication: throughput round ${round + 1}/${opts.rounds}: ${fmtInt(n)} events, puts acked ${fmtRate(res.putsPerSec)}/s, stored ${fmtRate(res.streamPerSec)}/s, applied by the replica ${fmtRate(res.replicaPerSec)}/s`)
        await r.close()
        children.delete(r)
        dbg('throughput: replica closed')
        await p.close()
        dbg('throughput: primary closed')
      }
      doc.throughput = { rounds, replicaPerSec: median(rounds.map((x) => x.replicaPerSec)), streamPerSec: median(rounds.map((x) => x.streamPerSec)), putsPerSec: median(rounds.map((x) => x.putsPerSec)) }
    }

    // ---- lag at a steady rate.
    if (opts.parts.includes('lag')) {
      doc.lag = {}
      // At the asked rate with either ack, and at a fifth of it: the shape of the lag when the
      // publisher is not the bottleneck (on a loaded 2-core machine it may be at the full rate).
      const runs = [
        { name: 'local', ack: 'local', rate: opts.rate },
        { name: 'replicated', ack: 'replicated', rate: opts.rate },
        { name: `local@${Math.round(opts.rate / 5)}`, ack: 'local', rate: Math.round(opts.rate / 5) },
      ]
      for (const { name, ack, rate } of runs) {
        const total = Math.round(rate * opts.lagSeconds)
        const stream = newStream()
        const p = await primary(stream, { snapshots: false, ack })
        const r = replica(newDir('replica'), stream, { snapshots: false, track: total })
        await r.next('ready')
        const ackAt = new Float64Array(total + 1)
        const stamp = (res) => {
          ackAt[res.seq] = hr()
        }
        const t0 = hr()
        let written = 0
        const pending = new Set()
        while (written < total) {
          const due = Math.min(total, Math.floor(((hr() - t0) / 1000) * rate))
          while (written < due) {
            const pr = p.put(keyOf(written % 50_000), valueOf(written)).then(stamp)
            written++
            pending.add(pr)
            pr.then(() => pending.delete(pr))
          }
          await sleep(1)
        }
        const wroteMs = hr() - t0
        await Promise.all(pending)
        await p.replication.replicated(total)
        const storedMs = hr() - t0
        await r.reach(total)
        r.send({ cmd: 'times' })
        const applied = new Float64Array(new Uint8Array(Buffer.from((await r.next('times')).data, 'base64')).buffer)
        await r.close()
        children.delete(r)
        await p.close()
        // The first second (connections, JIT) is left out.
        const lags = []
        for (let s = Math.min(total, rate) + 1; s <= total; s++) lags.push(applied[s] - ackAt[s])
        lags.sort((a, b) => a - b)
        const res = { ack, rate, puts: total, achievedRate: total / (wroteMs / 1000), streamRate: total / (storedMs / 1000), samples: lags.length, p50Ms: percentile(lags, 0.5), p99Ms: percentile(lags, 0.99), p999Ms: percentile(lags, 0.999), maxMs: lags.at(-1), minMs: lags[0] }
        doc.lag[name] = res
        log(`replication: lag at ${fmtInt(rate)} puts/s (achieved ${fmtInt(Math.round(res.achievedRate))}, stream stored ${fmtInt(Math.round(res.streamRate))}/s), ack '${ack}': p50 ${res.p50Ms.toFixed(1)} ms, p99 ${res.p99Ms.toFixed(1)} ms, max ${res.maxMs.toFixed(1)} ms`)
      }
    }

    // ---- catch-up of a fresh replica from a snapshot.
    if (opts.parts.includes('catchup')) {
      const stream = newStream()
      const p = await primary(stream)
      await putChunked(p, 0, opts.snapshotKeys, opts.chunk)
      const ckpt = await p.checkpoint()
      const snapSeq = ckpt?.seq ?? p.seq
      await waitUntil(() => p.replication.snapshots.shippedSeq >= snapSeq, 'the snapshot to be shipped')
      // The tail: overwrites of the first keys, so the state stays the snapshot's size.
      for (let i = 0; i < opts.tail; i += opts.chunk) {
        const end = Math.min(opts.tail, i + opts.chunk)
        const ps = []
        for (let j = i; j < end; j++) ps.push(p.put(keyOf(j % opts.snapshotKeys), valueOf(j + 1)))
        await Promise.all(ps)
      }
      const last = p.seq
      await p.replication.replicated(last)
      const spawnAt = hr()
      const r = replica(newDir('fresh'), stream, {})
      const ready = await r.next('ready')
      const doneAt = await r.reach(last)
      await r.close()
      children.delete(r)
      await p.close()
      const restored = ready.restoredFrom
      const streamEvents = last - (restored?.seq ?? ready.seq)
      doc.catchup = {
        snapshotKeys: opts.snapshotKeys,
        snapshotSeq: restored?.seq ?? null,
        snapshotBytes: restored?.size ?? null,
        streamEvents,
        lastSeq: last,
        openMs: ready.openedAt - ready.openStartAt,
        processStartMs: ready.openStartAt - spawnAt,
        streamMs: doneAt - ready.openedAt,
        totalMs: doneAt - ready.openStartAt,
        overallPerSec: last / ((doneAt - ready.openStartAt) / 1000),
        streamPerSec: streamEvents / ((doneAt - ready.openedAt) / 1000),
      }
      const c = doc.catchup
      log(
        `replication: catch-up: snapshot at seq ${c.snapshotSeq} (${fmtInt(c.snapshotBytes ?? 0)} bytes) restored and opened in ${c.openMs.toFixed(0)} ms, ` +
          `then ${fmtInt(streamEvents)} stream events at ${fmtRate(c.streamPerSec)}/s; ${fmtInt(last)} events in ${(c.totalMs / 1000).toFixed(2)} s = ${fmtRate(c.overallPerSec)}/s`,
      )
      if (restored === undefined) log('replication: catch-up: the replica did not start from a snapshot (see snapshotSeq: null)')
    }

    // ---- cost on the primary's put throughput.
    if (opts.parts.includes('cost')) {
      const modes = ['off', 'local', 'replicated']
      const samples = { off: [], local: [], replicated: [] }
      const streamed = { local: [], replicated: [] }
      for (let round = 0; round < opts.costRounds; round++) {
        const order = modes.map((_, i) => modes[(i + round) % modes.length])
        const line = []
        for (const mode of order) {
          const db =
            mode === 'off'
              ? await open({ dir: newDir('off'), durability: 'buffered' })
              : await primary(newStream(), { snapshots: false, ack: mode })
          globalThis.gc?.()
          const t0 = hr()
          await putChunked(db, 0, opts.costN, opts.chunk)
          await db.flush()
          const ms = hr() - t0
          samples[mode].push(opts.costN / (ms / 1000))
          if (mode !== 'off') {
            await db.replication.replicated(db.seq)
            streamed[mode].push(opts.costN / ((hr() - t0) / 1000))
          }
          await db.close()
          line.push(`${mode} ${fmtRate(samples[mode].at(-1))}/s`)
        }
        log(`replication: cost round ${round + 1}/${opts.costRounds}: ${line.join(', ')}`)
      }
      const ratio = (mode) => median(samples[mode].map((x, i) => x / samples.off[i]))
      doc.cost = {
        putsPerSec: Object.fromEntries(modes.map((m) => [m, median(samples[m])])),
        samples,
        streamedPerSec: { local: median(streamed.local), replicated: median(streamed.replicated) },
        cost: { local: 1 - ratio('local'), replicated: 1 - ratio('replicated') },
      }
    }
  } finally {
    for (const c of children) c.kill()
    await nats.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  doc.totalMs = performance.now() - started
  doc.machine = { cpu: os.cpus()[0]?.model ?? '?', cores: os.cpus().length, node: process.version, loadAvgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) }
  // The target is the default ack's: with ack 'replicated' every write waits for JetStream to
  // store it, so its puts are bound by the stream's store rate by construction (as sync-mode puts
  // are by fdatasync); its cost is reported next to the target, not hidden.
  doc.targets = doc.cost ? [{ name: "primary put throughput cost, ack 'local' (the default)", cost: doc.cost.cost.local, target: COST_TARGET, pass: doc.cost.cost.local <= COST_TARGET }] : []
  return doc
}

const fmtMs = (x) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms` : '—')
const fmtPct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—')

/** The markdown section (between the replication markers) of bench/RESULTS.md. */
export function replicationMarkdown(doc) {
  const lines = ['<!-- replication:start -->', '## Replication through NATS JetStream (`node bench/replication.js`, part of `npm run bench`)', '']
  lines.push('<!-- Generated by bench/replication.js; everything between the replication markers is overwritten. -->', '')
  if (doc.skipped) {
    lines.push(`Skipped: ${doc.skipped}.`, '<!-- replication:end -->')
    return lines.join('\n')
  }
  const c = doc.config
  lines.push(
    `${doc.date}, git ${doc.git}; ${doc.machine.cpu}, ${doc.machine.cores} cores, Node ${doc.machine.node}; ${doc.versions.nats}; load average ${doc.machine.loadAvgAtEnd.join(' / ')} at the end; ${(doc.totalMs / 1000).toFixed(0)} s.`,
    '',
    'One nats-server (-js, file storage) on loopback, the primary in the bench process, each replica its own process; all on this one machine, so NATS, primary and replica share its cores. ' +
      'Durability `buffered` everywhere (a primary publishes an event once its WAL commit is fdatasynced, at most `syncIntervalMs` = 100 ms after the put). Values ~100 bytes.',
    '',
    '| measure | result | how |',
    '|---|--:|---|',
  )
  const t = doc.throughput
  if (t) {
    lines.push(`| throughput, primary → stream → replica | ${fmtRate(t.replicaPerSec)} events/s | ${fmtInt(c.n)} puts flat out (chunks of ${c.chunk}), first put to the replica having applied the last; median of ${c.rounds} rounds |`)
    lines.push(`| … stored by the stream | ${fmtRate(t.streamPerSec)} events/s | first put to the stream's ack of the last |`)
    lines.push(`| … puts acknowledged (local) | ${fmtRate(t.putsPerSec)} puts/s | meanwhile |`)
  }
  for (const l of Object.values(doc.lag ?? {})) {
    lines.push(
      `| replica lag at ${fmtInt(l.rate)} puts/s, ack '${l.ack}' | p50 ${fmtMs(l.p50Ms)}, p99 ${fmtMs(l.p99Ms)} (max ${fmtMs(l.maxMs)}) | put acknowledged on the primary → applied on the replica, one clock (CLOCK_MONOTONIC); ${fmtInt(l.samples)} puts after the first second; ` +
        `puts issued at ${fmtInt(Math.round(l.achievedRate))}/s, the stream stored ${fmtInt(Math.round(l.streamRate))}/s${l.streamRate < 0.95 * l.rate ? (l.ack === 'local' ? ' (below the rate: the lag grew all along)' : " (below the rate: the puts' acknowledgements fell behind, not the replica)") : ''} |`,
    )
  }
  const k = doc.catchup
  if (k) {
    lines.push(`| catch-up of a fresh replica | ${fmtRate(k.overallPerSec)} events/s | ${fmtInt(k.lastSeq)} events: snapshot at seq ${fmtInt(k.snapshotSeq)} (${fmtInt(k.snapshotKeys)} keys, ${fmtInt(k.snapshotBytes)} bytes) restored and opened in ${fmtMs(k.openMs)}, then the stream |`)
    lines.push(`| … of which the stream after the snapshot | ${fmtRate(k.streamPerSec)} events/s | ${fmtInt(k.streamEvents)} events in ${fmtMs(k.streamMs)} |`)
  }
  const s = doc.cost
  if (s) {
    lines.push(`| primary puts/s, replication off | ${fmtRate(s.putsPerSec.off)} | ${fmtInt(c.costN)} puts (chunks of ${c.chunk}) + flush; median of ${c.costRounds} interleaved rounds |`)
    for (const m of ['local', 'replicated']) {
      lines.push(`| primary puts/s, on, ack '${m}' | ${fmtRate(s.putsPerSec[m])} (cost ${fmtPct(s.cost[m])}) | cost = median of 1 − on/off per round; until the stream held all: ${fmtRate(s.streamedPerSec[m])}/s |`)
    }
  }
  lines.push('')
  if (doc.lag?.replicated) {
    lines.push("With ack 'replicated' a put resolves once the stream stored it, and the replica, which gets the message from the stream at the same time, often applies it before the primary's event loop runs the put's continuation: such lags are negative.", '')
  }
  if (doc.targets.length > 0) {
    lines.push('### Targets (issue 19)', '')
    for (const x of doc.targets) lines.push(`- **${x.pass ? 'PASS' : 'MISS'}** — ${x.name}: ${fmtPct(x.cost)} (target ≤ ${fmtPct(x.target)}).`)
    if (doc.cost) {
      lines.push(
        `- Reported, no target — ack 'replicated': ${fmtPct(doc.cost.cost.replicated)}. Each write resolves only once JetStream stored it, so these puts run at the stream's store rate (${fmtRate(doc.cost.streamedPerSec.replicated)}/s here, nats-server on the same 2 cores), as sync-mode puts run at the fdatasync rate; it is the option to pick when a write must survive the primary's disk.`,
      )
    }
    lines.push('')
  }
  lines.push('Raw numbers: `bench/results/replication.json`.', '<!-- replication:end -->')
  return lines.join('\n')
}

export function writeReplicationResults(doc, { partial = false } = {}) {
  return writeSectionResults(BENCH_DIR, 'replication', doc, replicationMarkdown, { partial })
}

export function printReplication(doc, log = console.log) {
  if (doc.skipped) return
  if (doc.throughput) log(`replication throughput: ${fmtRate(doc.throughput.replicaPerSec)} events/s primary → replica (stream stored ${fmtRate(doc.throughput.streamPerSec)}/s)`)
  for (const l of Object.values(doc.lag ?? {})) log(`replica lag at ${fmtInt(l.rate)}/s, ack '${l.ack}': p50 ${fmtMs(l.p50Ms)}, p99 ${fmtMs(l.p99Ms)} (stream stored ${fmtRate(l.streamRate)}/s)`)
  if (doc.catchup) log(`fresh replica catch-up: ${fmtRate(doc.catchup.overallPerSec)} events/s (stream part ${fmtRate(doc.catchup.streamPerSec)}/s, open with snapshot ${fmtMs(doc.catchup.openMs)})`)
  for (const t of doc.targets) log(`${t.pass ? 'PASS' : 'MISS'} ${t.name}: ${fmtPct(t.cost)} (≤ ${fmtPct(t.target)})`)
}

const USAGE = `usage: node bench/replication.js [options]   (npm run build first)
  --parts <a,b>       ${REPLICATION_PARTS.join(',')} (default: all; a subset writes replication-partial.json only)
  --n <k>             puts per throughput round (default ${REPLICATION_DEFAULTS.n})
  --rounds <k>        throughput rounds (default ${REPLICATION_DEFAULTS.rounds})
  --rate <k>          puts/s of the lag runs (default ${REPLICATION_DEFAULTS.rate})
  --lag-seconds <s>   length of each lag run (default ${REPLICATION_DEFAULTS.lagSeconds})
  --snapshot-keys <k> keys in the catch-up snapshot (default ${REPLICATION_DEFAULTS.snapshotKeys})
  --tail <k>          stream events after it (default ${REPLICATION_DEFAULTS.tail})
  --cost-n <k>        puts per cost round (default ${REPLICATION_DEFAULTS.costN})
  --cost-rounds <k>   (default ${REPLICATION_DEFAULTS.costRounds})
  --dist <dir>        the IsLabDB build to run (default dist/)`

if (process.argv[1] && path.resolve(process.argv[1]) === BENCH_FILE) {
  if (process.argv[2] === '--replica-child') {
    await replicaChild(JSON.parse(process.argv[3]))
  } else {
    const { values: v } = parseArgs({
      options: {
        parts: { type: 'string' },
        n: { type: 'string' },
        rounds: { type: 'string' },
        rate: { type: 'string' },
        'lag-seconds': { type: 'string' },
        'snapshot-keys': { type: 'string' },
        tail: { type: 'string' },
        'cost-n': { type: 'string' },
        'cost-rounds': { type: 'string' },
        dist: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (v.help) {
      console.log(USAGE)
      process.exit(0)
    }
    const num = (x, d) => (x === undefined ? d : Math.max(1, Math.floor(Number(x))))
    const parts = v.parts ? v.parts.split(',').map((t) => t.trim()) : REPLICATION_PARTS
    for (const p of parts) if (!REPLICATION_PARTS.includes(p)) throw new Error(`unknown part '${p}' (known: ${REPLICATION_PARTS.join(', ')})`)
    const D = REPLICATION_DEFAULTS
    const opts = {
      parts,
      n: num(v.n, D.n),
      rounds: num(v.rounds, D.rounds),
      rate: num(v.rate, D.rate),
      lagSeconds: v['lag-seconds'] === undefined ? D.lagSeconds : Math.max(1.5, Number(v['lag-seconds'])),
      snapshotKeys: num(v['snapshot-keys'], D.snapshotKeys),
      tail: num(v.tail, D.tail),
      costN: num(v['cost-n'], D.costN),
      costRounds: num(v['cost-rounds'], D.costRounds),
      dist: v.dist ?? path.join(REPO_DIR, 'dist'),
    }
    const doc = await runReplicationBench(opts)
    printReplication(doc)
    const partial = parts.length !== REPLICATION_PARTS.length || v.dist !== undefined
    const written = writeReplicationResults(doc, { partial })
    console.log(`wrote ${written.map((f) => path.relative(REPO_DIR, f)).join(', ')}`)
  }
}

/** measure.js's fmtInt, but a part that did not run shows '—', not NaN. */
function fmtInt(x) {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—'
}
