#!/usr/bin/env node
// `islab serve` against redis-server, both driven by redis-benchmark (issue 18): PING, SET, GET,
// INCR, MSET, HSET with 50 clients, unpipelined (`-c 50`) and pipelined (`-c 50 -P 16`).
//
//   IsLabDB `--durability buffered`  vs  redis-server `appendfsync everysec`  (every test)
//   IsLabDB `--durability sync`      vs  redis-server `appendfsync always`    (the write tests)
//
// Each server is its own process on 127.0.0.1 and a free port, in a temp dir, started once and
// stopped at the end. For every (mode, test) the systems run one after the other, in an order
// that rotates, each after the servers went quiet (≤ 1 clock tick of CPU in 50 ms), so systems
// meet the shared machine within seconds of each other; a ratio is the median over rounds of
// the ratio within a round. Besides requests/s, each cell records the server's CPU time per
// request (utime + stime from /proc), which the machine's load disturbs much less.
//
// Run alone (`npm run build && node bench/serve.js [options]`) or as workload `serve` of
// `npm run bench`. Writes bench/results/serve.json and the serve section of bench/RESULTS.md.
// `--islab-dist before=path/to/dist` adds another build of IsLabDB (its buffered and sync
// servers) to the same run, for before/after comparisons on the same noisy machine.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { ensureRedis } from './setup.js'
import { gitDescribe, pick, writeSectionResults } from './lib/resultsSection.js'
import { freePort, rawPing } from './lib/loopback.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)

export const SERVE_TESTS = ['ping', 'set', 'get', 'incr', 'mset', 'hset']
/** Tests whose speed depends on durability: the only ones run on the durable pair. */
const WRITE_TESTS = new Set(['set', 'incr', 'mset', 'hset'])
const MODES = { c50: { clients: 50, pipeline: 1 }, P16: { clients: 50, pipeline: 16 } }

export const SERVE_DEFAULTS = { n: 15_000, pn: 150_000, durableN: 8_000, durablePn: 80_000, rounds: 3, keyspace: 100_000, hashFields: 100 }

/**
 * A 100-field hash for HSET: IsLabDB stores a hash as one Map value and writes the whole Map per
 * HSET (docs/server.md), so HSET's cost grows with the hash; redis-benchmark's HSET writes one
 * hash (`myhash`), and with the 100,000-key space it would grow to 100,000 fields.
 */
function keyspaceFor(test, opts) {
  return test === 'hset' ? opts.hashFields : opts.keyspace
}

/** MSET (ten keys each) and HSET (a whole-hash write each, see keyspaceFor) run fewer requests, to keep a run to a few minutes. */
const FEWER = { c50: { mset: 2, hset: 5 }, P16: { mset: 10, hset: 25 } }

function requests(test, mode, durable, opts) {
  const n = mode === 'c50' ? (durable ? opts.durableN : opts.n) : durable ? opts.durablePn : opts.pn
  return Math.max(100, Math.round(n / (FEWER[mode][test] ?? 1)))
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function cpuTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return Number(f[11]) + Number(f[12])
  } catch {
    return NaN
  }
}
const TICK_MS = 10 // USER_HZ = 100 on Linux

async function quiesce(pids, maxMs = 500) {
  const t0 = performance.now()
  const total = () => pids.reduce((a, p) => a + (cpuTicks(p) || 0), 0)
  let prev = total()
  for (;;) {
    await sleep(50)
    const cur = total()
    if (cur - prev <= 1 || performance.now() - t0 > maxMs) return
    prev = cur
  }
}


