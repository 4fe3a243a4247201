// One system of the peer comparison, in a process of its own (forked by peers/run.js): its own
// heap, its own RSS, and no other system's garbage on its GC clock. The parent sends one command
// per workload over IPC and interleaves the systems workload by workload; this process runs the
// timed loop and answers with plain numbers.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { largeBodies, prng, shuffledIndices, userKey, userKeyOrder, userValue, zipfianSequence } from '../data.js'
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
/** Fresh value objects: val(id) for the load, valFlip(id) for every later write (alternating versions). */
let val
let valFlip

const send = (msg) => process.send(msg)

function tempDir(label) {
  return fs.mkdtempSync(path.join(cfg.tmpRoot, `${cfg.system}-${cfg.kind}-${label}-`))
}

function rm(dir) {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  if (dir) fs.rmSync(`${dir}-log`, { recursive: true, force: true })
}

/**
 * Record ids, never keys: every loop builds its key with userKey(id) ('user:' + id) when it uses
 * it, as an application does, so no store reads a key string that is interned in an array.
 */
function indexSequences(n) {
  const rnd = prng(11)
  const u = new Uint32Array(SEQ_LEN)
  for (let i = 0; i < SEQ_LEN; i++) u[i] = Math.floor(rnd() * n)
  const idx = new Array(n)
  for (let i = 0; i < n; i++) idx[i] = i
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
  const bodies = kind === '4k' ? largeBodies(n) : undefined
  // Writes after the load alternate, per record, between version 0 and version 1 (one field
  // differs), so every write changes the stored bytes: SQLite skips writing a row whose new
  // content equals the old.
  const flip = new Uint8Array(n)
  val = (id) => userValue(id, 0, bodies)
  valFlip = (id) => userValue(id, (flip[id] ^= 1), bodies)
  data = { n, seqOrder: userKeyOrder(n), randOrder: shuffledIndices(n, 5), ...indexSequences(n) }
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

/** RSS after two forced GCs (live memory, not the garbage a loop happened to leave). */
function rssNow() {
  gc()
  gc()
  return sys.rssBytes()
}

/** Every key once, in shuffled order (so lmdb's pages and IsLabDB's decoded-value cache are all touched). */
async function readAll() {
  const { randOrder } = data
  let acc = 0
  if (sys.syncGet) {
    for (let i = 0; i < randOrder.length; i++) acc += sys.get(userKey(randOrder[i])).id
  } else if (sys.getMany) {
    for (let i = 0; i < randOrder.length; i += 1000) {
      const ks = []
      for (let j = i; j < Math.min(randOrder.length, i + 1000); j++) ks.push(userKey(randOrder[j]))
      for (const v of await sys.getMany(ks)) acc += v.id
    }
  } else {
    for (let i = 0; i < randOrder.length; i += 1000) {
      const ps = []
      for (let j = i; j < Math.min(randOrder.length, i + 1000); j++) ps.push(sys.get(userKey(randOrder[j])))
      for (const v of await Promise.all(ps)) acc += v.id
    }
  }
  return acc
}

async function timedLoad(order, label) {
  gc()
  const win = openWindow(`peer:${cfg.kind}:${label}:${cfg.system}`)
  const t0 = now()
  await sys.load(order, cfg.chunk, userKey, val)
  const ms = now() - t0
  win()
  return { ms, opsPerSec: order.length / (ms / 1000) }
}

/**
 * The first pass after a load: `count` gets of `seq` (from its start), timed once, with no
 * warm-up and no forced GC before it. Called after the pause that follows the load, so most gets
 * are the first touch of their key, as when an application starts serving reads.
 */
async function firstPass(seq, label) {
  const count = Math.min(data.n, SEQ_LEN)
  const win = openWindow(`peer:${cfg.kind}:${label}:${cfg.system}`)
  let r
  if (sys.syncGet) {
    let acc = 0
    const t0 = now()
    for (let i = 0; i < count; i++) acc += sys.get(userKey(seq[i])).id
    r = { ops: count, ms: now() - t0, acc }
  } else {
    let acc = 0
    const add = (v) => {
      acc += v.id
    }
    r = await clients(cfg.clients, Infinity, (i) => sys.get(userKey(seq[i & MASK])).then(add), 256, count)
  }
  win()
  return { ops: r.ops, ms: r.ms, opsPerSec: r.ops / (r.ms / 1000), distinct: distinctIn(seq, count) }
}

function distinctIn(seq, count) {
  const seen = new Uint8Array(data.n)
  let d = 0
  for (let i = 0; i < count; i++) {
    if (seen[seq[i]] === 0) {
      seen[seq[i]] = 1
      d++
    }
  }
  return d
}

/**
 * The sequential load, in a process of its own (forked for it alone, so the RSS it adds is not
 * blurred by an earlier store's freed heap): a fresh store, the timed load, RSS right after it,
 * the pause, the timed first pass of Zipfian gets, then warm passes (every key once, then a pass
 * of uniform and one of Zipfian gets, untimed) and RSS again; then the bytes on disk after close.
 */
async function loadSeq({ pauseMs }) {
  const dir = tempDir('seq')
  try {
    await sys.create(dir)
    const rssEmpty = rssNow()
    const memEmpty = process.memoryUsage()
    const r = await timedLoad(data.seqOrder, 'putSeq')
    const rssLoaded = rssNow()
    const memLoaded = process.memoryUsage()
    await sleep(pauseMs)
    const firstZipf = await firstPass(data.z, 'getFirstZipf')
    await readAll()
    for (const seq of [data.u, data.z]) await warmPass(seq)
    const rssWarm = rssNow()
    const memWarm = process.memoryUsage()
    await sys.close()
    const disk = sys.diskUnsupported ? undefined : sys.diskBytes()
    return {
      ...r,
      firstZipf,
      rss: { empty: rssEmpty, loaded: rssLoaded, warm: rssWarm, added: rssLoaded - rssEmpty, addedAfterWarm: rssWarm - rssEmpty },
      // This process's own breakdown (for Redis the data is in redis-server, not here).
      memory: { empty: memEmpty, loaded: memLoaded, warm: memWarm },
      diskBytes: disk,
    }
  } finally {
    rm(dir)
  }
}

/** One untimed pass of SEQ_LEN / 4 gets of `seq` (the warm passes before the second RSS). */
async function warmPass(seq) {
  const count = SEQ_LEN >> 2
  if (sys.syncGet) {
    let acc = 0
    for (let i = 0; i < count; i++) acc += sys.get(userKey(seq[i])).id
    return acc
  }
  let acc = 0
  await clients(cfg.clients, Infinity, (i) => sys.get(userKey(seq[i & MASK])).then((v) => (acc += v.id)), 256, count)
  return acc
}

/**
 * Random-order load into a fresh store, which the later workloads then use; after the pause, the
 * timed first pass of uniform gets.
 */
async function loadRandom({ pauseMs }) {
  data.dir = tempDir('rand')
  await sys.create(data.dir)
  const r = await timedLoad(data.randOrder, 'putRandom')
  await sleep(pauseMs)
  const firstUniform = await firstPass(data.u, 'getFirstUniform')
  return { ...r, firstUniform }
}

const REOPEN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reopen.js')

/** Runs reopen.js: the store reopened in a fresh process (with this process's flags, e.g. --cpu-prof). */
function reopenInFreshProcess(label) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...process.execArgv, REOPEN, cfg.system, sys.dir, userKey(0), label],
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
  // close() is timed too: what a restart costs includes it (a store may do work at close, such as a checkpoint).
  const tc = now()
  await sys.close()
  const closeMs = now() - tc
  const diskBytes = sys.diskUnsupported ? undefined : sys.diskBytes()
  let r
  if (sys.reopenInProcess) {
    gc()
    const win = openWindow(`peer:${cfg.kind}:${label}:${cfg.system}`)
    const t0 = now()
    const extra = await sys.reopen(userKey(0))
    r = { ms: now() - t0, ...extra }
    win()
  } else {
    const { windows: w, ...rest } = await reopenInFreshProcess(`peer:${cfg.kind}:${label}:${cfg.system}`)
    windows.push(...w)
    r = { ...rest, freshProcess: true }
    await sys.reopen(userKey(0))
  }
  return { ...r, closeMs, diskBytes }
}

