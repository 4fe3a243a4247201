// One system of the peer comparison, in a process of its own (forked by peers/run.js): its own
// heap, its own RSS, and no other system's garbage on its GC clock. The parent sends one command
// per workload over IPC and interleaves the systems workload by workload; this process runs the
// timed loop and answers with plain numbers.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeKeys, makeLargeValues, makeValues, shuffledIndices, sortedKeyOrder, uniformSequence, zipfianSequence } from '../data.js'
import { gc, now, openWindow, percentile, windows } from '../measure.js'
import { makeSystem } from './systems.js'

/** Lookup and operation sequences are this long (a power of two) and wrap around. */
const SEQ_LEN = 1 << 20
const MASK = SEQ_LEN - 1

const YCSB = {
  A: { read: 0.5, write: 'update' },
  B: { read: 0.95, write: 'update' },
  C: { read: 1, write: 'update' },
  F: { read: 0.5, write: 'rmw' },
}

let sys
let cfg
let data
let durable = false

const send = (msg) => process.send(msg)

function tempDir(label) {
  return fs.mkdtempSync(path.join(cfg.tmpRoot, `${cfg.system}-${cfg.kind}-${label}-`))
}

function rm(dir) {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  if (dir) fs.rmSync(`${dir}-log`, { recursive: true, force: true })
}

function indexSequences(n) {
  const idx = new Array(n)
  for (let i = 0; i < n; i++) idx[i] = i
  const u = Uint32Array.from(uniformSequence(idx, SEQ_LEN, 11))
  const z = Uint32Array.from(zipfianSequence(idx, SEQ_LEN, 0.99, 12))
  // Operation coin flips shared by every YCSB mix (read when coin < read fraction).
  const coin = new Float32Array(SEQ_LEN)
  let s = 0x9e3779b9
  for (let i = 0; i < SEQ_LEN; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    coin[i] = (s >>> 0) / 4294967296
  }
  return { u, z, coin }
}

async function init(args) {
  cfg = args
  const { n, kind } = args
  const keys = makeKeys(n)
  const values = kind === '4k' ? makeLargeValues(n) : makeValues(n)
  const seqOrder = sortedKeyOrder(n)
  const randOrder = shuffledIndices(n, 5)
  // Writes after the load alternate, per key, between values[i] and alt[i] (one field differs), so
  // every write changes the stored bytes: SQLite skips writing a row whose new content equals the old.
  const alt = values.map((v) => ({ ...v, score: v.score + 0.5 }))
  data = { keys, values, alt, flip: new Uint8Array(n), seqOrder, randOrder, ...indexSequences(n) }
  sys = makeSystem(args.system, send)
  const info = {}
  try {
    if (sys.init) await sys.init()
  } catch (err) {
    return { available: false, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) }
  }
  if (sys.version) info.server = sys.version
  return { available: true, ...info }
}

function rssNow() {
  gc()
  gc()
  return sys.rssBytes()
}

/** Every key once, in shuffled order (so lmdb's pages and IsLabDB's decoded-value cache are all touched). */
async function readAll() {
  const { keys, randOrder } = data
  let acc = 0
  if (sys.syncGet) {
    for (let i = 0; i < randOrder.length; i++) acc += sys.get(keys[randOrder[i]]).id
  } else if (sys.getMany) {
    for (let i = 0; i < randOrder.length; i += 1000) {
      const ks = []
      for (let j = i; j < Math.min(randOrder.length, i + 1000); j++) ks.push(keys[randOrder[j]])
      for (const v of await sys.getMany(ks)) acc += v.id
    }
  } else {
    for (let i = 0; i < randOrder.length; i += 1000) {
      const ps = []
      for (let j = i; j < Math.min(randOrder.length, i + 1000); j++) ps.push(sys.get(keys[randOrder[j]]))
      for (const v of await Promise.all(ps)) acc += v.id
    }
  }
  return acc
}

async function timedLoad(order, label) {
  const { keys, values } = data
  gc()
  const win = openWindow(`peer:${cfg.kind}:${label}:${cfg.system}`)
  const t0 = now()
  await sys.load(keys, values, order, cfg.chunk)
  const ms = now() - t0
  win()
  return { ms, opsPerSec: order.length / (ms / 1000) }
}

