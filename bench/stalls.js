#!/usr/bin/env node
// Responsiveness: the longest event-loop stall (a stretch of synchronous work with no turn of the
// loop) during the heavy operations of a database holding a 300k-event log: open (replay), the
// first range() read to the end, a checkpoint with writers running, WAL rotation, and pruning.
// The target (DESIGN.md, "Responsiveness") is no stall over ~100 ms on the 2-core bench machine.
//
// A stall is measured two ways while each operation runs: a setInterval(…, 5) heartbeat records
// the largest gap between its ticks (gap − 5 ms ≈ the stall), and perf_hooks.monitorEventLoopDelay
// (resolution 10 ms) reports its max delay. Both see the whole process, so the writers running
// during a checkpoint or a rotation count too (they yield every 100 puts, as an application would).
//
// Usage: npm run build && node bench/stalls.js [--events 300000] [--keys 300000] [--rounds 3] [--only open,range]
//        [--json out.json] [--dist <another build's dist/ to measure>]
// Each operation runs `--rounds` times on fresh state; the table shows the median of the rounds'
// max stall, and the worst round.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setImmediate as turn } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'

const args = process.argv.slice(2)
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i < 0 ? dflt : Number(args[i + 1])
}
const EVENTS = arg('events', 300_000)
const KEYS = arg('keys', EVENTS)
const ROUNDS = arg('rounds', 3)
const JSON_OUT = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined
// --dist <dir>: measure another build (e.g. of an older commit) with the same script.
const DIST = args.includes('--dist') ? path.resolve(args[args.indexOf('--dist') + 1]) : new URL('../dist', import.meta.url).pathname
const { open } = await import(pathToFileURL(path.join(DIST, 'index.js')).href)
/** Segment size for the rotation and pruning runs: many segments to create and delete. */
const SMALL_SEGMENT = 1 << 20

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'islab-stalls-'))
const rm = (dir) => fs.rmSync(dir, { recursive: true, force: true })
// Keys and values are built per call (as an application would), not taken from a prepared array.
const key = (i) => `user:${String(i % KEYS).padStart(10, '0')}`
// ~100 bytes of msgpack.
const value = (i) => ({ id: i, name: `user ${i}`, email: `user${i}@example.com`, plan: i % 10 ? 'free' : 'pro', pad: 'x'.repeat(20) })
const log = (s) => process.stderr.write(`  · ${s}\n`)

/** Runs `fn` and returns how long it took and the longest stall seen meanwhile. */
async function watch(fn) {
  const eld = monitorEventLoopDelay({ resolution: 10 })
  let last = performance.now()
  let maxGap = 0
  const hb = setInterval(() => {
    const t = performance.now()
    if (t - last > maxGap) maxGap = t - last
    last = t
  }, 5)
  eld.enable()
  // Let the heartbeat start ticking before the operation begins.
  await new Promise((r) => setTimeout(r, 20))
  last = performance.now()
  maxGap = 0
  const t0 = performance.now()
  let out
  try {
    out = await fn()
  } finally {
    const ms = performance.now() - t0
    // One more tick so a stall at the very end is seen.
    await new Promise((r) => setTimeout(r, 6))
    clearInterval(hb)
    eld.disable()
    out = { ...(out ?? {}), ms, maxGapMs: maxGap, eldMaxMs: eld.max / 1e6 }
  }
  return out
}

/** Writes puts in groups of 100, yielding a turn between groups, until `stop()` says so or `n` puts are done. */
async function writers(db, stop, from = 0, n = Infinity) {
  let i = from
  let maxLatency = 0
  while (!stop() && i - from < n) {
    const t = performance.now()
    const group = []
    for (let j = 0; j < 100; j++) group.push(db.put(key(i), value(i++)))
    await Promise.all(group)
    maxLatency = Math.max(maxLatency, performance.now() - t)
    await turn()
  }
  return { puts: i - from, maxLatency }
}

async function buildLog(dir, opts = {}) {
  const db = await open({ dir, checkpoint: false, ...opts })
  for (let i = 0; i < EVENTS; i++) {
    void db.put(key(i), value(i))
    if (i % 20_000 === 19_999) await db.flush()
  }
  await db.flush()
  await db.close()
}

