#!/usr/bin/env node
// The write path's numbers from issue 16, in one run against the built dist/ (npm run build first):
// bulk load (puts not awaited one by one, Promise.all per 1000, keys built per call, ~100-byte
// values, random order), awaited single puts, durable puts in sync mode with 1 and 64 closed-loop
// writers, the raw rate of a 4 KiB append + fdatasync in the same directory, and lmdb-js's bulk
// load for the ratio. Prints wall rate and process CPU per op (steadier on a shared machine),
// medians of the rounds, and the load average.
//   node --expose-gc bench/write-path.js [--rounds 3] [--n 200000] [--secs 2] [--dir <tmp root>] [--dist <dir>]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i < 0 ? dflt : args[i + 1]
}
const ROUNDS = Number(opt('rounds', 3))
const N = Number(opt('n', 200_000))
const SECS = Number(opt('secs', 2))
const ROOT = opt('dir', os.tmpdir())
const DIST = path.resolve(opt('dist', new URL('../dist', import.meta.url).pathname))
const { open } = await import(pathToFileURL(path.join(DIST, 'index.js')).href)
const gc = globalThis.gc ?? (() => {})

const FIRST = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'ken', 'dennis', 'margaret', 'linus', 'donald']
const TAGS = ['alpha', 'beta', 'gamma', 'delta', 'eps']
function makeValue(i) {
  const first = FIRST[i % FIRST.length]
  return { id: i, name: `${first} #${i}`, email: `${first}.${i}@example.com`, active: (i & 1) === 0, score: (i % 1000) / 8, tags: [TAGS[i % 5], TAGS[(i + 2) % 5]], createdAt: 1_700_000_000 + i }
}
let seed = 12345
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296
const order = Array.from({ length: N }, (_, i) => i)
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1))
  ;[order[i], order[j]] = [order[j], order[i]]
}
const tmp = () => fs.mkdtempSync(path.join(ROOT, 'islab-wp-'))
const cpuUs = (c) => c.user + c.system

/** Runs `body` once, timed; returns { rate, cpu } for `ops` operations (ops may be a function of the result). */
async function timed(body) {
  gc()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const ops = await body()
  const ms = performance.now() - t0
  return { rate: ops / (ms / 1000), cpu: cpuUs(process.cpuUsage(c0)) / ops }
}

async function bulk() {
  // Fresh value objects each round: every put is the first touch of its value, as in an application.
  const values = Array.from({ length: N }, (_, i) => makeValue(i))
  const dir = tmp()
  const db = await open({ dir, durability: 'buffered', checkpoint: false })
  const r = await timed(async () => {
    for (let i = 0; i < N; i += 1000) {
      const end = Math.min(N, i + 1000)
      const ps = new Array(end - i)
      for (let k = i; k < end; k++) ps[k - i] = db.put('user:' + order[k], values[order[k]])
      await Promise.all(ps)
    }
    await db.flush()
    return N
  })
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return r
}

async function lmdbBulk() {
  let lmdb
  try {
    lmdb = await import('lmdb')
  } catch {
    return undefined
  }
  const values = Array.from({ length: N }, (_, i) => makeValue(i))
  const dir = tmp()
  const db = lmdb.open({ path: dir })
  const r = await timed(async () => {
    let last
    for (let i = 0; i < N; i++) last = db.put('user:' + order[i], values[order[i]])
    await last
    await db.flushed
    return N
  })
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return r
}

async function awaited() {
  const values = Array.from({ length: N }, (_, i) => makeValue(i))
  const dir = tmp()
  const db = await open({ dir, durability: 'buffered', checkpoint: false })
  const r = await timed(async () => {
    for (let i = 0; i < N; i++) await db.put('user:' + order[i], values[order[i]])
    await db.flush()
    return N
  })
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return r
}

async function durable(writers) {
  const M = 20_000
  const values = Array.from({ length: M }, (_, i) => makeValue(i))
  const dir = tmp()
  const db = await open({ dir, durability: 'sync', checkpoint: false })
  let next = 0
  const run = async (secs) => {
    let ops = 0
    const deadline = performance.now() + secs * 1000
    const writer = async () => {
      while (performance.now() < deadline) {
        const j = next++ % M
        await db.put('user:' + j, values[j])
        ops++
      }
    }
    await Promise.all(Array.from({ length: writers }, writer))
    return ops
  }
  await run(0.3)
  const r = await timed(() => run(SECS))
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return r
}

function fsyncRate() {
  const dir = tmp()
  const fd = fs.openSync(path.join(dir, 'f'), 'a')
  const b = Buffer.alloc(4096, 1)
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < SECS * 1000) {
    fs.writeSync(fd, b)
    fs.fdatasyncSync(fd)
    n++
  }
  const rate = n / ((performance.now() - t0) / 1000)
  fs.closeSync(fd)
  fs.rmSync(dir, { recursive: true, force: true })
  return { rate, cpu: 0 }
}

const WORKLOADS = { bulk, lmdbBulk, awaited, sync1: () => durable(1), sync64: () => durable(64), fsync: fsyncRate }
const results = Object.fromEntries(Object.keys(WORKLOADS).map((k) => [k, []]))
await bulk() // warm-up of the put path
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(WORKLOADS)) {
    const x = await fn()
    if (x !== undefined) results[name].push(x)
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const rate = (name) => (results[name].length === 0 ? NaN : median(results[name].map((x) => x.rate)))
for (const [name, xs] of Object.entries(results)) {
  if (xs.length === 0) continue
  const cpu = median(xs.map((x) => x.cpu))
  console.log(`${name.padEnd(9)} ${Math.round(rate(name)).toLocaleString('en').padStart(9)}/s${cpu > 0 ? `  ${cpu.toFixed(2)} µs CPU/op` : ''}  (rounds: ${xs.map((x) => Math.round(x.rate)).join(', ')})`)
}
console.log(`bulk ÷ lmdb-js bulk: ${(rate('bulk') / rate('lmdbBulk')).toFixed(2)}×`)
console.log(`sync64 ÷ (64 × fdatasync rate): ${((100 * rate('sync64')) / (64 * rate('fsync'))).toFixed(0)}%; sync1 ÷ fdatasync rate: ${(rate('sync1') / rate('fsync')).toFixed(2)}×`)
console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
