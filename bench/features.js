// Measures what the engine features cost and deliver, beyond the put/get comparison of run.js:
//   recovery:  WAL replay rate, checkpoint write and load rate, open time of a database of
//              W writes over K keys (checkpoint + tail), put latency while a checkpoint is written;
//   streams:   change-stream delivery rate to 1 and 10 subscribers, getAt latency on a large log,
//              what the ordered index (range reads) costs put throughput, a 100-key range scan.
// Usage: node bench/features.js [--quick] [--only recovery,streams]
// Writes bench/results/features.json and the <!-- features --> section of bench/RESULTS.md.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open } from '../dist/index.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const QUICK = args.includes('--quick')
const onlyArg = args[args.indexOf('--only') + 1]
const ONLY = args.includes('--only') ? new Set(onlyArg.split(',')) : new Set(['recovery', 'streams'])
const SIZE = QUICK
  ? { replay: 300_000, ckKeys: 200_000, bigWrites: 1_000_000, bigKeys: 100_000, stream: 100_000, history: 200_000, range: 100_000 }
  : { replay: 1_000_000, ckKeys: 1_000_000, bigWrites: 10_000_000, bigKeys: 1_000_000, stream: 300_000, history: 1_000_000, range: 200_000 }

/** Opens timed per measurement (median reported). */
const OPENS = 5
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'islab-feat-'))
const key = (i) => `key:${String(i).padStart(12, '0')}`
const value = (i) => ({ id: i, name: `user ${i}`, email: `user${i}@example.com`, plan: i % 10 ? 'free' : 'pro', pad: 'x'.repeat(30) })
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0))
const results = {}
const log = (s) => process.stderr.write(`  · ${s}\n`)

