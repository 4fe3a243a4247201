#!/usr/bin/env node
// IsLabDB benchmark. Run with `npm run bench` (builds first) or `node bench/run.js [options]`.
// See bench/README.md for what each workload measures.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeKeys, makeValues } from './lib/data.js'
import { fmtInt, gc, now, windows } from './lib/measure.js'
import { buildRows, buildTargets, machineInfo, printTable, writeJson, writeResultsMd } from './lib/report.js'
import { runDisk, runGets, runPuts, runReplay } from './lib/workloads.js'
import { peerChartSvg } from './lib/chart.js'
import { profileMisses } from './lib/peers/profile.js'
import { peerInfo, peerTargets, printPeerTables, printPeerTargets } from './lib/peers/report.js'
import { runPeers } from './lib/peers/run.js'
import { SYSTEMS } from './lib/peers/systems.js'
import { printServe, runServeBench, writeServeResults } from './serve.js'
import { printReplication, runReplicationBench, writeReplicationResults } from './replication.js'
import { ensureBenchDeps, ensureRedis } from './setup.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)

const WORKLOADS = ['baseline', 'buffered', 'memory', 'get', 'fsync', 'sync1', 'sync64', 'replay', 'peers', 'serve', 'replication']
const VALUE_KINDS = ['100', '4k']
const ALIASES = { sync: ['sync1', 'sync64'], put: ['baseline', 'buffered', 'memory'], puts: ['baseline', 'buffered', 'memory'] }

const USAGE = `usage: node bench/run.js [options]
  --n <count>            keys to load (default 200000)
  --only <name,...>      run a subset: ${WORKLOADS.join(', ')}
                         (aliases: sync = sync1,sync64; put = baseline,buffered,memory)
  --rounds <k>           rounds of each CPU-bound workload and of replay; the median is reported (default 5)
  --lookups <count>      lookups per pass in the get workload (default 2000000)
  --chunk <count>        puts per Promise.all when bulk loading (default 1000)
  --sync-seconds <s>     timed seconds of each sync-put workload, split over the disk rounds (default 3)
  --fsync-seconds <s>    total seconds of raw fdatasync probing, split over the probes (default 2)
  --disk-rounds <k>      rounds of [fsync probe, sync ×1, sync ×64] (default 3)
peer comparison (workload 'peers'; see bench/README.md):
  --systems <name,...>   ${SYSTEMS.join(', ')} (default: all; Redis is skipped when redis-server is missing)
  --values <kind,...>    value sizes: 100 (~110-byte records), 4k (~4 KiB records) (default: both)
  --n4k <count>          keys for 4 KiB values (default: n / 16)
  --peer-seconds <s>     timed seconds per system and round of each get/YCSB workload; range gets half (default 0.3)
  --peer-rounds <k>      rounds of each get/YCSB/range workload; each system keeps its best (default 2)
  --peer-durable-seconds <s>  timed seconds per system of each durable-put workload (default 1)
  --peer-clients <k>     concurrent client loops for YCSB, range and async gets (default 64)
  --peer-pause-ms <ms>   pause between a load and its first pass of gets, for background ticks (default 200)
  --no-profile           do not re-run missed IsLabDB workloads under --cpu-prof after a full run
workload 'serve': redis-benchmark against islab serve and redis-server (bench/serve.js; its
  own options: node bench/serve.js --help); writes bench/results/serve.json and its RESULTS.md section
workload 'replication': replication through a nats-server (bench/replication.js; its own options:
  node bench/replication.js --help); writes bench/results/replication.json and its RESULTS.md section
  --help
A run with --only writes bench/results/<date>-partial.json only; a full run also
rewrites bench/results/latest.json and bench/RESULTS.md.`

class UsageError extends Error {}

