#!/usr/bin/env node
// How fast the real `islab` binary reads a log: `islab verify` and `islab dump` (to /dev/null
// and through a pipe) on a log of N events (default 1,000,000), timed end to end as a user
// runs them, process start included. Not part of `npm run bench`; run it alone:
//   npm run build && node bench/cli-throughput.js [--n 1000000] [--runs 5] [--keep]
// The log is written once to os.tmpdir() (about 150 MB for 1M events) and removed at the end
// unless --keep. Values are the ~110-byte records of bench/lib/data.js, keys 16 characters.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { makeKey, makeValue } from './lib/data.js'

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const BIN = path.join(ROOT, 'dist/cli/main.js')
const { values: opts } = parseArgs({
  options: { n: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '5' }, keep: { type: 'boolean' }, dir: { type: 'string' } },
})
const N = Number(opts.n)
const RUNS = Number(opts.runs)

const { open } = await import(path.join(ROOT, 'dist/index.js'))
const dir = opts.dir ?? path.join(os.tmpdir(), `islab-cli-bench-${N}`)
if (!fs.existsSync(path.join(dir, '00000000000000000001.wal'))) {
  fs.rmSync(dir, { recursive: true, force: true })
  const t = performance.now()
  const db = await open({ dir, checkpoint: false })
  const KEYS = Math.min(N, 100_000)
  const keys = Array.from({ length: KEYS }, (_, i) => makeKey(i))
  for (let i = 0; i < N; i++) {
    void db.put(keys[i % KEYS], makeValue(i))
    if (i % 50_000 === 49_999) await db.flush()
  }
  await db.close()
  console.log(`wrote ${N.toLocaleString('en-US')} events to ${dir} in ${((performance.now() - t) / 1000).toFixed(1)} s`)
}
const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
console.log(`log: ${N.toLocaleString('en-US')} events, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${fs.readdirSync(dir).length} files`)
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`)

// dump formats on worker threads when cores are idle (cores minus load average); the last two
// rows force one thread and two workers.
const cases = [
  ['verify', `node dist/cli/main.js verify ${dir} > /dev/null`],
  ['dump > /dev/null', `node dist/cli/main.js dump ${dir} > /dev/null`],
  ['dump | wc -c', `node dist/cli/main.js dump ${dir} | wc -c > /dev/null`],
  ['dump, 1 thread', `ISLAB_WORKERS=0 node dist/cli/main.js dump ${dir} > /dev/null`],
  ['dump, 2 workers', `ISLAB_WORKERS=2 node dist/cli/main.js dump ${dir} > /dev/null`],
]
const results = []
for (const [name, cmd] of cases) {
  const times = []
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now()
    const p = spawnSync('bash', ['-c', `set -o pipefail; ${cmd}`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
    const s = (performance.now() - t) / 1000
    if (p.status !== 0 && !(name === 'verify' && p.status === 1)) throw new Error(`${cmd} exited ${p.status}`)
    times.push(s)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]
  results.push({ name, median, best: times[0], worst: times.at(-1) })
  console.log(
    `${name.padEnd(18)} median ${median.toFixed(2)} s = ${(N / median / 1e6).toFixed(2)} M events/s ` +
      `(best ${(N / times[0] / 1e6).toFixed(2)}, worst ${(N / times.at(-1) / 1e6).toFixed(2)}; ${RUNS} runs)`,
  )
}
const bytesOut = Number(execFileSync('bash', ['-c', `node ${BIN} dump ${dir} | wc -c`]).toString().trim())
console.log(`dump output: ${(bytesOut / 2 ** 20).toFixed(1)} MiB of NDJSON (${Math.round(bytesOut / N)} bytes per event)`)
if (!opts.keep && opts.dir === undefined) fs.rmSync(dir, { recursive: true, force: true })