/** Writes `writes` puts over `keys` keys in buffered mode, flushing now and then. */
async function load(db, writes, keys) {
  for (let i = 0; i < writes; i++) {
    void db.put(key(i % keys), value(i))
    if (i % 50_000 === 49_999) await db.flush()
  }
  await db.flush()
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function recovery() {
  // 1. WAL replay: W events over K/10 keys, no checkpoint.
  {
    const dir = tmp()
    let db = await open({ dir, checkpoint: false })
    await load(db, SIZE.replay, SIZE.replay / 10)
    await db.close()
    const rates = []
    // Opens are single-threaded and short: other tenants of the shared machine move each one a
    // lot, so take the median of OPENS (the first, with a cold JIT, included).
    for (let r = 0; r < OPENS; r++) {
      db = await open({ dir, checkpoint: false })
      const rec = db.stats().recovery
      rates.push(rec.eventsReplayed / (rec.timeMs / 1000))
      await db.close()
    }
    rates.sort((a, b) => a - b)
    results.replayEventsPerSec = rates[OPENS >> 1]
    log(`WAL replay: ${fmt(rates[OPENS >> 1])} events/s (median of ${OPENS} opens, ${fmt(SIZE.replay)} events over ${fmt(SIZE.replay / 10)} keys)`)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  // 2. Checkpoint write and load of K keys, and put latency while the checkpoint is written.
  {
    const dir = tmp()
    let db = await open({ dir, checkpoint: false })
    await load(db, SIZE.ckKeys, SIZE.ckKeys)
    // Baseline latency: the same write loop without a checkpoint.
    const lat = async (during) => {
      const samples = []
      const until = during ?? new Promise((r) => setTimeout(r, 1500))
      let done = false
      void until.then(() => (done = true))
      let i = 0
      while (!done) {
        const t = performance.now()
        await db.put(key(i++ % SIZE.ckKeys), value(i))
        samples.push(performance.now() - t)
        if (i % 256 === 0) await new Promise((r) => setImmediate(r))
      }
      samples.sort((a, b) => a - b)
      return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] }
    }
    const idle = await lat()
    const t0 = performance.now()
    const cpPromise = db.checkpoint()
    const during = await lat(cpPromise)
    const cp = await cpPromise
    results.checkpoint = {
      keys: cp.entries,
      bytes: cp.bytes,
      writeMs: performance.now() - t0,
      putLatencyIdleMs: idle,
      putLatencyDuringMs: during,
    }
    log(
      `checkpoint of ${fmt(cp.entries)} keys: ${(cp.bytes / 2 ** 20).toFixed(1)} MiB in ${cp.timeMs.toFixed(0)} ms; ` +
        `put latency p50/p99/max idle ${idle.p50.toFixed(3)}/${idle.p99.toFixed(3)}/${idle.max.toFixed(1)} ms, ` +
        `during ${during.p50.toFixed(3)}/${during.p99.toFixed(3)}/${during.max.toFixed(1)} ms (${during.n} puts)`,
    )
    await db.close()
    const loads = []
    for (let r = 0; r < OPENS; r++) {
      const t = performance.now()
      db = await open({ dir, checkpoint: false })
      const ms = performance.now() - t
      const rec = db.stats().recovery
      loads.push({ keysPerSec: rec.checkpointKeys / (ms / 1000), ms, tail: rec.eventsReplayed })
      await db.close()
    }
    loads.sort((a, b) => a.keysPerSec - b.keysPerSec)
    const mid = loads[OPENS >> 1]
    results.checkpointLoadKeysPerSec = mid.keysPerSec
    log(`checkpoint load (whole open): ${fmt(mid.keysPerSec)} keys/s (median of ${OPENS} opens: ${mid.ms.toFixed(0)} ms, tail ${mid.tail} events)`)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  // 3. A database of W writes over K keys, with the default automatic checkpoints, reopened.
  {
    const dir = tmp()
    let db = await open({ dir })
    const t = performance.now()
    await load(db, SIZE.bigWrites, SIZE.bigKeys)
    const loadMs = performance.now() - t
    // Let a pending automatic checkpoint finish.
    await db.close()
    const t2 = performance.now()
    db = await open({ dir })
    const openMs = performance.now() - t2
    const rec = db.stats().recovery
    results.bigOpen = { writes: SIZE.bigWrites, keys: SIZE.bigKeys, loadMs, openMs, checkpointKeys: rec.checkpointKeys, tailEvents: rec.eventsReplayed }
    log(
      `${fmt(SIZE.bigWrites)} writes over ${fmt(SIZE.bigKeys)} keys: loaded in ${(loadMs / 1000).toFixed(1)} s; reopened in ` +
        `${(openMs / 1000).toFixed(2)} s (checkpoint of ${fmt(rec.checkpointKeys)} keys + ${fmt(rec.eventsReplayed)} tail events)`,
    )
    await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function streams() {
  // 1. Change-stream delivery to 1 and 10 subscribers while writes happen.
  for (const subs of [1, 10]) {
    const dir = tmp()
    const db = await open({ dir, syncIntervalMs: 10, checkpoint: false })
    const n = SIZE.stream
    const t = performance.now()
    const readers = Array.from({ length: subs }, async () => {
      let got = 0
      for await (const ch of db.changes({ since: 0 })) if (++got >= n || ch.seq >= n) break
      return got
    })
    await load(db, n, 10_000)
    const counts = await Promise.all(readers)
    const s = (performance.now() - t) / 1000
    const delivered = counts.reduce((a, b) => a + b, 0)
    results[`stream${subs}`] = { events: n, subscribers: subs, deliveredPerSec: delivered / s, seconds: s }
    log(`change streams, ${subs} subscriber(s): ${fmt(delivered / s)} changes/s delivered in total (${fmt(n)} writes, ${s.toFixed(2)} s incl. writing)`)
    await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  // 2. getAt latency on a large log (index built on first use, then random points in the past).
  {
    const dir = tmp()
    const db = await open({ dir, checkpoint: false })
    const n = SIZE.history
    await load(db, n, 10_000)
    let t = performance.now()
    await db.getAt(key(1), { seq: 1 })
    const buildMs = performance.now() - t
    const samples = []
    for (let i = 0; i < 2000; i++) {
      const seq = 1 + Math.floor(Math.random() * n)
      t = performance.now()
      await db.getAt(key(Math.floor(Math.random() * 10_000)), { seq })
      samples.push(performance.now() - t)
    }
    samples.sort((a, b) => a - b)
    results.getAt = { events: n, indexBuildMs: buildMs, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) }
    log(`getAt on a ${fmt(n)}-event log: index built in ${buildMs.toFixed(0)} ms, then p50 ${(percentile(samples, 50) * 1000).toFixed(0)} µs, p99 ${(percentile(samples, 99) * 1000).toFixed(0)} µs`)
    await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  // 3. Ordered index cost on put, and a 100-key range scan.
  {
    const n = SIZE.range
    const rate = async (withRange) => {
      const db = await open({ durability: 'memory' })
      if (withRange) for await (const _ of db.range({ limit: 1 })) void _
      const t = performance.now()
      for (let i = 0; i < n; i++) void db.put(key((i * 7919) % n), value(i))
      const r = n / ((performance.now() - t) / 1000)
      await db.close()
      return r
    }
    const plain = []
    const ordered = []
    for (let r = 0; r < 3; r++) {
      plain.push(await rate(false))
      ordered.push(await rate(true))
    }
    plain.sort((a, b) => a - b)
    ordered.sort((a, b) => a - b)
    const db = await open({ durability: 'memory' })
    for (let i = 0; i < n; i++) void db.put(key(i), value(i))
    for await (const _ of db.range({ limit: 1 })) void _
    const scans = 2000
    const t = performance.now()
    for (let s = 0; s < scans; s++) {
      let c = 0
      for await (const _ of db.range({ gte: key(Math.floor(Math.random() * (n - 100))), limit: 100 })) c++
    }
    const scanRate = scans / ((performance.now() - t) / 1000)
    await db.close()
    results.range = { keys: n, putPlain: plain[1], putWithOrderedIndex: ordered[1], ratio: ordered[1] / plain[1], scans100PerSec: scanRate }
    log(`ordered index: put ${fmt(ordered[1])}/s with it vs ${fmt(plain[1])}/s without (×${(ordered[1] / plain[1]).toFixed(2)}); range scan of 100 keys: ${fmt(scanRate)} scans/s`)
  }
}

function markdown() {
  const r = results
  const lines = ['<!-- features:start -->', '## Engine features (`node bench/features.js`)', '']
  lines.push(`Machine: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores, Node ${process.version}; ${new Date().toISOString()}${QUICK ? ' (quick sizes)' : ''}.`, '')
  lines.push('| measure | result | target |', '|---|---|---|')
  if (r.replayEventsPerSec) lines.push(`| WAL replay | ${fmt(r.replayEventsPerSec)} events/s | ≥ 2M events/s: ${r.replayEventsPerSec >= 2e6 ? 'PASS' : `MISS (${(r.replayEventsPerSec / 2e6).toFixed(2)}×)`} |`)
  if (r.checkpointLoadKeysPerSec) lines.push(`| checkpoint load | ${fmt(r.checkpointLoadKeysPerSec)} keys/s | ≥ 3M keys/s: ${r.checkpointLoadKeysPerSec >= 3e6 ? 'PASS' : `MISS (${(r.checkpointLoadKeysPerSec / 3e6).toFixed(2)}×)`} |`)
  if (r.checkpoint) {
    const c = r.checkpoint
    lines.push(`| checkpoint write | ${fmt(c.keys)} keys, ${(c.bytes / 2 ** 20).toFixed(1)} MiB in ${c.writeMs.toFixed(0)} ms | — |`)
    lines.push(`| put latency p50 / p99 / max, idle | ${c.putLatencyIdleMs.p50.toFixed(3)} / ${c.putLatencyIdleMs.p99.toFixed(3)} / ${c.putLatencyIdleMs.max.toFixed(1)} ms | — |`)
    lines.push(`| put latency p50 / p99 / max, during the checkpoint | ${c.putLatencyDuringMs.p50.toFixed(3)} / ${c.putLatencyDuringMs.p99.toFixed(3)} / ${c.putLatencyDuringMs.max.toFixed(1)} ms | writers not stopped |`)
  }
  if (r.bigOpen) {
    const b = r.bigOpen
    lines.push(`| open after ${fmt(b.writes)} writes over ${fmt(b.keys)} keys | ${(b.openMs / 1000).toFixed(2)} s (checkpoint ${fmt(b.checkpointKeys)} keys + ${fmt(b.tailEvents)} tail events) | ≤ 5 s for 10M/1M: ${b.writes >= 1e7 ? (b.openMs <= 5000 ? 'PASS' : 'MISS') : 'n/a at quick size'} |`)
  }
  if (r.stream1) lines.push(`| change stream, 1 subscriber | ${fmt(r.stream1.deliveredPerSec)} changes/s | — |`)
  if (r.stream10) lines.push(`| change stream, 10 subscribers | ${fmt(r.stream10.deliveredPerSec)} changes/s in total | — |`)
  if (r.getAt) lines.push(`| getAt on a ${fmt(r.getAt.events)}-event log | p50 ${(r.getAt.p50Ms * 1000).toFixed(0)} µs, p99 ${(r.getAt.p99Ms * 1000).toFixed(0)} µs (index built in ${r.getAt.indexBuildMs.toFixed(0)} ms on first use) | — |`)
  if (r.range) lines.push(`| put with the ordered index (range reads) vs without | ×${r.range.ratio.toFixed(2)} (${fmt(r.range.putWithOrderedIndex)}/s vs ${fmt(r.range.putPlain)}/s) | — |`, `| range scan of 100 keys | ${fmt(r.range.scans100PerSec)} scans/s | — |`)
  lines.push('<!-- features:end -->')
  return lines.join('\n')
}

if (ONLY.has('recovery')) await recovery()
if (ONLY.has('streams')) await streams()
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true })
fs.writeFileSync(path.join(HERE, 'results', 'features.json'), JSON.stringify({ date: new Date().toISOString(), quick: QUICK, results }, null, 2))
const md = markdown()
console.log(md)
const resultsMd = path.join(HERE, 'RESULTS.md')
if (ONLY.size === 2 && fs.existsSync(resultsMd)) {
  let text = fs.readFileSync(resultsMd, 'utf8')
  const re = /<!-- features:start -->[\s\S]*<!-- features:end -->/
  text = re.test(text) ? text.replace(re, md) : `${text.trimEnd()}\n\n${md}\n`
  fs.writeFileSync(resultsMd, text)
}
