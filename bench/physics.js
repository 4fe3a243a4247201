// Measures the physics layer (docs/physics.md) against plain baselines, all in one run:
//   hit:        event horizon (decayed-mass admission/eviction) vs plain LRU, same byte budget,
//               same read traces: Zipfian θ=0.9 and 0.99, Zipfian polluted by scans, shifting;
//   memory:     heap of 1M keys × ~100-byte values, physics vs the flat map (physics: false), after
//               the same Zipfian θ=0.99 reads, with the hot tier's hit ratio reported;
//   throughput: put and get rates with physics on (default budget) vs off, each mode in its own
//               process, the processes timing passes in turn (lockstep), plus paired in one
//               process, and physics on under a tight budget for reference;
//   wormholes:  hot hit ratio with wormholes vs tiers alone on user → profile → settings sessions;
//   demon:      Maxwell's demon on vs off on a workload whose hot set shifts and whose spread changes.
// Usage: node bench/physics.js [--quick] [--only hit,memory,throughput,wormholes,demon]
// (run `npm run build` first: it uses dist/). Prints tables; writes bench/results/physics.json,
// the chart bench/results/physics.svg and the <!-- physics:start --> section of bench/RESULTS.md.
import { fork, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Packr } from 'msgpackr'
import { open } from '../dist/index.js'
import { makeKey, makeValue, prng, zipfianSequence } from './lib/data.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SELF = fileURLToPath(import.meta.url)
const args = process.argv.slice(2)
const QUICK = args.includes('--quick')
const ALL = ['hit', 'memory', 'throughput', 'wormholes', 'demon']
const ONLY = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1].split(',')) : new Set(ALL)
const SIZE = QUICK
  ? { hitKeys: 50_000, hitReads: 500_000, memKeys: 1_000_000, memReads: 4_000_000, memHot: [0.45], tpKeys: 100_000, tpGets: 500_000, tpRounds: 2, tpPasses: 4, pairRounds: 2, pairPasses: 6, pairLoads: 2, users: 10_000, sessions: 150_000, demonKeys: 50_000, demonPhase: 100_000 }
  : { hitKeys: 200_000, hitReads: 2_000_000, memKeys: 1_000_000, memReads: 8_000_000, memHot: [0.35, 0.4, 0.45], tpKeys: 200_000, tpGets: 2_000_000, tpRounds: 4, tpPasses: 10, pairRounds: 4, pairPasses: 10, pairLoads: 4, users: 30_000, sessions: 500_000, demonKeys: 100_000, demonPhase: 200_000 }

const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint' })
const log = (s) => process.stderr.write(`  · ${s}\n`)
const pct = (x) => `${(100 * x).toFixed(1)}%`
const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`
const fmtRate = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(0)}k` : x.toFixed(0))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

let gcFn
function gc() {
  if (gcFn === undefined) {
    v8.setFlagsFromString('--expose-gc')
    gcFn = vm.runInNewContext('gc')
  }
  gcFn()
  gcFn()
}

/** A physics database driven by a virtual clock (1 µs per read) and ticked every `tickEvery` reads. */
async function virtualDb(opts) {
  const clock = { now: 0 }
  const db = await open({ durability: 'memory', ...opts, physics: { tickMs: 100_000_000, ...opts.physics, clock: () => clock.now } })
  return { db, clock }
}

async function load(db, keys, valueOf = (i) => makeValue(i)) {
  let bytes = 0
  for (let i = 0; i < keys.length; i += 1000) {
    const ps = []
    for (let j = i; j < Math.min(keys.length, i + 1000); j++) {
      const v = valueOf(j)
      bytes += packr.pack(v).length
      ps.push(db.put(keys[j], v))
    }
    await Promise.all(ps)
  }
  return bytes
}

/**
 * Reads per physics tick in the virtual-time workloads: the 100 ms default tick at 200k reads/s.
 * Virtual time runs at 1 µs per read, i.e. 20 ms per tick: half-lives below are in those units.
 */
const TICK_READS = 20_000

/** Reads `trace` through the db; returns the hot hit ratio over the reads after `warm` of them. */
function replay(db, clock, trace, { tickEvery = TICK_READS, warm = 0.2 } = {}) {
  const from = Math.floor(trace.length * warm)
  let before
  const t0 = performance.now()
  for (let i = 0; i < trace.length; i++) {
    if (i === from) before = db.metrics()
    db.get(trace[i])
    if (i % tickEvery === tickEvery - 1) {
      clock.now += tickEvery / 1000
      db.physics.tick()
    }
  }
  const ms = performance.now() - t0
  const after = db.metrics()
  const reads = after.reads - before.reads
  return {
    hotHitRatio: (after.hits.hot - before.hits.hot) / reads,
    coldReadRatio: (after.hits.cold - before.hits.cold) / reads,
    churn: after.counters.evictions - before.counters.evictions + (after.counters.promotions - before.counters.promotions),
    nsPerRead: (ms * 1e6) / trace.length,
    metrics: after,
  }
}