/** Sequential load into a fresh store, then RSS after load and after reading every key once, and bytes on disk. */
async function loadSeq() {
  const dir = tempDir('seq')
  try {
    await sys.create(dir)
    const rssEmpty = rssNow()
    const memEmpty = process.memoryUsage()
    const r = await timedLoad(data.seqOrder, 'putSeq')
    const rssLoaded = rssNow()
    const memLoaded = process.memoryUsage()
    await readAll()
    const rssRead = rssNow()
    const memRead = process.memoryUsage()
    await sys.close()
    const disk = sys.diskUnsupported ? undefined : sys.diskBytes()
    return {
      ...r,
      rss: { empty: rssEmpty, loaded: rssLoaded, read: rssRead, added: rssLoaded - rssEmpty, addedAfterRead: rssRead - rssEmpty },
      // This process's own breakdown (for Redis the data is in redis-server, not here).
      memory: { empty: memEmpty, loaded: memLoaded, read: memRead },
      diskBytes: disk,
    }
  } finally {
    rm(dir)
  }
}

/** Random-order load into a fresh store, which the later workloads then use. */
async function loadRandom() {
  data.dir = tempDir('rand')
  await sys.create(data.dir)
  return timedLoad(data.randOrder, 'putRandom')
}

const REOPEN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reopen.js')

/** Runs reopen.js: the store reopened in a fresh process (with this process's flags, e.g. --cpu-prof). */
function reopenInFreshProcess(label) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...process.execArgv, REOPEN, cfg.system, sys.dir, data.keys[0], label],
      { maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`reopen.js failed: ${stderr || err.message}`))
        else resolve(JSON.parse(stdout))
      },
    )
  })
}

/**
 * Close, measure the disk, reopen (timed until the first get answers). In-process stores are
 * reopened by a fresh process (reopen.js), as an application restart would; Redis by restarting
 * its server (already a fresh process). Then this process reopens the store, untimed, for the
 * workloads that follow.
 */
async function reopen(label) {
  await sys.close()
  const diskBytes = sys.diskUnsupported ? undefined : sys.diskBytes()
  let r
  if (sys.reopenInProcess) {
    gc()
    const win = openWindow(`peer:${cfg.kind}:${label}:${cfg.system}`)
    const t0 = now()
    const extra = await sys.reopen(data.keys[0])
    r = { ms: now() - t0, ...extra }
    win()
  } else {
    const { windows: w, ...rest } = await reopenInFreshProcess(`peer:${cfg.kind}:${label}:${cfg.system}`)
    windows.push(...w)
    r = { ...rest, freshProcess: true }
    await sys.reopen(data.keys[0])
  }
  return { ...r, diskBytes }
}

async function reopenCheckpoint() {
  const t0 = now()
  const info = await sys.checkpoint()
  const checkpointMs = now() - t0
  const r = await reopen('reopenCheckpoint')
  return { ...r, checkpointMs, checkpointBytes: info?.bytes }
}

/** Sync reads: a tight loop, checking the clock every 256 gets. */
function syncGets(seq, seconds) {
  const { keys } = data
  const deadline = now() + seconds * 1000
  let i = 0
  let acc = 0
  const t0 = now()
  for (;;) {
    for (let j = 0; j < 256; j++) {
      acc += sys.get(keys[seq[i & MASK]]).id
      i++
    }
    if (now() >= deadline) break
  }
  return { ops: i, ms: now() - t0, acc }
}

/**
 * `clients` closed loops sharing one op cursor; step(i) performs op i and returns undefined (done)
 * or a promise. Each client checks the clock every `batch` ops.
 */
async function clients(count, seconds, step, batch = 32) {
  let cursor = 0
  let stop = false
  const deadline = now() + seconds * 1000
  const client = async () => {
    while (!stop) {
      for (let j = 0; j < batch; j++) {
        const r = step(cursor++)
        if (r !== undefined) await r
      }
      if (now() >= deadline) stop = true
    }
  }
  const t0 = now()
  await Promise.all(Array.from({ length: count }, client))
  return { ops: cursor, ms: now() - t0 }
}

async function timed(label, seconds, fn) {
  // Warm-up: a tenth of the time on the same loop, untimed.
  await fn(Math.max(0.05, seconds / 10))
  gc()
  const win = openWindow(`peer:${cfg.kind}:${label}:${cfg.system}`)
  const r = await fn(seconds)
  win()
  return { ops: r.ops, ms: r.ms, opsPerSec: r.ops / (r.ms / 1000), ...(r.extra ?? {}) }
}

