// What the time-travel index costs: heap bytes per indexed version (built from the log, and kept
// current from live writes), what a checkpoint with pruning gives back, and the longest stretch
// the event loop went without a turn while the first getAt built the index.
// Usage: node --expose-gc bench/historyMemory.js [--events N] [--keys K] [--dist path/to/dist]
// (--dist lets the same script measure another build, e.g. the code before a change.)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const args = process.argv.slice(2)
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt)
const EVENTS = Number(arg('--events', 300_000))
const KEYS = Number(arg('--keys', 10_000))
const dist = path.resolve(arg('--dist', new URL('../dist', import.meta.url).pathname))
const { open } = await import(pathToFileURL(path.join(dist, 'index.js')).href)

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
const heap = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage().heapUsed
}
const key = (i) => `key:${String(i % KEYS).padStart(8, '0')}`

/** The longest gap between event-loop turns while `fn` runs. */
async function longestStall(fn) {
  let last = performance.now()
  let worst = 0
  let on = true
  const tick = () => {
    const now = performance.now()
    worst = Math.max(worst, now - last)
    last = now
    if (on) setImmediate(tick)
  }
  setImmediate(tick)
  const t = performance.now()
  await fn()
  on = false
  return { ms: performance.now() - t, worstGapMs: Math.max(worst, performance.now() - last) }
}

async function load(db, from, n) {
  let pending = []
  for (let i = from; i < from + n; i++) {
    pending.push(db.put(key(i), { i, pad: 'x'.repeat(20) }))
    if (pending.length >= 1000) {
      await Promise.all(pending)
      pending = []
    }
  }
  await Promise.all(pending)
  await db.flush()
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-histmem-'))
const db = await open({ dir, checkpoint: { auto: false, keep: 1 }, segmentBytes: 4 * 1024 * 1024, physics: false })
await load(db, 0, EVENTS)
const h0 = await heap()
const build = await longestStall(() => db.getAt(key(1), { seq: 1 }).catch(() => undefined))
const h1 = await heap()
await load(db, EVENTS, EVENTS)
const h2 = await heap()
const cp = await db.checkpoint()
await db.getAt(key(1), { seq: db.seq }).catch(() => undefined)
const h3 = await heap()
const out = {
  dist,
  events: EVENTS,
  keys: KEYS,
  firstGetAt: { ms: +build.ms.toFixed(1), longestStallMs: +build.worstGapMs.toFixed(1) },
  bytesPerVersionBuilt: +((h1 - h0) / EVENTS).toFixed(1),
  bytesPerVersionLive: +((h2 - h1) / EVENTS).toFixed(1),
  afterPrune: { segmentsDeleted: cp.segmentsDeleted.length, heapFreedMB: +((h2 - h3) / 2 ** 20).toFixed(1), heapOverBaselineMB: +((h3 - h0) / 2 ** 20).toFixed(1) },
}
console.log(JSON.stringify(out, null, 2))
await db.close()
fs.rmSync(dir, { recursive: true, force: true })
