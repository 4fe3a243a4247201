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
  // Typed arrays keep their contents outside the JS heap: count both.
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
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
/** Heap the index holds: measured with it, then without it (dropped, as if never built). */
async function indexBytes() {
  const withIndex = await heap()
  const versions = db.history_.versionCount ?? countOld(db.history_)
  db.history_.close()
  db.history_ = undefined
  const without = await heap()
  return { bytes: withIndex - without, versions }
}
/** Versions in the index before this change (a Map of arrays of objects). */
const countOld = (index) => [...index.versions.values()].reduce((n, l) => n + l.length, 0)

await load(db, 0, 2 * EVENTS)
const build = await longestStall(() => db.getAt(key(1), { seq: 1 }).catch(() => undefined))
const built = await indexBytes()
await db.getAt(key(1), { seq: 1 })
await load(db, 2 * EVENTS, EVENTS)
const live = await indexBytes()
await db.getAt(key(1), { seq: 1 })
await load(db, 3 * EVENTS, EVENTS)
const before = db.history_.versionCount ?? countOld(db.history_)
const cp = await db.checkpoint()
const pruned = await indexBytes()
const per = (m) => +(m.bytes / m.versions).toFixed(1)
const out = {
  dist,
  keys: KEYS,
  firstGetAt: { versions: 2 * EVENTS, ms: +build.ms.toFixed(1), longestStallMs: +build.worstGapMs.toFixed(1) },
  built: { versions: built.versions, MB: +(built.bytes / 2 ** 20).toFixed(1), bytesPerVersion: per(built) },
  builtThenLive: { versions: live.versions, MB: +(live.bytes / 2 ** 20).toFixed(1), bytesPerVersion: per(live) },
  afterPrune: { segmentsDeleted: cp.segmentsDeleted.length, versionsBefore: before, versionsAfter: pruned.versions, MB: +(pruned.bytes / 2 ** 20).toFixed(1) },
}
console.log(JSON.stringify(out, null, 2))
await db.close()
fs.rmSync(dir, { recursive: true, force: true })
