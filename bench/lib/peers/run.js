// The peer comparison: IsLabDB, lmdb-js, classic-level, SQLite (better-sqlite3), Redis (AOF) and
// a bare Map on the same workloads in the same run. Each system runs in a child process of its own
// (child.js); this parent sends the workloads one at a time and interleaves the systems workload by
// workload, so all of them meet the shared machine within seconds of each other. Before every
// timed workload it waits until every child (and redis-server) is idle, so no system's background
// work (LevelDB compaction, a checkpoint, an AOF fsync) lands on another's clock.
import { fork } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { fmtInt, fmtMs, fmtRate, now, progress } from '../measure.js'
import { measureFsync } from '../workloads.js'
import { LABELS, SYSTEMS, redisServerPath } from './systems.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(HERE, '../../..')
const CHILD = path.join(HERE, 'child.js')

/** The rows of the comparison, in table order. `higher`: whether a bigger number is better. */
export const PEER_WORKLOADS = [
  { id: 'putSeq', label: 'bulk put, sequential keys (not awaited one by one)', unit: 'ops/s', higher: true },
  { id: 'putRandom', label: 'bulk put, random keys (not awaited one by one)', unit: 'ops/s', higher: true },
  { id: 'putAwaited', label: 'put, each awaited (1 writer, not durable)', unit: 'ops/s', higher: true },
  { id: 'getFirstUniform', label: 'get, uniform, first pass after the load', unit: 'ops/s', higher: true },
  { id: 'getFirstZipf', label: 'get, Zipfian θ=0.99, first pass after the load', unit: 'ops/s', higher: true },
  { id: 'getUniform', label: 'get, uniform, warm', unit: 'ops/s', higher: true },
  { id: 'getZipf', label: 'get, Zipfian θ=0.99, warm', unit: 'ops/s', higher: true },
  { id: 'ycsbA', label: 'YCSB A: 50% read, 50% update', unit: 'ops/s', higher: true },
  { id: 'ycsbB', label: 'YCSB B: 95% read, 5% update', unit: 'ops/s', higher: true },
  { id: 'ycsbC', label: 'YCSB C: 100% read', unit: 'ops/s', higher: true },
  { id: 'ycsbF', label: 'YCSB F: 50% read, 50% read-modify-write', unit: 'ops/s', higher: true },
  { id: 'range', label: 'range scan of 100 keys', unit: 'scans/s', higher: true },
  { id: 'durable1', label: 'durable put, 1 writer', unit: 'ops/s', higher: true },
  { id: 'durable64', label: 'durable put, 64 writers', unit: 'ops/s', higher: true },
  { id: 'close', label: 'close after the load', unit: 'ms', higher: false },
  { id: 'reopen', label: 'reopen: open + first get (fresh process)', unit: 'ms', higher: false },
  { id: 'restart', label: 'close → open → first get', unit: 'ms', higher: false },
  { id: 'restartCheckpoint', label: 'close → open → first get, checkpoint before close', unit: 'ms', higher: false },
  { id: 'rss', label: 'RSS added by the keys, right after the load', unit: 'MiB', higher: false },
  { id: 'rssWarm', label: 'RSS added by the keys, after the warm passes', unit: 'MiB', higher: false },
  { id: 'disk', label: 'bytes on disk after load', unit: 'MiB', higher: false },
]

export const PEER_WORKLOAD_IDS = PEER_WORKLOADS.map((w) => w.id)

const PACKAGES = { lmdb: ['lmdb'], level: ['classic-level'], sqlite: ['better-sqlite3'], redis: ['ioredis'], islab: [], map: ['msgpackr'] }

/** The version the bench loads: bench/node_modules (bench/package.json) first, then the root's. */
function packageVersion(name) {
  for (const dir of [path.join(REPO, 'bench', 'node_modules'), path.join(REPO, 'node_modules')]) {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, name, 'package.json'), 'utf8')).version
    } catch {
      /* try the next */
    }
  }
  return undefined
}

