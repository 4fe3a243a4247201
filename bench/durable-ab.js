#!/usr/bin/env node
// Durable puts (sync mode, `await db.put`) of two or more builds, alternated in the same run, each
// round bracketed by the disk's raw rates: the bench's fdatasync probe (writeSync 100 B +
// fdatasyncSync, as bench/lib/workloads.js measureFsync) and, for comparison, an O_DSYNC write
// through Node's async fs API (what the WAL must call when it does not block the event loop).
// Every build runs in its own child process per round; the report gives medians of the rounds
// and each build's rate ÷ the mean of the probes before and after it (the issue 16 ratios).
//   node --expose-gc bench/durable-ab.js [--rounds 7] [--secs 1] [--writers 1,64] <dist> [<dist> ...]
// e.g. node --expose-gc bench/durable-ab.js ../durable-base/dist dist
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = args[i + 1]
  args.splice(i, 2)
  return v
}

const ROUNDS = Number(opt('rounds', 7))
const SECS = Number(opt('secs', 1))
const WRITERS = opt('writers', '1,64').split(',').map(Number)
const PROBE_SECS = Number(opt('probe-secs', 0.3))
const DISTS = args.length > 0 ? args : ['dist']
const self = fileURLToPath(import.meta.url)
const now = () => performance.now()

const FIRST = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'ken', 'dennis', 'margaret', 'linus', 'donald']
function makeValue(i) {
  const first = FIRST[i % FIRST.length]
  return { id: i, name: `${first} #${i}`, email: `${first}.${i}@example.com`, active: (i & 1) === 0, score: (i % 1000) / 8, createdAt: 1_700_000_000 + i }
}

/** k closed-loop writers, each awaiting its own durable put, keys built per call. */
async function child(dist, writers, secs) {
  const { open } = await import(pathToFileURL(path.resolve(dist, 'index.js')).href)
  const M = 20_000
  const values = Array.from({ length: M }, (_, i) => makeValue(i))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-dab-'))
  const db = await open({ dir, durability: 'sync', checkpoint: false })
  let next = 0
  const lat = []
  const run = async (s, record) => {
    const deadline = now() + s * 1000
    const writer = async () => {
      while (now() < deadline) {
        const j = next++ % M
        const t = now()
        await db.put('user:' + j, values[j])
        if (record) lat.push(now() - t)
      }
    }
    const t0 = now()
    await Promise.all(Array.from({ length: writers }, writer))
    return now() - t0
  }
  await run(0.2, false)
  globalThis.gc?.()
  const c0 = process.cpuUsage()
  const ms = await run(secs, true)
  const cpu = process.cpuUsage(c0)
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  lat.sort((a, b) => a - b)
  return { rate: lat.length / (ms / 1000), cpuUs: (cpu.user + cpu.system) / lat.length, p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)] }
}

/** The bench's fdatasync rate (bench/lib/workloads.js measureFsync): writeSync 100 B + fdatasyncSync. */
function probeSync() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-dab-'))
  const fd = fs.openSync(path.join(dir, 'probe'), 'a')
  const buf = Buffer.alloc(100, 0x61)
  for (let i = 0; i < 20; i++) {
    fs.writeSync(fd, buf)
    fs.fdatasyncSync(fd)
  }
  let n = 0
  const t0 = now()
  while (now() - t0 < PROBE_SECS * 1000) {
    fs.writeSync(fd, buf)
    fs.fdatasyncSync(fd)
    n++
  }
  const rate = n / ((now() - t0) / 1000)
  fs.closeSync(fd)
  fs.rmSync(dir, { recursive: true, force: true })
  return rate
}

/** A 100-byte append to an O_DSYNC file through fs.write (libuv's thread pool), one at a time. */
async function probeAsyncDsync() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-dab-'))
  const c = fs.constants
  const fd = fs.openSync(path.join(dir, 'probe'), c.O_WRONLY | c.O_APPEND | c.O_CREAT | c.O_DSYNC)
  const buf = Buffer.alloc(100, 0x61)
  const write = () => new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, null, (e) => (e ? rej(e) : res())))
  for (let i = 0; i < 20; i++) await write()
  let n = 0
  const t0 = now()
  while (now() - t0 < PROBE_SECS * 1000) {
    await write()
    n++
  }
  const rate = n / ((now() - t0) / 1000)
  fs.closeSync(fd)
  fs.rmSync(dir, { recursive: true, force: true })
  return rate
}

if (args[0] === '--child') {
  const [, dist, writers, secs] = args
  process.stdout.write(JSON.stringify(await child(dist, Number(writers), Number(secs))))
  process.exit(0)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const results = new Map()
const push = (key, v) => (results.get(key) ?? results.set(key, []).get(key)).push(v)
let before = probeSync()
for (let r = 0; r < ROUNDS; r++) {
  push('probe async O_DSYNC', await probeAsyncDsync())
  // Alternate the order of the builds from round to round.
  const order = r % 2 === 0 ? DISTS : [...DISTS].reverse()
  const got = []
  for (const dist of order) {
    for (const w of WRITERS) {
      const c = spawnSync(process.execPath, ['--expose-gc', self, '--child', dist, String(w), String(SECS)], { encoding: 'utf8' })
      if (c.status !== 0) throw new Error(`child ${dist} ×${w} failed: ${c.stderr}`)
      got.push({ dist, w, ...JSON.parse(c.stdout) })
    }
  }
  const after = probeSync()
  const ref = (before + after) / 2
  push('probe fdatasync', before)
  for (const g of got) {
    push(`${g.dist} ×${g.w} rate`, g.rate)
    push(`${g.dist} ×${g.w} ÷ (k × fdatasync)`, g.rate / (g.w * ref))
    push(`${g.dist} ×${g.w} CPU µs/put`, g.cpuUs)
    push(`${g.dist} ×${g.w} p50 ms`, g.p50)
    push(`${g.dist} ×${g.w} p99 ms`, g.p99)
  }
  // Paired: each build ÷ the first build, same round (the machine's drift cancels out).
  for (const g of got) {
    const base = got.find((b) => b.dist === DISTS[0] && b.w === g.w)
    if (g.dist !== DISTS[0]) push(`${g.dist} ×${g.w} ÷ ${DISTS[0]} (same round)`, g.rate / base.rate)
  }
  process.stderr.write(`round ${r + 1}/${ROUNDS}: fdatasync ${Math.round(ref)}/s; ${got.map((g) => `${g.dist} ×${g.w} ${Math.round(g.rate)}/s`).join(', ')}\n`)
  before = after
}
for (const [k, xs] of [...results].sort(([a], [b]) => a.localeCompare(b))) {
  const m = median(xs)
  const fmt = (x) => (x >= 100 ? Math.round(x).toString() : x.toFixed(2))
  console.log(`${k.padEnd(44)} median ${fmt(m).padStart(7)}   (${xs.map(fmt).join(', ')})`)
}
console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