function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/** One server process under test. */
class Server {
  constructor(name, label, durable, argvFor) {
    this.name = name
    this.label = label
    this.durable = durable
    this.argvFor = argvFor
  }
  async start(tmp) {
    this.dir = path.join(tmp, this.name.replace(/[^a-z0-9@-]/gi, '_'))
    fs.mkdirSync(this.dir, { recursive: true })
    this.port = await freePort()
    const [cmd, ...args] = this.argvFor(this.dir, this.port)
    this.log = path.join(tmp, `${this.name.replace(/[^a-z0-9@-]/gi, '_')}.log`)
    const out = fs.openSync(this.log, 'w')
    this.proc = spawn(cmd, args, { stdio: ['ignore', out, out] })
    fs.closeSync(out)
    this.exited = new Promise((resolve) => this.proc.once('exit', resolve))
    this.proc.once('error', () => {})
    const t0 = performance.now()
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`${this.name} exited with ${this.proc.exitCode}: ${fs.readFileSync(this.log, 'utf8').slice(-500)}`)
      if ((await rawPing(this.port)) === '+PONG') break
      await sleep(20)
      if (performance.now() - t0 > 60_000) throw new Error(`${this.name} did not answer PING within 60 s`)
    }
  }
  /** SIGINT lets `islab serve` close the database (and write a --cpu-prof profile); Redis exits on SIGTERM. */
  async stop() {
    if (this.proc === undefined || this.proc.exitCode !== null) return
    this.proc.kill(this.name.startsWith('redis') ? 'SIGTERM' : 'SIGINT')
    const killed = await Promise.race([this.exited.then(() => false), sleep(30_000).then(() => true)])
    if (killed) this.proc.kill('SIGKILL')
  }
  kill() {
    if (this.proc !== undefined && this.proc.exitCode === null) this.proc.kill('SIGKILL')
  }
}

function parseCsv(text) {
  const rows = []
  for (const line of text.split('\n')) {
    const cells = line.trim().match(/"([^"]*)"/g)?.map((c) => c.slice(1, -1))
    if (!cells || cells[0] === 'test') continue
    rows.push({ test: cells[0], rps: Number(cells[1]), avgMs: Number(cells[2]), p50Ms: Number(cells[4]), p99Ms: Number(cells[6]) })
  }
  return rows
}

/** One redis-benchmark run of one test against one server: its CSV rows, with the server's CPU per request. */
async function benchmark(bin, server, test, mode, n, keyspace, timeoutMs) {
  const m = MODES[mode]
  const args = ['-h', '127.0.0.1', '-p', String(server.port), '-c', String(m.clients), '-P', String(m.pipeline), '-n', String(n), '-r', String(keyspace), '-t', test, '--csv']
  const ticks0 = cpuTicks(server.proc.pid)
  const t0 = performance.now()
  const out = await new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.once('error', reject)
    p.once('exit', (code, sig) => {
      clearTimeout(timer)
      if (code === 0) resolve(stdout)
      else reject(new Error(`redis-benchmark ${args.join(' ')} against ${server.name}: ${sig ?? code} ${stderr.slice(-300)}`))
    })
  })
  const wallMs = performance.now() - t0
  const cpuMs = (cpuTicks(server.proc.pid) - ticks0) * TICK_MS
  const rows = parseCsv(out)
  if (rows.length === 0) throw new Error(`redis-benchmark printed no result for ${test} against ${server.name}: ${out.slice(0, 300)}`)
  const total = rows.length * n
  return rows.map((r) => ({ ...r, cpuUsPerOp: (cpuMs * 1000) / total, wallMs }))
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Runs the comparison. `islabDists`: label → dist directory ('' is this checkout's build: the
 * columns without a suffix). Returns the results document (also written to bench/results).
 */