function parseArgs(argv) {
  const o = {
    n: 200_000,
    only: undefined,
    rounds: 5,
    lookups: 2_000_000,
    chunk: 1000,
    syncSeconds: 3,
    syncWarmSeconds: 0.2,
    diskRounds: 3,
    fsyncSeconds: 2,
    peerSystems: [...SYSTEMS],
    peerValues: [...VALUE_KINDS],
    n4k: undefined,
    peerSeconds: 0.3,
    peerRounds: 2,
    peerDurableSeconds: 1,
    peerClients: 64,
    peerPauseMs: 200,
    peerFsyncSeconds: 0.3,
    profile: true,
  }
  const num = (name, v, min) => {
    const x = Number(v)
    if (!Number.isFinite(x) || x < min) throw new UsageError(`${name} must be a number ≥ ${min}, got ${v}`)
    return x
  }
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]
    let v
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1)
      a = a.slice(0, eq)
    }
    const val = () => {
      if (v !== undefined) return v
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--n':
        o.n = Math.floor(num('--n', val(), 1))
        break
      case '--only': {
        const names = new Set()
        for (const raw of val().split(',').map((s) => s.trim()).filter(Boolean)) {
          const expanded = ALIASES[raw] ?? [raw]
          for (const x of expanded) {
            if (!WORKLOADS.includes(x)) throw new UsageError(`unknown workload '${raw}' (known: ${WORKLOADS.join(', ')})`)
            names.add(x)
          }
        }
        o.only = names
        break
      }
      case '--rounds':
        o.rounds = Math.floor(num('--rounds', val(), 1))
        break
      case '--lookups':
        o.lookups = Math.floor(num('--lookups', val(), 1))
        break
      case '--chunk':
        o.chunk = Math.floor(num('--chunk', val(), 1))
        break
      case '--sync-seconds':
        o.syncSeconds = num('--sync-seconds', val(), 0.1)
        break
      case '--fsync-seconds':
        o.fsyncSeconds = num('--fsync-seconds', val(), 0.1)
        break
      case '--disk-rounds':
        o.diskRounds = Math.floor(num('--disk-rounds', val(), 1))
        break
      case '--systems': {
        const names = val().split(',').map((x) => x.trim()).filter(Boolean)
        for (const x of names) if (!SYSTEMS.includes(x)) throw new UsageError(`unknown system '${x}' (known: ${SYSTEMS.join(', ')})`)
        o.peerSystems = SYSTEMS.filter((x) => names.includes(x))
        break
      }
      case '--values': {
        const kinds = val().split(',').map((x) => x.trim().toLowerCase().replace(/^4kib$/, '4k').replace(/^100b?$/, '100'))
        for (const x of kinds) if (!VALUE_KINDS.includes(x)) throw new UsageError(`unknown value size '${x}' (known: ${VALUE_KINDS.join(', ')})`)
        o.peerValues = VALUE_KINDS.filter((x) => kinds.includes(x))
        break
      }
      case '--n4k':
        o.n4k = Math.floor(num('--n4k', val(), 1))
        break
      case '--peer-seconds':
        o.peerSeconds = num('--peer-seconds', val(), 0.05)
        break
      case '--peer-durable-seconds':
        o.peerDurableSeconds = num('--peer-durable-seconds', val(), 0.05)
        break
      case '--peer-rounds':
        o.peerRounds = Math.floor(num('--peer-rounds', val(), 1))
        break
      case '--peer-clients':
        o.peerClients = Math.floor(num('--peer-clients', val(), 1))
        break
      case '--peer-pause-ms':
        o.peerPauseMs = num('--peer-pause-ms', val(), 0)
        break
      case '--no-profile':
        o.profile = false
        break
      case '--help':
      case '-h':
        console.log(USAGE)
        process.exit(0)
        break
      default:
        throw new UsageError(`unknown argument '${argv[i]}'\n${USAGE}`)
    }
  }
  if (o.n4k === undefined) o.n4k = Math.max(1, Math.round(o.n / 16))
  return o
}

/**
 * The peer run needs the bench package (bench/package.json: lmdb, classic-level, better-sqlite3,
 * ioredis) and redis-server: install what is missing first (bench/setup.js).
 */
function setupPeers(which, opts) {
  if (!which.has('peers')) return
  if (opts.peerSystems.some((s) => !['map', 'islab'].includes(s))) ensureBenchDeps()
  if (opts.peerSystems.includes('redis')) ensureRedis()
}

function commandLine(argv) {
  const args = argv.join(' ')
  const flags = process.execArgv.length ? `${process.execArgv.join(' ')} ` : ''
  if (process.env.npm_lifecycle_event === 'bench' && !flags) return `npm run bench${args ? ` -- ${args}` : ''}`
  return `node ${flags}bench/run.js${args ? ` ${args}` : ''}`
}