/** utime + stime of a process, in clock ticks (Linux); NaN once it is gone. */
function cpuTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return Number(f[11]) + Number(f[12])
  } catch {
    return NaN
  }
}

/**
 * Wait until the children and their servers together used at most one clock tick (10 ms of CPU)
 * in a 50 ms window, at most `maxMs`. Returns how long it waited.
 */
async function quiesce(pids, maxMs = 3000) {
  const t0 = now()
  const total = () => pids.reduce((a, p) => a + (cpuTicks(p) || 0), 0)
  let prev = total()
  for (;;) {
    await sleep(50)
    const cur = total()
    if (cur - prev <= 1 || now() - t0 > maxMs) return now() - t0
    prev = cur
  }
}

export class Child {
  constructor(system, execArgv) {
    this.system = system
    this.pending = new Map()
    this.nextId = 1
    this.serverPids = []
    this.proc = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
    this.proc.on('message', (msg) => {
      if (msg.type === 'pid') {
        this.serverPids.push(msg.pid)
        return
      }
      const p = this.pending.get(msg.id)
      if (!p) return
      this.pending.delete(msg.id)
      if (msg.ok) p.resolve(msg.result)
      else p.reject(new Error(`${LABELS[this.system]}: ${msg.error}`))
    })
    this.proc.on('exit', (code, signal) => {
      this.exited = true
      for (const p of this.pending.values()) p.reject(new Error(`${LABELS[this.system]} child exited (${signal ?? code})`))
      this.pending.clear()
    })
  }
  call(cmd, args) {
    if (this.exited) return Promise.reject(new Error(`${LABELS[this.system]} child is gone`))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.proc.send({ id, cmd, args })
    })
  }
  pids() {
    return [this.proc.pid, ...this.serverPids]
  }
  /**
   * Kill the child and any redis-server it started that is still running (used on errors; a normal
   * exit goes through shutdown, and the child stops its servers itself). A server pid is only
   * signalled while /proc says it is still a redis-server, so a reused pid is never touched.
   */
  kill() {
    for (const pid of this.serverPids) {
      try {
        if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')) process.kill(pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
    }
    if (!this.exited) this.proc.kill('SIGKILL')
  }
}

const MiB = 2 ** 20

function fmtValue(unit, x) {
  if (x === undefined || !Number.isFinite(x)) return '—'
  if (unit === 'ms') return fmtMs(x)
  if (unit === 'MiB') return `${x.toFixed(1)} MiB`
  return fmtRate(x)
}