const ops = {
  /** open() of the log: checkpoint-less, so every event is replayed. */
  async open(dir) {
    let db
    let progress = 0
    const r = await watch(async () => {
      db = await open({ dir, checkpoint: false, onProgress: () => progress++ })
      return { eventsPerSec: db.stats().recovery.eventsReplayed / (db.stats().recovery.timeMs / 1000) }
    })
    await db.close()
    return { ...r, progress }
  },
  /** open() of the same state from a checkpoint (the log's events all covered by it). */
  async openCheckpoint(dir) {
    const cpDir = await checkpointed(dir)
    let db
    const r = await watch(async () => {
      db = await open({ dir: cpDir, checkpoint: false })
      return { checkpointKeys: db.stats().recovery.checkpointKeys }
    })
    await db.close()
    return r
  },
  /** The first getAt of a freshly opened database: builds the history index from the whole log. */
  async firstGetAt(dir) {
    const db = await open({ dir, checkpoint: false })
    const r = await watch(async () => {
      await db.getAt(key(7), { seq: Math.floor(EVENTS / 2) })
    })
    await db.close()
    return r
  },
  /** A change stream catching up on the whole log (live: false), consumed as it comes. */
  async catchUp(dir) {
    const db = await open({ dir, checkpoint: false })
    let n = 0
    const r = await watch(async () => {
      for await (const _ of db.changes({ since: 0, live: false })) n++
    })
    await db.close()
    if (n !== EVENTS) throw new Error(`catch-up delivered ${n} changes, expected ${EVENTS}`)
    return r
  },
  /** The first range() of a freshly opened database, read to the end. */
  async range(dir) {
    const db = await open({ dir, checkpoint: false })
    let n = 0
    const r = await watch(async () => {
      for await (const _ of db.range()) n++
    })
    await db.close()
    if (n !== KEYS) throw new Error(`range read ${n} keys, expected ${KEYS}`)
    return r
  },
  /** db.checkpoint() of a freshly opened database (keys still as recovery loaded them), writers running. */
  async checkpoint(dir) {
    const db = await open({ dir, checkpoint: false })
    return checkpointWithWriters(db)
  },
  /** db.checkpoint() after every key was touched (read by a range): the keys are in the state's Map. */
  async checkpointTouched(dir) {
    const db = await open({ dir, checkpoint: false })
    for await (const _ of db.range()) void _
    return checkpointWithWriters(db)
  },
  /** Writes with WAL segments of 1 MiB: the writers' longest stall, rotations included. */
  async rotation() {
    return writeRun(SMALL_SEGMENT)
  },
  /** The same writes with one 64 MiB segment: what the writers cost without rotation. */
  async noRotation() {
    return writeRun(64 << 20)
  },
  /** A checkpoint that deletes the older segments of a log in 1 MiB segments (no writers). */
  async prune() {
    const dir = tmp()
    try {
      await buildLog(dir, { segmentBytes: SMALL_SEGMENT })
      const db = await open({ dir, checkpoint: { keep: 1, intervalMs: 1e9, walBytes: 1e15 }, segmentBytes: SMALL_SEGMENT })
      // Touch no key: the checkpoint is cheap, and what remains is the pruning.
      let info
      const r = await watch(async () => {
        info = await db.checkpoint()
      })
      await db.close()
      return { ...r, segmentsDeleted: info.segmentsDeleted.length }
    } finally {
      rm(dir)
    }
  },
}

let checkpointedDir
/** A copy of the log's directory with a checkpoint at its last seq (made once). */
async function checkpointed(dir) {
  if (checkpointedDir !== undefined) return checkpointedDir
  const copy = tmp()
  process.on('exit', () => rm(copy))
  for (const f of fs.readdirSync(dir)) if (f !== 'LOCK') fs.copyFileSync(path.join(dir, f), path.join(copy, f))
  const db = await open({ dir: copy, checkpoint: false })
  await db.checkpoint()
  await db.close()
  checkpointedDir = copy
  return copy
}

async function checkpointWithWriters(db) {
  let done = false
  const w = writers(db, () => done, EVENTS)
  let info
  const r = await watch(async () => {
    info = await db.checkpoint()
  })
  done = true
  const wr = await w
  await db.close()
  return { ...r, entries: info.entries, putsDuring: wr.puts, putMaxLatencyMs: wr.maxLatency }
}

async function writeRun(segmentBytes) {
  const dir = tmp()
  try {
    const db = await open({ dir, checkpoint: false, segmentBytes })
    const n = Math.min(EVENTS, 100_000)
    let wr
    const r = await watch(async () => {
      wr = await writers(db, () => false, 0, n)
      await db.flush()
    })
    await db.close()
    const segments = fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).length
    return { ...r, segments, putMaxLatencyMs: wr.maxLatency }
  } finally {
    rm(dir)
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]
}

const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : Object.keys(ops)
const dir = tmp()
process.on('exit', () => rm(dir))
log(`building a log of ${EVENTS.toLocaleString()} events over ${KEYS.toLocaleString()} keys (${os.cpus().length} cores, node ${process.version})`)
const t0 = performance.now()
await buildLog(dir)
const walBytes = fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(walBytes / 2 ** 20).toFixed(1)} MiB of WAL`)

const results = {}
for (const name of only) {
  const rounds = []
  for (let r = 0; r < ROUNDS; r++) {
    const out = await ops[name](dir)
    rounds.push(out)
    const extra = Object.entries(out)
      .filter(([k]) => !['ms', 'maxGapMs', 'eldMaxMs'].includes(k))
      .map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : v}`)
      .join(', ')
    log(`${name} #${r + 1}: ${out.ms.toFixed(0)} ms, max gap ${out.maxGapMs.toFixed(1)} ms, eld max ${out.eldMaxMs.toFixed(1)} ms${extra ? `, ${extra}` : ''}`)
  }
  results[name] = {
    ms: median(rounds.map((x) => x.ms)),
    maxGapMs: median(rounds.map((x) => x.maxGapMs)),
    worstGapMs: Math.max(...rounds.map((x) => x.maxGapMs)),
    eldMaxMs: median(rounds.map((x) => x.eldMaxMs)),
    rounds,
  }
}

console.log(`\n| operation (${EVENTS.toLocaleString()} events, ${KEYS.toLocaleString()} keys) | took (ms) | max stall, median of ${ROUNDS} (ms) | worst round (ms) | eld max (ms) |`)
console.log('|---|---:|---:|---:|---:|')
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${r.ms.toFixed(0)} | ${r.maxGapMs.toFixed(0)} | ${r.worstGapMs.toFixed(0)} | ${r.eldMaxMs.toFixed(0)} |`)
}
if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ events: EVENTS, keys: KEYS, rounds: ROUNDS, node: process.version, cores: os.cpus().length, results }, null, 2))