/** Plain LRU over the same byte budget (a Map in recency order). */
function lruHitRatio(trace, sizeOf, budget, warm = 0.2) {
  const cache = new Map()
  let bytes = 0
  let hits = 0
  const from = Math.floor(trace.length * warm)
  for (let i = 0; i < trace.length; i++) {
    const k = trace[i]
    if (cache.has(k)) {
      cache.delete(k)
      cache.set(k, true)
      if (i >= from) hits++
      continue
    }
    const s = sizeOf.get(k)
    if (s > budget) continue
    cache.set(k, true)
    bytes += s
    for (const old of cache.keys()) {
      if (bytes <= budget) break
      cache.delete(old)
      bytes -= sizeOf.get(old)
    }
  }
  return hits / (trace.length - from)
}

// ── 1. Event horizon vs LRU ──

function scanPolluted(keys, reads, seed) {
  // Zipfian θ=0.99 with, every 10% of the trace, a one-pass scan over 15% of the keys.
  const base = zipfianSequence(keys, reads, 0.99, seed)
  const out = []
  const chunk = Math.floor(reads / 10)
  const scan = Math.floor(keys.length * 0.15)
  for (let c = 0; c < 10; c++) {
    for (let i = c * chunk; i < (c + 1) * chunk; i++) out.push(base[i])
    const start = Math.floor(((c * 7919) % 10) * (keys.length / 10))
    for (let i = 0; i < scan; i++) out.push(keys[(start + i) % keys.length])
  }
  return out
}

/** Arrays joined end to end (spreading 100k-element arrays into push() overflows the stack). */
function concat(parts) {
  const out = []
  for (const p of parts) for (let i = 0; i < p.length; i++) out.push(p[i])
  return out
}

function shifting(keys, reads, phases = 4) {
  return concat(Array.from({ length: phases }, (_, p) => zipfianSequence(keys, Math.floor(reads / phases), 0.99, 100 + p)))
}

async function hitRatios() {
  const n = SIZE.hitKeys
  const keys = Array.from({ length: n }, (_, i) => makeKey(i))
  const sizeOf = new Map(keys.map((k, i) => [k, packr.pack(makeValue(i)).length]))
  const total = [...sizeOf.values()].reduce((a, b) => a + b, 0)
  const budget = Math.floor(total * 0.1)
  // Mass half-life: a tenth of the trace (virtual time runs at 1 µs per read).
  const halfLifeReads = SIZE.hitReads / 10
  const workloads = [
    ['Zipfian θ=0.9', () => zipfianSequence(keys, SIZE.hitReads, 0.9, 11)],
    ['Zipfian θ=0.99', () => zipfianSequence(keys, SIZE.hitReads, 0.99, 12)],
    ['Zipfian θ=0.99 + scans', () => scanPolluted(keys, SIZE.hitReads, 13)],
    ['shifting hot set (4 phases)', () => shifting(keys, SIZE.hitReads)],
  ]
  const rows = []
  for (const [name, make] of workloads) {
    const trace = make()
    const { db, clock } = await virtualDb({ memory: { hotBytes: budget, warmBytes: total }, physics: { halfLifeMs: halfLifeReads / 1000, wormholes: false, demon: false } })
    await load(db, keys)
    const eh = replay(db, clock, trace)
    await db.close()
    const lru = lruHitRatio(trace, sizeOf, budget)
    rows.push({ workload: name, reads: trace.length, eventHorizon: eh.hotHitRatio, lru, gain: eh.hotHitRatio - lru })
    log(`${name}: event horizon ${pct(eh.hotHitRatio)}, LRU ${pct(lru)} (${fmtRate(trace.length)} reads)`)
  }
  return { keys: n, budgetBytes: budget, dataBytes: total, budgetShare: 0.1, halfLifeReads, rows }
}

// ── 2. Memory vs the flat map (child processes) ──

async function memoryChild({ physics, n, reads, hot, warm }) {
  gc()
  const base = process.memoryUsage()
  let keys = Array.from({ length: n }, (_, i) => makeKey(i))
  const dataBytes = n * packr.pack(makeValue(n >> 1)).length
  const db = await open({
    durability: 'memory',
    physics: physics ? {} : false,
    ...(physics ? { memory: { hotBytes: Math.floor(dataBytes * hot), warmBytes: Math.floor(dataBytes * warm) } } : {}),
  })
  const t0 = performance.now()
  await load(db, keys)
  const loadMs = performance.now() - t0
  if (physics) db.physics.settle()
  let trace = zipfianSequence(keys, reads, 0.99, 21)
  // Hit ratios are measured over the last 40% of the reads, near steady state.
  const half = Math.floor(reads * 0.6)
  const seen = new Set()
  let flatHits = 0
  let before
  const t1 = performance.now()
  for (let i = 0; i < reads; i++) {
    if (i === half) before = db.metrics()
    const k = trace[i]
    db.get(k)
    if (!physics) {
      if (seen.has(k)) {
        if (i >= half) flatHits++
      } else seen.add(k)
    }
    if (i % 20_000 === 19_999) await new Promise((r) => setImmediate(r))
  }
  const readMs = performance.now() - t1
  if (physics) db.physics.settle()
  const after = db.metrics()
  keys = undefined
  trace = undefined
  seen.clear()
  gc()
  const m = process.memoryUsage()
  const heap = m.heapUsed - base.heapUsed
  const buffers = m.arrayBuffers - base.arrayBuffers
  const out = {
    physics,
    n,
    reads,
    dataBytes,
    heapBytes: heap,
    bufferBytes: buffers,
    totalBytes: heap + buffers,
    hotHitRatio: physics ? (after.hits.hot - before.hits.hot) / (after.reads - before.reads) : flatHits / (reads - half),
    loadMs,
    readMs,
    tiers: after.tiers,
    budget: after.budget,
    counters: after.counters,
    demon: after.demon,
  }
  await db.close()
  return out
}