async function reopenCheckpoint() {
  if (sys.checkpointUnsupported) return { unsupported: sys.checkpointUnsupported }
  const t0 = now()
  const info = await sys.checkpoint()
  const checkpointMs = now() - t0
  const r = await reopen('reopenCheckpoint')
  return { ...r, checkpointMs, checkpointBytes: info?.bytes }
}

/** Sync reads: a tight loop, checking the clock every 256 gets. */
function syncGets(seq, seconds) {
  const deadline = now() + seconds * 1000
  let i = 0
  let acc = 0
  const t0 = now()
  for (;;) {
    for (let j = 0; j < 256; j++) {
      acc += sys.get(userKey(seq[i & MASK])).id
      i++
    }
    if (now() >= deadline) break
  }
  return { ops: i, ms: now() - t0, acc }
}

/**
 * `clients` closed loops sharing one op cursor; step(i) performs op i and returns undefined (done)
 * or a promise. Each client checks the clock every `batch` ops; with `maxOps`, they stop after
 * that many operations instead (a fixed pass, such as the first pass after a load).
 */
async function clients(count, seconds, step, batch = 32, maxOps = Infinity) {
  let cursor = 0
  let stop = false
  const deadline = now() + seconds * 1000
  const client = async () => {
    while (!stop) {
      for (let j = 0; j < batch && cursor < maxOps; j++) {
        const r = step(cursor++)
        if (r !== undefined) await r
      }
      if (cursor >= maxOps || now() >= deadline) stop = true
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
  if (sys.syncGet) return timed(label, seconds, (s) => syncGets(seq, s))
  let acc = 0
  const add = (v) => {
    acc += v.id
  }
  return timed(label, seconds, (s) => clients(cfg.clients, s, (i) => sys.get(userKey(seq[i & MASK])).then(add), 256))
}

async function ycsb({ mix, seconds, label }) {
  const { z, coin } = data
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
    const k = userKey(idx)
    if (coin[i & MASK] < m.read) {
      if (syncGet) {
        acc += sys.get(k).id
        return undefined
      }
      return sys.get(k).then(add)
    }
    return write(k, valFlip(idx))
  }
  const r = await timed(label, seconds, (s) => clients(cfg.clients, s, step))
  if (sys.conflicts !== undefined) r.conflicts = sys.conflicts - conflicts0
  return r
}

async function range({ seconds, label, count }) {
  if (sys.rangeUnsupported) return { unsupported: sys.rangeUnsupported }
  const { u } = data
  let acc = 0
  let entries = 0
  const sink = (v) => {
    acc += v.id
  }
  const step = (i) => {
    const r = sys.range(userKey(u[i & MASK]), count, sink)
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
  const { n } = data
  let next = 0
  const run = async (s, lat) => {
    const deadline = now() + s * 1000
    const writer = async () => {
      while (now() < deadline) {
        const i = next++ % n
        const t = now()
        const r = sys.durablePut(userKey(i), valFlip(i))
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

/**
 * Awaited single puts in the buffered configuration: one writer, `await` on each put before the
 * next (an application handling one request at a time), overwriting uniformly drawn keys.
 */
async function putAwaited({ seconds, label }) {
  const { u } = data
  let c = 0
  const run = async (s) => {
    const deadline = now() + s * 1000
    let ops = 0
    const t0 = now()
    while (now() < deadline) {
      for (let j = 0; j < 16; j++) {
        const id = u[c++ & MASK]
        const r = sys.update(userKey(id), valFlip(id))
        if (r !== undefined) await r
        ops++
      }
    }
    return { ops, ms: now() - t0 }
  }
  return timed(label, seconds, run)
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

const COMMANDS = { init, warm, loadSeq, loadRandom, reopen: () => reopen('reopen'), reopenCheckpoint, get, putAwaited, ycsb, range, durablePuts, shutdown }

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