export async function runServeBench(options = {}) {
  const opts = { ...SERVE_DEFAULTS, tests: SERVE_TESTS, modes: Object.keys(MODES), islabDists: { '': path.join(REPO_DIR, 'dist') }, cpuProf: undefined, log: console.log, ...options }
  const log = opts.log
  ensureRedis(log)
  const redisBin = process.env.REDIS_SERVER || which('redis-server')
  const benchBin = which('redis-benchmark')
  const skipped = redisBin === undefined || benchBin === undefined ? `${redisBin === undefined ? 'redis-server' : 'redis-benchmark'} is not installed (Debian: bench/setup-redis.sh, or BENCH_SETUP_REDIS=1)` : undefined
  if (skipped !== undefined) {
    log(`serve: skipped: ${skipped}`)
    return { skipped }
  }
  const servers = []
  for (const [label, dist] of Object.entries(opts.islabDists)) {
    const main = path.join(path.resolve(dist), 'cli', 'main.js')
    if (!fs.existsSync(main)) throw new Error(`${main} is missing: run npm run build first`)
    const suffix = label === '' ? '' : `@${label}`
    for (const durability of ['buffered', 'sync']) {
      const name = `islab${durability === 'sync' ? '-sync' : ''}${suffix}`
      servers.push(
        new Server(name, `IsLabDB ${durability}${suffix ? ` (${label})` : ''}`, durability === 'sync', (dir, port) => {
          const prof = opts.cpuProf ? [`--cpu-prof`, `--cpu-prof-dir=${opts.cpuProf}`, `--cpu-prof-name=${name}.cpuprofile`] : []
          return [process.execPath, ...prof, main, 'serve', path.join(dir, 'data'), '--port', String(port), '--durability', durability]
        }),
      )
    }
  }
  for (const [fsync, durable] of [['everysec', false], ['always', true]]) {
    servers.push(
      new Server(`redis${durable ? '-always' : ''}`, `Redis ${fsync}`, durable, (dir, port) => [
        redisBin, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', fsync,
        '--save', '', '--auto-aof-rewrite-percentage', '0', '--daemonize', 'no', '--logfile', '',
      ]),
    )
  }
  const redisVersion = execFileSync(redisBin, ['--version'], { encoding: 'utf8' }).trim()
  const benchVersion = execFileSync(benchBin, ['--version'], { encoding: 'utf8' }).trim()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-serve-bench-'))
  const started = performance.now()
  const cells = {} // `${mode} ${testRow} ${server}` → samples
  const onSignal = (sig) => {
    for (const s of servers) s.kill()
    fs.rmSync(tmp, { recursive: true, force: true })
    process.kill(process.pid, sig)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    for (const s of servers) await s.start(tmp)
    const pids = servers.map((s) => s.proc.pid)
    let turn = 0
    for (let round = 0; round < opts.rounds; round++) {
      for (const mode of opts.modes) {
        for (const test of opts.tests) {
          for (const durable of [false, true]) {
            if (durable && !WRITE_TESTS.has(test)) continue
            const group = servers.filter((s) => s.durable === durable)
            const order = group.map((_, i) => group[(i + turn) % group.length])
            turn++
            for (const s of order) {
              await quiesce(pids)
              const n = requests(test, mode, durable, opts)
              const rows = await benchmark(benchBin, s, test, mode, n, keyspaceFor(test, opts), 300_000)
              for (const r of rows) {
                const key = `${mode} ${r.test} ${s.name}`
                const c = (cells[key] ??= { mode, test: r.test, server: s.name, rps: [], cpuUsPerOp: [], p50Ms: [], p99Ms: [] })
                c.rps.push(r.rps)
                c.cpuUsPerOp.push(r.cpuUsPerOp)
                c.p50Ms.push(r.p50Ms)
                c.p99Ms.push(r.p99Ms)
              }
            }
            log(
              `serve: round ${round + 1}/${opts.rounds} ${mode.padEnd(3)} ${test.padEnd(4)} ` +
                group.map((s) => `${s.name} ${fmtRate(cells[`${mode} ${rowName(test, cells, mode, s.name)} ${s.name}`]?.rps.at(-1))}`).join(', '),
            )
          }
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  const doc = {
    date: new Date().toISOString(),
    totalMs: performance.now() - started,
    machine: { cpu: os.cpus()[0]?.model ?? '?', cores: os.cpus().length, node: process.version, loadAvgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) },
    versions: { redis: redisVersion, redisBenchmark: benchVersion },
    git: gitDescribe(REPO_DIR),
    config: { ...pick(opts, ['n', 'pn', 'durableN', 'durablePn', 'rounds', 'keyspace', 'hashFields', 'tests', 'modes']), islabDists: Object.fromEntries(Object.entries(opts.islabDists).map(([k, v]) => [k, path.relative(REPO_DIR, path.resolve(v)) || '.'])) },
    servers: servers.map((s) => ({ name: s.name, label: s.label, durable: s.durable })),
    cells: Object.values(cells),
  }
  doc.ratios = ratios(doc)
  doc.targets = targets(doc)
  return doc
}

function rowName(test, cells, mode, server) {
  if (test !== 'ping') return test === 'mset' ? 'MSET (10 keys)' : test.toUpperCase()
  return cells[`${mode} PING_MBULK ${server}`] ? 'PING_MBULK' : 'PING_INLINE'
}

/** The pairs compared: IsLabDB build × (buffered vs everysec, sync vs always). */
function pairs(doc) {
  const out = []
  for (const s of doc.servers) {
    if (!s.name.startsWith('islab')) continue
    out.push({ islab: s.name, redis: s.durable ? 'redis-always' : 'redis' })
  }
  return out
}

/** Per-round ratios IsLabDB ÷ Redis, and their median, per (mode, test, pair). */
function ratios(doc) {
  const byKey = new Map(doc.cells.map((c) => [`${c.mode} ${c.test} ${c.server}`, c]))
  const out = []
  for (const { islab, redis } of pairs(doc)) {
    for (const c of doc.cells) {
      if (c.server !== islab) continue
      const r = byKey.get(`${c.mode} ${c.test} ${redis}`)
      if (r === undefined) continue
      const perRound = c.rps.map((x, i) => x / r.rps[i])
      out.push({ mode: c.mode, test: c.test, islab, redis, ratio: median(perRound), perRound, cpuRatio: median(c.cpuUsPerOp) / median(r.cpuUsPerOp) })
    }
  }
  return out
}

function targets(doc) {
  const find = (mode, test, islab) => doc.ratios.find((r) => r.mode === mode && r.test === test && r.islab === islab)
  const list = [
    ['unpipelined SET (-c 50)', 'c50', 'SET', 'islab', 0.8, 'Redis everysec'],
    ['unpipelined GET (-c 50)', 'c50', 'GET', 'islab', 0.8, 'Redis everysec'],
    ['pipelined SET (-c 50 -P 16)', 'P16', 'SET', 'islab', 0.5, 'Redis everysec'],
    ['pipelined GET (-c 50 -P 16)', 'P16', 'GET', 'islab', 0.5, 'Redis everysec'],
    ['durable SET, 50 clients (-c 50)', 'c50', 'SET', 'islab-sync', 1.5, 'Redis always'],
  ]
  return list.map(([name, mode, test, islab, target, vs]) => {
    const r = find(mode, test, islab)
    return { name, vs, target, ratio: r?.ratio, pass: r !== undefined && r.ratio >= target }
  })
}

export function fmtRate(x) {
  if (!Number.isFinite(x)) return '—'
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)}k`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  return x.toFixed(0)
}

const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—')
const fmtCpu = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—')

/** The markdown section (between the serve markers) of bench/RESULTS.md. */
export function serveMarkdown(doc) {
  const lines = ['<!-- serve:start -->', '## `islab serve` vs redis-server (redis-benchmark; `node bench/serve.js`, part of `npm run bench`)', '']
  lines.push('<!-- Generated by bench/serve.js; everything between the serve markers is overwritten. -->', '')
  if (doc.skipped) {
    lines.push(`Skipped: ${doc.skipped}.`, '<!-- serve:end -->')
    return lines.join('\n')
  }
  const c = doc.config
  lines.push(
    `${doc.date}, git ${doc.git}; ${doc.machine.cpu}, ${doc.machine.cores} cores, Node ${doc.machine.node}; ${doc.versions.redis.replace(/^Redis server v=(\S+).*$/, 'redis-server $1')}, ${doc.versions.redisBenchmark}; ` +
      `load average ${doc.machine.loadAvgAtEnd.join(' / ')} at the end; ${(doc.totalMs / 1000).toFixed(0)} s.`,
    '',
    `\`redis-benchmark -c 50 [-P 16] -r ${c.keyspace} -t <test> --csv\`, one test per run (HSET: \`-r ${c.hashFields}\`, one hash of up to ${c.hashFields} fields, see below), ` +
      `-n ${c.n} unpipelined / ${c.pn} with -P 16 (durable pair ${c.durableN} / ${c.durablePn}; MSET ÷ 2 / ÷ 10, HSET ÷ 5 / ÷ 25), ${c.rounds} rounds; medians. ` +
      'Each server is its own process on loopback; every (mode, test) runs the systems back to back in a rotating order after the servers went idle. ' +
      'The ratio is IsLabDB ÷ Redis, the median of the per-round ratios. CPU µs/req is the server process\'s utime + stime per request (10 ms ticks), which the machine\'s load disturbs less than req/s. ' +
      'The durable pair (IsLabDB `--durability sync`, Redis `appendfsync always`) runs the write tests only.',
    '',
  )
  const byKey = new Map(doc.cells.map((x) => [`${x.mode} ${x.test} ${x.server}`, x]))
  const islabs = doc.servers.filter((s) => s.name.startsWith('islab'))
  for (const mode of c.modes) {
    lines.push(`### ${mode === 'c50' ? '50 clients, unpipelined (`-c 50`)' : '50 clients, pipelines of 16 (`-c 50 -P 16`)'}`, '')
    const cols = []
    for (const s of islabs) cols.push({ islab: s, redis: doc.servers.find((r) => r.name === (s.durable ? 'redis-always' : 'redis')) })
    const head = ['test']
    for (const { islab, redis } of cols) head.push(`${islab.label} req/s`, `${redis.label} req/s`, 'ratio', 'CPU µs/req IsLabDB / Redis')
    lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`)
    const tests = [...new Set(doc.cells.filter((x) => x.mode === mode).map((x) => x.test))]
    for (const test of tests) {
      const row = [test]
      for (const { islab, redis } of cols) {
        const a = byKey.get(`${mode} ${test} ${islab.name}`)
        const b = byKey.get(`${mode} ${test} ${redis.name}`)
        if (a === undefined || b === undefined) {
          row.push('', '', '', '')
          continue
        }
        const r = doc.ratios.find((x) => x.mode === mode && x.test === test && x.islab === islab.name)
        const ratio = fmtRatio(r?.ratio)
        row.push(fmtRate(median(a.rps)), fmtRate(median(b.rps)), r && r.ratio < 1 ? `_${ratio}_` : ratio, `${fmtCpu(median(a.cpuUsPerOp))} / ${fmtCpu(median(b.cpuUsPerOp))}`)
      }
      lines.push(`| ${row.join(' | ')} |`)
    }
    lines.push('')
  }
  lines.push('### Targets (issue 18)', '')
  for (const t of doc.targets) lines.push(`- **${t.pass ? 'PASS' : 'MISS'}** — ${t.name}: IsLabDB ÷ ${t.vs} = ${fmtRatio(t.ratio)} (target ≥ ${t.target}×).`)
  lines.push('', 'Raw numbers: `bench/results/serve.json`. Profiles and next steps: the notes after this section.', '<!-- serve:end -->')
  return lines.join('\n')
}

export function writeServeResults(doc, { partial = false } = {}) {
  return writeSectionResults(BENCH_DIR, 'serve', doc, serveMarkdown, { partial })
}

export function printServe(doc, log = console.log) {
  if (doc.skipped) return
  for (const r of doc.ratios) {
    const a = doc.cells.find((x) => x.mode === r.mode && x.test === r.test && x.server === r.islab)
    const b = doc.cells.find((x) => x.mode === r.mode && x.test === r.test && x.server === r.redis)
    log(
      `${r.mode.padEnd(3)} ${r.test.padEnd(14)} ${r.islab.padEnd(18)} ${fmtRate(median(a.rps)).padStart(6)} req/s (${fmtCpu(median(a.cpuUsPerOp))} µs CPU) vs ${r.redis.padEnd(12)} ${fmtRate(median(b.rps)).padStart(6)} (${fmtCpu(median(b.cpuUsPerOp))} µs): ${fmtRatio(r.ratio)}`,
    )
  }
  for (const t of doc.targets) log(`${t.pass ? 'PASS' : 'MISS'} ${t.name}: ${fmtRatio(t.ratio)} (≥ ${t.target}× ${t.vs})`)
}

const USAGE = `usage: node bench/serve.js [options]   (npm run build first)
  --n <k>             requests per unpipelined run (default ${SERVE_DEFAULTS.n})
  --pn <k>            requests per pipelined run (default ${SERVE_DEFAULTS.pn})
  --durable-n <k>     the same for the durable pair (default ${SERVE_DEFAULTS.durableN})
  --durable-pn <k>    (default ${SERVE_DEFAULTS.durablePn})
  --rounds <k>        rounds; medians are reported (default ${SERVE_DEFAULTS.rounds})
  --tests <a,b>       ${SERVE_TESTS.join(',')} (default: all; a subset writes serve-partial.json only)
  --modes <a,b>       c50,P16 (default: both)
  --islab-dist <label=dir>  also run another IsLabDB build (repeatable), e.g. before=.tmp/dist-before
  --cpu-prof <dir>    run the IsLabDB servers under node --cpu-prof, profiles into <dir>`

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: v } = parseArgs({
    options: {
      n: { type: 'string' },
      pn: { type: 'string' },
      'durable-n': { type: 'string' },
      'durable-pn': { type: 'string' },
      rounds: { type: 'string' },
      tests: { type: 'string' },
      modes: { type: 'string' },
      'islab-dist': { type: 'string', multiple: true },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (v.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const num = (x, d) => (x === undefined ? d : Math.max(1, Math.floor(Number(x))))
  const tests = v.tests ? v.tests.split(',').map((t) => t.trim().toLowerCase()) : SERVE_TESTS
  for (const t of tests) if (!SERVE_TESTS.includes(t)) throw new Error(`unknown test '${t}' (known: ${SERVE_TESTS.join(', ')})`)
  const modes = v.modes ? v.modes.split(',').map((m) => m.trim()) : Object.keys(MODES)
  for (const m of modes) if (!(m in MODES)) throw new Error(`unknown mode '${m}' (known: ${Object.keys(MODES).join(', ')})`)
  const islabDists = { '': path.join(REPO_DIR, 'dist') }
  for (const spec of v['islab-dist'] ?? []) {
    const eq = spec.indexOf('=')
    if (eq <= 0) throw new Error(`--islab-dist wants label=dir, not '${spec}'`)
    islabDists[spec.slice(0, eq)] = spec.slice(eq + 1)
  }
  const opts = {
    n: num(v.n, SERVE_DEFAULTS.n),
    pn: num(v.pn, SERVE_DEFAULTS.pn),
    durableN: num(v['durable-n'], SERVE_DEFAULTS.durableN),
    durablePn: num(v['durable-pn'], SERVE_DEFAULTS.durablePn),
    rounds: num(v.rounds, SERVE_DEFAULTS.rounds),
    tests,
    modes,
    islabDists,
    cpuProf: v['cpu-prof'] ? path.resolve(v['cpu-prof']) : undefined,
  }
  const doc = await runServeBench(opts)
  printServe(doc)
  const partial = tests.length !== SERVE_TESTS.length || modes.length !== 2 || Object.keys(islabDists).length > 1
  const written = writeServeResults(doc, { partial })
  console.log(`wrote ${written.map((f) => path.relative(REPO_DIR, f)).join(', ')}`)
}