function child(task, params, extraArgs = []) {
  const r = spawnSync(process.execPath, ['--expose-gc', ...extraArgs, SELF, '--child', task, JSON.stringify(params)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (r.status !== 0) throw new Error(`child ${task} failed with status ${r.status}`)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

async function memory() {
  const n = SIZE.memKeys
  const flat = child('memory', { physics: false, n, reads: SIZE.memReads })
  log(`flat map: ${mib(flat.totalBytes)} (heap ${mib(flat.heapBytes)} + buffers ${mib(flat.bufferBytes)}), hit ratio ${pct(flat.hotHitRatio)}, reads ${(flat.readMs / 1000).toFixed(1)} s`)
  const rows = [{ config: 'flat map (physics: false)', ...flat, ratio: 1 }]
  for (const hot of SIZE.memHot) {
    const warm = 0.02
    const p = child('memory', { physics: true, n, reads: SIZE.memReads, hot, warm })
    const ratio = p.totalBytes / flat.totalBytes
    rows.push({ config: `physics, hot ${Math.round(hot * 100)}% + warm ${Math.round(warm * 100)}% of data`, ...p, ratio })
    log(`physics hot ${pct(hot)}: ${mib(p.totalBytes)} (heap ${mib(p.heapBytes)} + buffers ${mib(p.bufferBytes)}) = ${pct(ratio)} of flat, hot hit ratio ${pct(p.hotHitRatio)}, reads ${(p.readMs / 1000).toFixed(1)} s; hot/warm/cold keys ${p.tiers.hot.keys}/${p.tiers.warm.keys}/${p.tiers.cold.keys}`)
  }
  return { keys: n, reads: SIZE.memReads, valueBytes: flat.dataBytes / n, rows }
}

// ── 3. Throughput cost (child processes in lockstep) ──

/**
 * One mode's database in its own process, driven by the parent: it loads (timing the puts),
 * then times one pass of reads each time it is asked. Between passes it sits idle, so while one
 * mode is timed it has the machine's caches to itself, and modes take turns pass by pass.
 */
async function throughputChild({ physics, n, gets, tight }) {
  const keys = Array.from({ length: n }, (_, i) => makeKey(i))
  const values = Array.from({ length: n }, (_, i) => makeValue(i))
  const dataBytes = n * packr.pack(values[n >> 1]).length
  const opts = { durability: 'memory', physics: physics ? {} : false }
  if (physics && tight) opts.memory = { hotBytes: Math.floor(dataBytes * 0.2), warmBytes: Math.floor(dataBytes * 0.1) }
  // Warm-up on throwaway keys, so both modes are measured with optimized code.
  {
    const w = await open(opts)
    for (let i = 0; i < 20_000; i += 1000) await Promise.all(values.slice(i, i + 1000).map((v, j) => w.put(`w${i + j}`, v)))
    for (let r = 0; r < 3; r++) for (let i = 0; i < 20_000; i++) w.get(`w${i}`)
    await w.close()
  }
  gc()
  const db = await open(opts)
  const putRate = await timedPuts(db, keys, values)
  // Background routing after the load (compressing what exceeds the budget), timed on its own.
  const c1 = process.cpuUsage()
  if (physics) db.physics.settle()
  const settleMs = cpuSeconds(c1) * 1000
  const { seq, uni } = getTraces(keys, tight ? gets >> 2 : gets)
  const traces = { zipf: seq, uniform: uni }
  // Untimed first passes: decodes and admissions, and optimized code.
  for (let i = 0; i < 2; i++) for (const s of [seq, uni]) getRate(db, s)
  process.send({ putRate, settleMs })
  process.on('message', async (m) => {
    if (m.pass !== undefined) {
      process.send({ rate: getRate(db, traces[m.pass]) })
      return
    }
    const hot = physics ? db.metrics().hotHitRatio : 1
    await db.close()
    process.send({ hot }, () => process.exit(0))
  })
}

/** Starts a lockstep child (see throughputChild); resolves once it has loaded, with what it measured so far. */
async function lockstepChild(params) {
  const c = fork(SELF, ['--child', 'throughput', JSON.stringify(params)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const failed = new Promise((_, reject) => c.once('exit', (code) => reject(new Error(`throughput child exited with status ${code}`))))
  const ask = () => Promise.race([new Promise((resolve) => c.once('message', resolve)), failed])
  const loaded = await ask()
  return {
    ...loaded,
    pass: async (trace) => {
      const r = ask()
      c.send({ pass: trace })
      return (await r).rate
    },
    finish: async () => {
      const r = ask()
      c.send({ finish: true })
      const out = await r
      await new Promise((resolve) => (c.exitCode !== null ? resolve() : c.once('exit', resolve)))
      return out
    },
  }
}

/**
 * The same gets, physics off and on, in one process: two databases with the same data, read in
 * alternating passes. Drift in the machine's load then hits both alike, and both live in one heap,
 * so what differs is the read path's own cost.
 */
async function pairedChild({ n, gets, passes, loads, offFirst }) {
  const keys = Array.from({ length: n }, (_, i) => makeKey(i))
  const values = Array.from({ length: n }, (_, i) => makeValue(i))
  // Puts: whole loads into fresh databases, alternating; each database is closed before the next
  // opens, so no physics tick runs while the other mode is being timed.
  const loadMode = async (mode) => {
    const db = await open({ durability: 'memory', physics: mode === 'on' ? {} : false })
    gc()
    return { db, rate: await timedPuts(db, keys, values) }
  }
  const putRatios = []
  for (let r = 0; r < loads; r++) {
    const rates = {}
    for (const mode of (r + (offFirst ? 0 : 1)) % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
      const { db, rate } = await loadMode(mode)
      rates[mode] = rate
      await db.close()
    }
    putRatios.push(rates.on / rates.off)
  }
  const dbs = {}
  for (const mode of offFirst ? ['off', 'on'] : ['on', 'off']) {
    const { db } = await loadMode(mode)
    if (mode === 'on') db.physics.settle()
    dbs[mode] = db
  }
  const { seq, uni } = getTraces(keys, gets)
  const rate = getRate
  const out = { put: median(putRatios) }
  for (const [name, s] of [['zipf', seq], ['uniform', uni]]) {
    // Untimed first passes: decodes and admissions, and optimized code for both paths.
    for (let i = 0; i < 2; i++) {
      rate(dbs.off, s)
      rate(dbs.on, s)
    }
    const ratios = []
    for (let i = 0; i < passes; i++) {
      let off, on
      if (i % 2 === 0) {
        off = rate(dbs.off, s)
        on = rate(dbs.on, s)
      } else {
        on = rate(dbs.on, s)
        off = rate(dbs.off, s)
      }
      ratios.push(on / off)
    }
    out[name] = median(ratios)
  }
  for (const db of Object.values(dbs)) await db.close()
  return out
}

/** Puts keys[i] → values[i] in chunks of 1000, as the throughput sections time loads; returns puts per CPU-second. */
async function timedPuts(db, keys, values) {
  const c = process.cpuUsage()
  for (let i = 0; i < keys.length; i += 1000) {
    const ps = new Array(Math.min(1000, keys.length - i))
    for (let j = 0; j < ps.length; j++) ps[j] = db.put(keys[i + j], values[i + j])
    await Promise.all(ps)
  }
  return keys.length / cpuSeconds(c)
}

/** The throughput sections' read traces: Zipfian θ=0.99 and uniform, `g` reads each. */
function getTraces(keys, g) {
  const rnd = prng(32)
  return { seq: zipfianSequence(keys, g, 0.99, 31), uni: Array.from({ length: g }, () => keys[Math.floor(rnd() * keys.length)]) }
}

/** Gets of every key in `s`, per CPU-second, after a full GC. */
function getRate(db, s) {
  gc()
  let acc = 0
  const c = process.cpuUsage()
  for (let i = 0; i < s.length; i++) acc += db.get(s[i]).id
  const r = s.length / cpuSeconds(c)
  if (acc < 0) throw new Error('unreachable')
  return r
}

/** CPU seconds (user + system) of this process since `from`: steadier than wall time on a shared machine. */
function cpuSeconds(from) {
  const d = process.cpuUsage(from)
  return (d.user + d.system) / 1e6
}

async function throughput() {
  const base = { n: SIZE.tpKeys, gets: SIZE.tpGets }
  const samples = { off: [], on: [], tight: [] }
  for (let r = 0; r < SIZE.tpRounds; r++) {
    // The order alternates between rounds, for starting the processes (the one started first has
    // measured a few percent faster here) and within each round's passes.
    const order = r % 2 === 0 ? ['off', 'on', 'tight'] : ['tight', 'on', 'off']
    const kids = {}
    for (const mode of order) kids[mode] = await lockstepChild({ ...base, physics: mode !== 'off', tight: mode === 'tight' })
    const rates = { off: { zipf: [], uniform: [] }, on: { zipf: [], uniform: [] }, tight: { zipf: [], uniform: [] } }
    for (const trace of ['zipf', 'uniform']) {
      for (let i = 0; i < SIZE.tpPasses; i++) {
        for (const mode of i % 2 === 0 ? order : [...order].reverse()) rates[mode][trace].push(await kids[mode].pass(trace))
      }
    }
    for (const mode of order) {
      const { hot } = await kids[mode].finish()
      samples[mode].push({ putRate: kids[mode].putRate, settleMs: kids[mode].settleMs, hot, ...rates[mode] })
    }
    const [off, on] = [samples.off.at(-1), samples.on.at(-1)]
    log(`round ${r + 1}: put ${fmtRate(off.putRate)} → ${fmtRate(on.putRate)}/s, get zipf ${fmtRate(median(off.zipf))} → ${fmtRate(median(on.zipf))}/s, uniform ${fmtRate(median(off.uniform))} → ${fmtRate(median(on.uniform))}/s`)
  }
  // Get ratios: per pass, to the physics-off pass next to it; the median over all rounds' passes.
  const passRatios = (mode, field) => samples[mode].flatMap((s, r) => s[field].map((x, i) => x / samples.off[r][field][i]))
  const row = (mode) => ({
    mode,
    put: median(samples[mode].map((s) => s.putRate)),
    getZipf: median(samples[mode].flatMap((s) => s.zipf)),
    getUniform: median(samples[mode].flatMap((s) => s.uniform)),
    putRatio: mode === 'off' ? 1 : median(samples[mode].map((s, i) => s.putRate / samples.off[i].putRate)),
    getZipfRatio: mode === 'off' ? 1 : median(passRatios(mode, 'zipf')),
    getUniformRatio: mode === 'off' ? 1 : median(passRatios(mode, 'uniform')),
    perRound: mode === 'off' ? undefined : samples[mode].map((s, r) => ({ zipf: median(s.zipf.map((x, i) => x / samples.off[r].zipf[i])), uniform: median(s.uniform.map((x, i) => x / samples.off[r].uniform[i])) })),
    hotHitRatio: median(samples[mode].map((s) => s.hot)),
    settleMs: median(samples[mode].map((s) => s.settleMs)),
  })
  const paired = []
  for (let r = 0; r < SIZE.pairRounds; r++) {
    paired.push(child('paired', { n: SIZE.tpKeys, gets: SIZE.tpGets >> 1, passes: SIZE.pairPasses, loads: SIZE.pairLoads, offFirst: r % 2 === 0 }))
    log(`paired round ${r + 1}: put ${pct(paired.at(-1).put)}, get zipf ${pct(paired.at(-1).zipf)}, uniform ${pct(paired.at(-1).uniform)} of physics off`)
  }
  return {
    keys: SIZE.tpKeys,
    gets: SIZE.tpGets,
    rounds: SIZE.tpRounds,
    passes: SIZE.tpPasses,
    rows: [row('off'), row('on'), row('tight')],
    paired: { rounds: SIZE.pairRounds, passes: SIZE.pairPasses, loads: SIZE.pairLoads, gets: SIZE.tpGets >> 1, put: median(paired.map((p) => p.put)), zipf: median(paired.map((p) => p.zipf)), uniform: median(paired.map((p) => p.uniform)), samples: paired },
  }
}

// ── 4. Wormholes: correlated reads ──

function sessionTrace(users, sessions, seed) {
  // Sessions pick a user from a Zipfian θ=0.8 over users and read user → profile → settings; one
  // session in four also reads a random other key (noise between correlated reads).
  const ids = Array.from({ length: users }, (_, i) => String(i))
  const picks = zipfianSequence(ids, sessions, 0.8, seed)
  const rnd = prng(seed + 1)
  const out = []
  for (const u of picks) {
    out.push(`user:${u}`, `profile:${u}`, `settings:${u}`)
    if (rnd() < 0.25) out.push(`user:${Math.floor(rnd() * users)}`)
  }
  return out
}

async function wormholeGain() {
  const u = SIZE.users
  const keys = []
  for (let i = 0; i < u; i++) keys.push(`user:${i}`, `profile:${i}`, `settings:${i}`)
  const trace = sessionTrace(u, SIZE.sessions, 41)
  const rows = []
  let data = 0
  for (let i = 0; i < keys.length; i++) data += packr.pack(makeValue(i)).length
  const configs = [
    ['tiers alone', false, 'tiers alone'],
    ['tiers + wormholes (default: learn from ≤ 4096 reads per tick)', {}, 'wormholes, 4096/tick'],
    ['tiers + wormholes, learning from ≤ 1024 reads per tick', { samplePerTick: 1024 }, 'wormholes, 1024/tick'],
  ]
  for (const [name, wormholes, short] of configs) {
    const { db, clock } = await virtualDb({ memory: { hotBytes: Math.floor(data * 0.05), warmBytes: data }, physics: { halfLifeMs: 60, wormholes, demon: false } })
    await load(db, keys)
    const r = replay(db, clock, trace, { tickEvery: TICK_READS })
    rows.push({ config: name, short, hotHitRatio: r.hotHitRatio, nsPerRead: r.nsPerRead, wormholes: r.metrics.wormholes, prefetches: r.metrics.counters.prefetches })
    log(`${name}: hot hit ratio ${pct(r.hotHitRatio)}, ${r.nsPerRead.toFixed(0)} ns/read, ${r.metrics.wormholes} wormholes, ${r.metrics.counters.prefetches} prefetches`)
    await db.close()
  }
  return { users: u, sessions: SIZE.sessions, reads: trace.length, hotShare: 0.05, tickReads: TICK_READS, rows }
}

// ── 5. Maxwell's demon: a hot set that shifts, and reads that spread and concentrate ──

function demonTrace(keys, phase) {
  // concentrated (θ=1.2) on set A, spread (uniform), concentrated on set B, spread, concentrated on A again.
  const rnd = prng(51)
  const uniform = () => Array.from({ length: phase }, () => keys[Math.floor(rnd() * keys.length)])
  return concat([
    zipfianSequence(keys, phase, 1.2, 52),
    uniform(),
    zipfianSequence(keys, phase, 1.2, 53),
    uniform(),
    zipfianSequence(keys, phase, 1.2, 52),
    zipfianSequence(keys, phase, 0.99, 54),
  ])
}

async function demonEffect() {
  const n = SIZE.demonKeys
  const keys = Array.from({ length: n }, (_, i) => makeKey(i))
  const trace = demonTrace(keys, SIZE.demonPhase)
  const total = n * packr.pack(makeValue(n >> 1)).length
  const rows = []
  const phases = ['θ=1.2 on A', 'uniform', 'θ=1.2 on B', 'uniform', 'θ=1.2 on A', 'θ=0.99']
  for (const demon of [false, true]) {
    const { db, clock } = await virtualDb({
      memory: { hotBytes: Math.floor(total * 0.05), warmBytes: Math.floor(total * 0.15) },
      physics: { halfLifeMs: 50, wormholes: false, demon, entropyEvery: 2 },
    })
    await load(db, keys)
    db.physics.settle()
    const perPhase = []
    let all
    for (let p = 0; p < phases.length; p++) {
      const r = replay(db, clock, trace.slice(p * SIZE.demonPhase, (p + 1) * SIZE.demonPhase), { warm: 0 })
      perPhase.push({ phase: phases[p], hotHitRatio: r.hotHitRatio, coldReadRatio: r.coldReadRatio, churn: r.churn, hotShare: r.metrics.demon?.hotShare, nsPerRead: r.nsPerRead })
      all = r.metrics
    }
    const mean = (f) => perPhase.reduce((a, x) => a + x[f], 0) / perPhase.length
    rows.push({
      config: demon ? 'demon on' : 'demon off (fixed split)',
      hotHitRatio: mean('hotHitRatio'),
      coldReadRatio: mean('coldReadRatio'),
      churn: perPhase.reduce((a, x) => a + x.churn, 0),
      nsPerRead: mean('nsPerRead'),
      perPhase,
      demon: all.demon,
    })
    log(`demon ${demon ? 'on ' : 'off'}: ${perPhase.map((x) => `${x.phase}: hot ${pct(x.hotHitRatio)} cold ${pct(x.coldReadRatio)} churn ${x.churn}`).join('; ')}`)
  }
  return { keys: n, reads: trace.length, phases, budget: 'hot 5% + warm 15% of data', rows }
}

// ── Output ──

function table(headers, rows) {
  const lines = [`| ${headers.join(' | ')} |`, `|${headers.map((h, i) => (i === 0 ? '---' : '--:')).join('|')}|`]
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`)
  return lines.join('\n')
}

function markdown(res, meta) {
  const quick = meta.quick ?? QUICK
  const out = ['<!-- physics:start -->', '## Physics layer', '', `<!-- Generated by bench/physics.js${quick ? ' --quick' : ''}; everything between the physics markers is overwritten. -->`, '']
  out.push(`- **Date:** ${meta.date}; **command:** \`node bench/physics.js${quick ? ' --quick' : ''}\`; **machine:** ${meta.machine}; load average ${meta.load}`)
  out.push(`- **Chart:** [results/physics.svg](results/physics.svg); raw numbers: \`bench/results/physics.json\``, '')
  if (res.hit) {
    const h = res.hit
    out.push(`### Event horizon vs LRU (hot-tier hit ratio)`, '')
    out.push(`${h.keys.toLocaleString('en-US')} keys, hot budget ${pct(h.budgetShare)} of the data (${mib(h.budgetBytes)} of ${mib(h.dataBytes)}), mass half-life ${h.halfLifeReads.toLocaleString('en-US')} reads (a tenth of a trace); hit ratios after the first 20% of each trace. LRU is a plain recency-ordered Map with the same byte budget, on the same trace.`, '')
    out.push(table(['Workload', 'Reads', 'Event horizon', 'LRU', 'Difference'], h.rows.map((r) => [r.workload, r.reads.toLocaleString('en-US'), pct(r.eventHorizon), pct(r.lru), `${r.gain >= 0 ? '+' : ''}${(100 * r.gain).toFixed(1)} pts`])), '')
  }
  if (res.memory) {
    const m = res.memory
    out.push(`### Memory vs the flat map`, '')
    out.push(`${m.keys.toLocaleString('en-US')} keys × ${m.valueBytes.toFixed(0)}-byte values (msgpack), loaded, then ${m.reads.toLocaleString('en-US')} Zipfian θ=0.99 reads; heap used + array buffers after a full GC, minus the process's baseline. Hit ratio: the last 40% of the reads served by the hot tier (flat map: reads of a key it had already decoded).`, '')
    out.push(table(['Configuration', 'Memory', 'vs flat', 'Hot hit ratio', 'Hot / warm / cold keys'], m.rows.map((r) => [r.config, mib(r.totalBytes), pct(r.ratio), pct(r.hotHitRatio), r.tiers ? `${r.tiers.hot.keys.toLocaleString('en-US')} / ${r.tiers.warm.keys.toLocaleString('en-US')} / ${r.tiers.cold.keys.toLocaleString('en-US')}` : '—'])), '')
  }
  if (res.throughput) {
    const t = res.throughput
    out.push(`### Throughput cost`, '')
    out.push(`${t.keys.toLocaleString('en-US')} keys, memory mode; put = bulk load in chunks of 1000; get = ${t.gets.toLocaleString('en-US')} reads per pass (a quarter of that for the tight budget) after 2 untimed passes. Each mode runs in its own process, and the processes take turns (lockstep): each times one pass while the others wait, so every mode has the machine's caches to itself while timed and drift in the machine's load hits all modes alike. ${t.rounds} rounds of ${t.passes} passes per workload, the order of starting the processes and of the passes alternating. Rates are per CPU-second of the process (user + system), which the other tenants of this shared machine disturb less than wall time; get ratios are medians over all rounds of each pass's ratio to the physics-off pass next to it, put ratios medians of the rounds' ratios. "tight" = hot 20% + warm 10% of the data, so values move between tiers: for reference (it trades CPU for memory); its routing after the load (compressing ~70% of the values) took ${t.rows[2].settleMs.toFixed(0)} ms of CPU, not counted in put/s.`, '')
    if (t.rows[1].perRound) out.push(`Per round, physics on ÷ off (get Zipfian / uniform): ${t.rows[1].perRound.map((x) => `${pct(x.zipf)} / ${pct(x.uniform)}`).join(', ')}.`, '')
    out.push(table(['Physics', 'put/s', 'vs off', 'get/s Zipfian', 'vs off', 'get/s uniform', 'vs off', 'hot hit ratio'], t.rows.map((r) => [r.mode === 'off' ? 'off' : r.mode === 'on' ? 'on (default budget)' : 'on, tight budget', fmtRate(r.put), pct(r.putRatio), fmtRate(r.getZipf), pct(r.getZipfRatio), fmtRate(r.getUniform), pct(r.getUniformRatio), pct(r.hotHitRatio)])), '')
    if (t.paired) {
      const p = t.paired
      out.push(`Paired, in one process (${p.rounds} processes, the order alternating): puts = ${p.loads} pairs of whole loads into fresh databases, physics off and on alternating, each closed before the next opens; gets = physics off and on over the same data, ${p.gets.toLocaleString('en-US')}-read passes alternating between the two databases after 2 untimed passes each, ${p.passes} pairs; medians of the per-pair ratios. With physics on, puts run at **${pct(p.put)}**, Zipfian gets at **${pct(p.zipf)}** and uniform gets at **${pct(p.uniform)}** of physics off; per process (put / Zipfian / uniform): ${p.samples.map((x) => `${pct(x.put)} / ${pct(x.zipf)} / ${pct(x.uniform)}`).join(', ')}. Load drift hits both modes alike here, and for gets both share one heap and cache, so this is the read path's own cost; the lockstep processes above also include what the larger physics-on entries (88 bytes against 56) cost in cache misses when each mode has the machine's caches to itself.`, '')
    }
  }
  if (res.wormholes) {
    const w = res.wormholes
    out.push(`### Wormholes: correlated reads`, '')
    out.push(`${w.users.toLocaleString('en-US')} users × (user, profile, settings); ${w.sessions.toLocaleString('en-US')} sessions (Zipfian θ=0.8 over users) reading user → profile → settings, a quarter of them followed by a random user; hot budget ${pct(w.hotShare)} of the data.`, '')
    out.push(table(['Configuration', 'Hot hit ratio', 'ns/read', 'Wormholes', 'Prefetches'], w.rows.map((r) => [r.config, pct(r.hotHitRatio), r.nsPerRead.toFixed(0), r.wormholes.toLocaleString('en-US'), r.prefetches.toLocaleString('en-US')])), '')
  }
  if (res.demon) {
    const d = res.demon
    out.push(`### Maxwell's demon: a shifting workload`, '')
    out.push(`${d.keys.toLocaleString('en-US')} keys, ${d.reads.toLocaleString('en-US')} reads in phases: ${d.phases.join(' → ')}; ${d.budget}. Churn = promotions + evictions. Ratios are the mean over the phases.`, '')
    out.push(table(['Configuration', 'Hot hit ratio', 'Cold reads', 'Churn', 'ns/read'], d.rows.map((r) => [r.config, pct(r.hotHitRatio), pct(r.coldReadRatio), r.churn.toLocaleString('en-US'), r.nsPerRead.toFixed(0)])), '')
    out.push('Per phase (demon off → on): hot hit ratio, cold reads, churn, and the hot share the demon ended the phase with.', '')
    const [off, on] = d.rows
    out.push(
      table(
        ['Phase', 'Hot hits', 'Cold reads', 'Churn', 'Hot share'],
        d.phases.map((p, i) => {
          const a = off.perPhase[i]
          const b = on.perPhase[i]
          return [p, `${pct(a.hotHitRatio)} → ${pct(b.hotHitRatio)}`, `${pct(a.coldReadRatio)} → ${pct(b.coldReadRatio)}`, `${a.churn.toLocaleString('en-US')} → ${b.churn.toLocaleString('en-US')}`, b.hotShare === undefined ? '' : pct(b.hotShare)]
        }),
      ),
      '',
    )
  }
  out.push('<!-- physics:end -->')
  return out.join('\n')
}

/** A small multi-panel bar chart, hand-written SVG (no dependencies). */
function chart(res) {
  const panels = []
  if (res.hit) panels.push({ title: 'Hot hit ratio: event horizon vs LRU', unit: '%', series: ['event horizon', 'LRU'], groups: res.hit.rows.map((r) => [r.workload, [100 * r.eventHorizon, 100 * r.lru]]), max: 100 })
  if (res.memory) {
    const f = res.memory.rows[0]
    panels.push({
      title: `Memory, ${res.memory.keys / 1e6}M keys (MiB; hot hit ratio in brackets)`,
      unit: '',
      series: ['memory'],
      groups: res.memory.rows.map((r) => [`${r === f ? 'flat map' : r.config.replace('physics, ', '').replace(' of data', '')} (${pct(r.hotHitRatio)})`, [r.totalBytes / 1048576]]),
    })
  }
  if (res.throughput) panels.push({ title: 'Throughput with physics, % of physics off', unit: '%', series: ['put', 'get Zipf', 'get uniform'], groups: res.throughput.rows.slice(1).map((r) => [r.mode === 'on' ? 'default budget' : 'tight budget', [100 * r.putRatio, 100 * r.getZipfRatio, 100 * r.getUniformRatio]]), max: 120 })
  if (res.wormholes) panels.push({ title: 'Wormholes: hot hit ratio on sessions', unit: '%', series: ['hot hit ratio'], groups: res.wormholes.rows.map((r) => [r.short ?? r.config, [100 * r.hotHitRatio]]), max: 100 })
  if (res.demon) panels.push({ title: "Maxwell's demon: shifting workload", unit: '%', series: ['hot hits', 'cold reads'], groups: res.demon.rows.map((r) => [r.config, [100 * r.hotHitRatio, 100 * r.coldReadRatio]]), max: 100 })
  const colors = ['#3b6ea5', '#e08a3c', '#5a9e5a']
  const W = 760
  const rowH = 18
  let y = 10
  const parts = []
  for (const p of panels) {
    const max = p.max ?? Math.max(...p.groups.flatMap((g) => g[1])) * 1.1
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${esc(p.title)}</text>`)
    p.series.forEach((s, i) => parts.push(`<rect x="${430 + i * 110}" y="${y + 4}" width="10" height="10" fill="${colors[i]}"/><text x="${444 + i * 110}" y="${y + 13}">${esc(s)}</text>`))
    y += 24
    for (const [label, vals] of p.groups) {
      parts.push(`<text x="10" y="${y + rowH * vals.length * 0.5 + 4}">${esc(label)}</text>`)
      vals.forEach((v, i) => {
        const w = Math.max(1, (v / max) * 420)
        parts.push(`<rect x="230" y="${y + i * rowH}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${colors[i]}"/>`)
        parts.push(`<text x="${236 + w}" y="${y + i * rowH + 11}">${v.toFixed(1)}${p.unit}</text>`)
      })
      y += rowH * vals.length + 6
    }
    y += 14
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function writeResults(res, meta) {
  const dir = path.join(HERE, 'results')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'physics.json'), `${JSON.stringify({ quick: QUICK, ...meta, results: res }, null, 2)}\n`)
  fs.writeFileSync(path.join(dir, 'physics.svg'), chart(res))
  const file = path.join(HERE, 'RESULTS.md')
  const md = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# IsLabDB benchmark results\n'
  const section = markdown(res, meta)
  const start = md.indexOf('<!-- physics:start -->')
  const end = md.indexOf('<!-- physics:end -->')
  const next = start >= 0 && end > start ? md.slice(0, start) + section + md.slice(end + '<!-- physics:end -->'.length) : `${md.replace(/\s*$/, '')}\n\n${section}\n`
  fs.writeFileSync(file, next)
}

async function main() {
  if (args[0] === '--render') {
    // Re-renders the chart and the RESULTS.md section from bench/results/physics.json.
    const saved = JSON.parse(fs.readFileSync(path.join(HERE, 'results', 'physics.json'), 'utf8'))
    const { results, ...meta } = saved
    writeResults(results, meta)
    return
  }
  if (args[0] === '--child') {
    const params = JSON.parse(args[2])
    if (args[1] === 'throughput') return throughputChild(params)
    const out = args[1] === 'memory' ? await memoryChild(params) : await pairedChild(params)
    process.stdout.write(`${JSON.stringify(out)}\n`)
    return
  }
  const started = performance.now()
  const load0 = os.loadavg().map((x) => x.toFixed(2)).join(' / ')
  const res = {}
  const sections = { hit: hitRatios, memory, throughput, wormholes: wormholeGain, demon: demonEffect }
  for (const name of ALL) {
    if (!ONLY.has(name)) continue
    process.stderr.write(`${name}\n`)
    res[name] = await sections[name]()
  }
  const meta = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}`,
    load: `${load0} at start, ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')} at end`,
    seconds: (performance.now() - started) / 1000,
  }
  writeResults(res, meta)
  console.log(markdown(res, meta))
  process.stderr.write(`done in ${meta.seconds.toFixed(0)} s\n`)
}

await main()