async function get({ dist, seconds, label }) {
  const seq = dist === 'zipf' ? data.z : data.u
  const { keys } = data
  if (sys.syncGet) return timed(label, seconds, (s) => syncGets(seq, s))
  let acc = 0
  const add = (v) => {
    acc += v.id
  }
  return timed(label, seconds, (s) => clients(cfg.clients, s, (i) => sys.get(keys[seq[i & MASK]]).then(add), 256))
}

async function ycsb({ mix, seconds, label }) {
  const { keys, values, alt, flip, z, coin } = data
  const m = YCSB[mix]
  let acc = 0
  const add = (v) => {
    acc += v.id
  }
  const syncGet = sys.syncGet
  const conflicts0 = sys.conflicts ?? 0
  const write = m.write === 'rmw' ? (k) => sys.rmw(k) : (k, v) => sys.update(k, v)
  const step = (i) => {
    const idx = z[i & MASK]
    const k = keys[idx]
    if (coin[i & MASK] < m.read) {
      if (syncGet) {
        acc += sys.get(k).id
        return undefined
      }
      return sys.get(k).then(add)
    }
    return write(k, (flip[idx] ^= 1) ? alt[idx] : values[idx])
  }
  const r = await timed(label, seconds, (s) => clients(cfg.clients, s, step))
  if (sys.conflicts !== undefined) r.conflicts = sys.conflicts - conflicts0
  return r
}

async function range({ seconds, label, count }) {
  if (sys.rangeUnsupported) return { unsupported: sys.rangeUnsupported }
  const { keys, u } = data
  let acc = 0
  let entries = 0
  const sink = (v) => {
    acc += v.id
  }
  const step = (i) => {
    const r = sys.range(keys[u[i & MASK]], count, sink)
    if (typeof r === 'number') {
      entries += r
      return undefined
    }
    return r.then((c) => {
      entries += c
    })
  }
  const r = await timed(label, seconds, (s) => clients(cfg.clients, s, step, 4))
  r.entriesPerScan = entries / r.ops
  return r
}

/** k closed-loop writers, each awaiting its own durable put; latency of every put. */
async function durablePuts({ writers, seconds, label }) {
  if (sys.durableUnsupported) return { unsupported: sys.durableUnsupported }
  if (!durable) {
    await sys.setDurable()
    durable = true
  }
  const { keys, values, alt, flip } = data
  const n = keys.length
  let next = 0
  const run = async (s, lat) => {
    const deadline = now() + s * 1000
    const writer = async () => {
      while (now() < deadline) {
        const i = next++ % n
        const t = now()
        const r = sys.durablePut(keys[i], (flip[i] ^= 1) ? alt[i] : values[i])
        if (r !== undefined) await r
        if (lat) lat.push(now() - t)
      }
    }
    const t0 = now()
    await Promise.all(Array.from({ length: writers }, writer))
    return { ms: now() - t0 }
  }
  await run(Math.min(0.2, seconds / 5))
  gc()
  const lat = []
  const win = openWindow(`peer:${cfg.kind}:${label}:${cfg.system}`)
  const r = await run(seconds, lat)
  win()
  return {
    ops: lat.length,
    ms: r.ms,
    opsPerSec: lat.length / (r.ms / 1000),
    latencyMs: { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) },
  }
}

async function shutdown() {
  try {
    await sys?.close()
  } finally {
    rm(data?.dir)
  }
  return { windows: windows.map((w) => ({ pid: process.pid, ...w })) }
}

/** Untimed: read every key once, so the read workloads measure a warm store (decoded values cached, pages mapped). */
async function warm() {
  const t0 = now()
  await readAll()
  return { ms: now() - t0 }
}

const COMMANDS = { init, warm, loadSeq, loadRandom, reopen: () => reopen('reopen'), reopenCheckpoint, get, ycsb, range, durablePuts, shutdown }

process.on('message', async (msg) => {
  const { id, cmd, args } = msg
  try {
    const result = await COMMANDS[cmd](args ?? {})
    send({ id, ok: true, result })
    if (cmd === 'shutdown') process.disconnect()
  } catch (err) {
    send({ id, ok: false, error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) })
  }
})

const killServer = () => sys?.kill?.()
process.on('exit', killServer)
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killServer()
    process.exit(1)
  })
}
process.on('disconnect', () => {
  // The parent went away (or we are done): stop any server we started and leave.
  killServer()
  setTimeout(() => process.exit(0), 100).unref()
})
