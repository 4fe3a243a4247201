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

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)

const WORKLOADS = ['baseline', 'buffered', 'memory', 'get', 'fsync', 'sync1', 'sync64', 'replay']
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
      case '--help':
      case '-h':
        console.log(USAGE)
        process.exit(0)
        break
      default:
        throw new UsageError(`unknown argument '${argv[i]}'\n${USAGE}`)
    }
  }
  return o
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

  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'islabdb-bench-'))
  const cleanup = () => fs.rmSync(tmpRoot, { recursive: true, force: true })
  const onSignal = (sig) => {
    cleanup()
    process.kill(process.pid, sig)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const results = {}
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
  } finally {
    cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  const totalMs = now() - started
  const rows = buildRows(results)
  const targets = buildTargets(results)
  printTable(rows, targets)

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
    },
    results,
    rows,
    targets,
    // For bench/profile-summary.js --windows <this file> --window <label>.
    windows,
  }
  const written = writeJson(path.join(BENCH_DIR, 'results'), doc, { latest: full })
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