const started = now()
const elapsed = () => {
  const s = Math.round((now() - started) / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** One progress line per workload: every system's number. */
function report(kindLabel, w, sys) {
  const parts = []
  for (const [name, r] of Object.entries(sys)) {
    const x = r.w[w.id]
    if (x === undefined) continue
    const s = x.error ? 'ERROR' : x.unsupported ? 'n/a' : fmtValue(w.unit, x.value)
    parts.push(`${LABELS[name]} ${s}`)
  }
  progress(`${elapsed()} [${kindLabel}] ${w.label}: ${parts.join(' · ')}${w.unit === 'ms' || w.unit === 'MiB' ? '' : ` ${w.unit}`}`)
}

/**
 * Runs the comparison for each value size in ctx.peerValues. `out.peers` gets, per value size, the
 * per-system numbers of every workload (value in the workload's unit, plus details).
 */
export async function runPeers(ctx, out) {
  const systems = ctx.peerSystems
  const redisBin = systems.includes('redis') ? redisServerPath() : undefined
  const skipped = {}
  if (systems.includes('redis') && redisBin === undefined) {
    skipped.redis = 'redis-server is not installed (Debian: apt-get install redis-server, or bench/setup-redis.sh; or BENCH_SETUP_REDIS=1 npm run bench)'
    progress(`skipping Redis: ${skipped.redis}`)
  }
  const running = systems.filter((s) => skipped[s] === undefined)
  const versions = {}
  for (const s of systems) {
    versions[s] = Object.fromEntries(PACKAGES[s].map((p) => [p, packageVersion(p)]))
  }
  const peers = { systems, skipped, versions, kinds: {}, config: { seconds: ctx.peerSeconds, rounds: ctx.peerRounds, durableSeconds: ctx.peerDurableSeconds, clients: ctx.peerClients, chunk: ctx.chunk, rangeCount: 100, pauseMs: ctx.peerPauseMs } }
  out.peers = peers

  for (const kind of ctx.peerValues) {
    const n = kind === '4k' ? ctx.n4k : ctx.n
    const kindLabel = kind === '4k' ? '4 KiB' : '100 B'
    console.log(`\n8    peers, ${kindLabel} values, ${fmtInt(n)} keys: ${running.map((s) => LABELS[s]).join(', ')}`)
    const k = { n, kind, systems: {}, fsyncProbes: [], quiesceMs: 0, windows: [] }
    peers.kinds[kind] = k
    let children = new Map()
    const allPids = () => [...children.values()].flatMap((c) => c.pids())
    const cleanup = () => {
      for (const c of children.values()) c.kill()
    }
    process.on('exit', cleanup)
    /** A fresh child per system (those still running), its data generated; drops any that cannot start. */
    const startChildren = async () => {
      children = new Map()
      for (const s of running) {
        if (skipped[s] !== undefined) continue
        const execArgv = s === 'islab' && ctx.peerProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${ctx.peerProfileDir}`] : []
        children.set(s, new Child(s, execArgv))
      }
      const t0 = now()
      const inits = await Promise.all(
        [...children].map(([s, c]) =>
          c.call('init', { system: s, n, kind, tmpRoot: ctx.tmpRoot, chunk: ctx.chunk, clients: ctx.peerClients }).catch((e) => ({ available: false, reason: e.message })),
        ),
      )
      for (const [i, [s, c]] of [...children].entries()) {
        const r = inits[i]
        if (!r.available) {
          skipped[s] = skipped[s] ?? r.reason
          progress(`skipping ${LABELS[s]}: ${r.reason}`)
          c.kill()
          children.delete(s)
          continue
        }
        k.systems[s] = k.systems[s] ?? { w: {}, info: r }
        if (r.server) versions[s].server = r.server
      }
      progress(`started a process per system and generated its data in ${fmtMs(now() - t0)}`)
    }
    /** Shut every child down; collect their timed windows (for profile-summary.js --windows). */
    const stopChildren = async () => {
      for (const [s, c] of children) {
        try {
          const r = await c.call('shutdown', {})
          k.windows.push(...r.windows.map((w) => ({ ...w, system: s })))
        } catch (e) {
          progress(`${LABELS[s]} shutdown: ${e.message.split('\n')[0]}`)
        }
      }
      await Promise.all([...children.values()].map((c) => (c.exited ? undefined : new Promise((r) => c.proc.once('exit', r)))))
    }
    try {
      let rotation = 0
      /**
       * Runs one workload on every system in turn (order rotated per workload), waiting for quiet
       * first. With rounds = 2 the second round goes in reverse order and each system keeps its
       * better round: interference from the shared machine only ever slows a run down.
       */
      const phase = async (w, cmd, args, toResult, only = [...children.keys()], rounds = 1) => {
        only = only.filter((s) => children.has(s))
        const first = only.slice(rotation % only.length).concat(only.slice(0, rotation % only.length))
        rotation++
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? first : first.slice().reverse()
          for (const s of order) {
            k.quiesceMs += await quiesce(allPids())
            const prev = k.systems[s].w[w.id]
            try {
              const t0 = now()
              const r = await children.get(s).call(cmd, args)
              const res = r.unsupported ? { unsupported: r.unsupported } : toResult(r)
              res.callMs = now() - t0
              if (prev?.value !== undefined && res.value !== undefined) {
                const samples = [...(prev.samples ?? [prev.value]), res.value]
                k.systems[s].w[w.id] = res.value > prev.value ? { ...res, samples } : { ...prev, samples }
              } else if (prev?.value === undefined || res.value !== undefined) {
                k.systems[s].w[w.id] = res
              }
            } catch (e) {
              if (prev?.value === undefined) k.systems[s].w[w.id] = { error: e.message.split('\n')[0] }
              progress(`${LABELS[s]} failed ${w.label}: ${e.message.split('\n')[0]}`)
            }
          }
        }
        report(kindLabel, w, k.systems)
      }
      const W = Object.fromEntries(PEER_WORKLOADS.map((w) => [w.id, w]))
      const rate = (r) => ({ value: r.opsPerSec, ...r })
      /** Copies a sub-result of a workload's answer into a row of its own. */
      const split = (from, to, pick) => {
        for (const s of Object.keys(k.systems)) {
          const r = k.systems[s].w[from]
          if (r === undefined || r.error) continue
          const x = pick(r, s)
          if (x !== undefined) k.systems[s].w[to] = x
        }
        report(kindLabel, W[to], k.systems)
      }
      const pauseMs = ctx.peerPauseMs

      // Load 1, sequential key order, each system in a process of its own started for it alone: the
      // RSS the keys add right after the load, the first pass of Zipfian gets after a pause, RSS
      // again after warm passes, bytes on disk; then these processes are stopped.
      await startChildren()
      await phase(W.putSeq, 'loadSeq', { pauseMs }, rate)
      split('putSeq', 'getFirstZipf', (r) => (r.firstZipf ? { value: r.firstZipf.opsPerSec, ...r.firstZipf } : undefined))
      split('putSeq', 'rss', (r) => (r.rss ? { value: r.rss.added / MiB, ...r.rss, memory: r.memory } : undefined))
      split('putSeq', 'rssWarm', (r) => (r.rss ? { value: r.rss.addedAfterWarm / MiB } : undefined))
      split('putSeq', 'disk', (r) => (r.diskBytes !== undefined ? { value: r.diskBytes / MiB, bytes: r.diskBytes } : { unsupported: 'in memory only' }))
      await stopChildren()

      // Load 2, random key order, in fresh processes again: the first pass of uniform gets after
      // the pause, then close and reopen (timed), and every later workload on that store.
      await startChildren()
      const names = [...children.keys()]
      const persistent = names.filter((s) => s !== 'map')
      await phase(W.putRandom, 'loadRandom', { pauseMs }, rate)
      split('putRandom', 'getFirstUniform', (r) => (r.firstUniform ? { value: r.firstUniform.opsPerSec, ...r.firstUniform } : undefined))
      await phase(W.reopen, 'reopen', {}, (r) => ({ value: r.ms, ...r }), persistent)
      split('reopen', 'close', (r) => (r.closeMs !== undefined ? { value: r.closeMs } : undefined))
      split('reopen', 'restart', (r, s) => {
        // Redis: its own AOF load time as it logs it (the issue's "Redis's AOF load"); the table's
        // reopen row keeps the wall time from spawning redis-server to its first answer.
        if (s === 'redis') return r.aofLoadMs !== undefined ? { value: r.aofLoadMs, aofLoad: true } : undefined
        return r.closeMs !== undefined && r.value !== undefined ? { value: r.closeMs + r.value } : undefined
      })
      // Every store answers a get of every key once, untimed, so the "warm" reads below see a warm store.
      for (const s of names) {
        k.quiesceMs += await quiesce(allPids())
        await children.get(s).call('warm', {})
      }
      const S = ctx.peerSeconds
      const R = ctx.peerRounds
      await phase(W.getUniform, 'get', { dist: 'uniform', seconds: S, label: 'getUniform' }, rate, names, R)
      await phase(W.getZipf, 'get', { dist: 'zipf', seconds: S, label: 'getZipf' }, rate, names, R)
      await phase(W.putAwaited, 'putAwaited', { seconds: S, label: 'putAwaited' }, rate, names, R)
      for (const mix of ['C', 'B', 'A', 'F']) await phase(W[`ycsb${mix}`], 'ycsb', { mix, seconds: S, label: `ycsb${mix}` }, rate, names, R)
      await phase(W.range, 'range', { seconds: S / 2, label: 'range', count: 100 }, rate, names, R)

      // Durable puts, each system bracketed by raw fdatasync probes (the disk's rate drifts).
      const probeS = ctx.peerFsyncSeconds
      const probe = (label) => {
        const p = measureFsync(ctx, probeS, `${kindLabel} ${label}`)
        k.fsyncProbes.push(p.rate)
        return p.rate
      }
      k.quiesceMs += await quiesce(allPids())
      let before = probe('before durable puts')
      for (const s of persistent) {
        const res = {}
        for (const writers of [1, 64]) {
          k.quiesceMs += await quiesce(allPids())
          try {
            const r = await children.get(s).call('durablePuts', { writers, seconds: ctx.peerDurableSeconds, label: `durable${writers}` })
            res[writers] = r.unsupported ? { unsupported: r.unsupported } : { value: r.opsPerSec, ...r }
          } catch (e) {
            res[writers] = { error: e.message.split('\n')[0] }
            progress(`${LABELS[s]} failed durable put ×${writers}: ${e.message.split('\n')[0]}`)
          }
        }
        const after = probe(`after ${LABELS[s]}`)
        const ref = (before + after) / 2
        for (const writers of [1, 64]) {
          const r = res[writers]
          if (r.value !== undefined) {
            r.fsyncRef = ref
            r.vsFsync = r.value / (writers * ref)
          }
          k.systems[s].w[`durable${writers}`] = r
        }
        progress(
          `${elapsed()} [${kindLabel}] durable put ${LABELS[s]}: ×1 ${fmtValue('ops/s', res[1].value)}, ×64 ${fmtValue('ops/s', res[64].value)} ops/s ` +
            `(fsync ${fmtRate(ref)}/s around it: ${res[1].vsFsync !== undefined ? `×1 = ${res[1].vsFsync.toFixed(2)} × fsync` : '—'}, ${res[64].vsFsync !== undefined ? `×64 = ${res[64].vsFsync.toFixed(2)} × 64 × fsync` : '—'}` +
            `${res[64].latencyMs ? `; ×64 p50 ${res[64].latencyMs.p50.toFixed(2)} ms, p99 ${res[64].latencyMs.p99.toFixed(2)} ms` : ''})`,
        )
        before = after
      }
      // Reopen after db.checkpoint() (IsLabDB; the others have no such call): last, so the
      // workloads above all ran on a store reopened the same way for every system.
      await phase(W.restartCheckpoint, 'reopenCheckpoint', {}, (r) => ({ value: r.closeMs + r.ms, openMs: r.ms, ...r }), persistent)
      if (k.systems.islab?.w.restartCheckpoint?.value !== undefined) {
        const r = k.systems.islab.w.restartCheckpoint
        k.systems.islab.reopenCheckpoint = r
        progress(`[${kindLabel}] IsLabDB after db.checkpoint() (${fmtMs(r.checkpointMs)}): close ${fmtMs(r.closeMs)}, open + first get ${fmtMs(r.ms)} (recovery loaded ${fmtInt(r.recovery?.checkpointKeys ?? 0)} keys from it, replayed ${fmtInt(r.recovery?.eventsReplayed ?? 0)} events)`)
      }
      if (names.includes('map')) {
        for (const id of ['durable1', 'durable64', 'close', 'reopen', 'restart', 'restartCheckpoint']) k.systems.map.w[id] = { unsupported: 'in memory only' }
      }
      const fs_ = k.fsyncProbes.slice().sort((a, b) => a - b)
      k.fsyncMedian = fs_[fs_.length >> 1]
      await stopChildren()
    } finally {
      cleanup()
      process.off('exit', cleanup)
    }
  }
}