async function main() {
  const argv = process.argv.slice(2)
  const opts = parseArgs(argv)
  const which = opts.only ?? new Set(WORKLOADS)
  const full = opts.only === undefined
  const started = now()
  const date = new Date().toISOString()
  const machine = machineInfo(REPO_DIR)
  console.log(`IsLabDB bench — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadAvgAtStart.join(' ')}`)
  console.log(`N = ${fmtInt(opts.n)}, rounds = ${opts.rounds}, workloads: ${WORKLOADS.filter((w) => which.has(w)).join(', ')}`)
  setupPeers(which, opts)

  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'islabdb-bench-'))
  const cleanup = () => fs.rmSync(tmpRoot, { recursive: true, force: true })
  const onSignal = (sig) => {
    cleanup()
    process.kill(process.pid, sig)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const results = {}
  let peerResults
  let targetsPeers = []
  let profiles = {}
  try {
    const ctx = { ...opts, tmpRoot, keys: makeKeys(opts.n), values: makeValues(opts.n), loadedDir: undefined }

    if (which.has('baseline') || which.has('buffered') || which.has('memory')) {
      console.log('\n1–3  bulk load')
      await runPuts(ctx, which, results)
      gc()
    }
    if (which.has('get')) {
      console.log('\n4    point lookups')
      await runGets(ctx, results)
      gc()
    }
    if (['fsync', 'sync1', 'sync64'].some((w) => which.has(w))) {
      console.log('\n5–6  raw fdatasync rate and sync-mode puts, interleaved')
      await runDisk(ctx, which, results)
      gc()
    }
    if (which.has('replay')) {
      console.log('\n7    replay')
      await runReplay(ctx, results)
    }
    if (which.has('peers')) {
      await runPeers(ctx, results)
      peerResults = results.peers
      targetsPeers = peerTargets(results.peers, results)
      if (opts.profile && full) profiles = await profileMisses(ctx, targetsPeers, path.join(BENCH_DIR, 'results'), date.replace(/[:.]/g, '-'))
    }
    if (which.has('serve')) {
      console.log('\n9    islab serve vs redis-server (redis-benchmark)')
      results.serve = await runServeBench({ islabDists: { '': path.join(REPO_DIR, 'dist') } })
    }
    if (which.has('replication')) {
      console.log('\n10   replication through NATS JetStream (nats-server)')
      results.replication = await runReplicationBench({ dist: path.join(REPO_DIR, 'dist') })
    }
  } finally {
    cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  const totalMs = now() - started
  const rows = buildRows(results)
  const targets = buildTargets(results)
  if (rows.length > 0) printTable(rows, targets)
  const info = peerResults ? peerInfo(peerResults, results) : []
  if (peerResults) {
    printPeerTables(peerResults)
    printPeerTargets(targetsPeers, info)
  }

  const doc = {
    date,
    command: commandLine(argv),
    totalMs,
    loadAvgAtEnd: os.loadavg().map((x) => +x.toFixed(2)),
    machine,
    config: {
      n: opts.n,
      rounds: opts.rounds,
      lookups: opts.lookups,
      chunk: opts.chunk,
      syncSeconds: opts.syncSeconds,
      fsyncSeconds: opts.fsyncSeconds,
      diskRounds: opts.diskRounds,
      workloads: WORKLOADS.filter((w) => which.has(w)),
      peers: which.has('peers')
        ? { systems: opts.peerSystems, values: opts.peerValues, n4k: opts.n4k, seconds: opts.peerSeconds, rounds: opts.peerRounds, durableSeconds: opts.peerDurableSeconds, clients: opts.peerClients, fsyncSeconds: opts.peerFsyncSeconds, pauseMs: opts.peerPauseMs }
        : undefined,
    },
    results,
    rows,
    targets,
    peerTargets: targetsPeers,
    peerInfo: info,
    profiles,
    // For bench/profile-summary.js --windows <this file> --window <label>.
    windows,
  }
  if (results.serve) printServe(results.serve)
  if (results.replication) printReplication(results.replication)
  const written = writeJson(path.join(BENCH_DIR, 'results'), doc, { latest: full })
  // Its own JSON and RESULTS.md section (below the notes marker, which writeResultsMd keeps).
  if (results.serve) written.push(...writeServeResults(results.serve, { partial: !full }))
  if (results.replication) written.push(...writeReplicationResults(results.replication, { partial: !full }))
  if (peerResults) {
    // Charts: one per value size (rewritten by full runs only, like RESULTS.md).
    const meta = { date: doc.date, command: doc.command, machine: `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}` }
    for (const kind of Object.keys(peerResults.kinds)) {
      const svg = peerChartSvg(peerResults, kind, meta)
      const name = `chart-${kind === '4k' ? '4k' : '100b'}${full ? '' : '-partial'}.svg`
      const f = path.join(BENCH_DIR, 'results', name)
      fs.writeFileSync(f, svg)
      written.push(f)
    }
  }
  if (full) {
    const md = path.join(BENCH_DIR, 'RESULTS.md')
    writeResultsMd(md, doc, rows, targets)
    written.push(md)
  }
  console.log(`wrote ${written.map((f) => path.relative(REPO_DIR, f)).join(', ')} (total ${(totalMs / 1000).toFixed(1)} s)`)
  if (process.execArgv.some((a) => a.startsWith('--cpu-prof'))) {
    console.log(`profile only the timed loops: node bench/profile-summary.js <file.cpuprofile> --windows ${path.relative(REPO_DIR, written[0])} [--window <label>]`)
  }
}

main().catch((err) => {
  if (err instanceof UsageError) {
    console.error(`bench: ${err.message}`)
    process.exitCode = 2
    return
  }
  console.error(err instanceof Error ? err.stack : err)
  process.exitCode = 1
})
