// Close → open → first get of a 200k-key database, the peer bench's restart workload alone, for
// comparing builds in one run: each round loads a fresh directory with every build given (in
// turn, alternating), closes it (timed), and reopens it in a fresh process (timed until the first
// get answers). Modes: `wal` (no checkpoint before close), `checkpoint` (db.checkpoint() first,
// not timed) and `onclose` (opened with checkpoint.onClose: 1, so close() writes one, timed).
// Usage: node bench/restart.js [--n 200000] [--rounds 3] [--modes wal,checkpoint,onclose] [--dist dir ...]
//   --dist: a build's dist/ directory (default: this checkout's); give several to compare them.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { shuffledIndices, userKey, userValue } from './lib/data.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const argv = process.argv.slice(2)

if (argv[0] === '--child') {
  // Fresh process: the module is loaded before the clock starts, as reopen.js does.
  const [, dist, dir] = argv
  const { open } = await import(pathToFileURL(path.join(dist, 'index.js')).href)
  const t0 = performance.now()
  const db = await open({ dir, durability: 'buffered' })
  const v = db.get(userKey(0))
  const ms = performance.now() - t0
  if (v?.id !== 0) throw new Error('first get returned the wrong value')
  const r = db.stats().recovery
  await db.close()
  process.stdout.write(JSON.stringify({ ms, recovery: { checkpointKeys: r.checkpointKeys, eventsReplayed: r.eventsReplayed, timeMs: r.timeMs } }))
  process.exit(0)
}

const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`)
  return i < 0 ? def : argv[i + 1]
}
const n = Number(opt('n', 200000))
const rounds = Number(opt('rounds', 3))
const modes = opt('modes', 'wal,checkpoint').split(',')
const dists = argv.flatMap((a, i) => (a === '--dist' ? [path.resolve(argv[i + 1])] : []))
if (dists.length === 0) dists.push(path.join(here, '..', 'dist'))
const order = shuffledIndices(n, 5)
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-restart-'))
const results = new Map()

async function once(dist, mode) {
  const { open } = await import(pathToFileURL(path.join(dist, 'index.js')).href)
  const dir = fs.mkdtempSync(path.join(root, 'db-'))
  let db = await open({ dir, durability: 'buffered', ...(mode === 'onclose' ? { checkpoint: { onClose: 1 } } : {}) })
  for (let i = 0; i < n; i += 1000) {
    const ps = []
    for (let j = i; j < Math.min(n, i + 1000); j++) ps.push(db.put(userKey(order[j]), userValue(order[j])))
    await Promise.all(ps)
  }
  await db.flush()
  let checkpointMs
  if (mode === 'checkpoint') {
    const t = performance.now()
    await db.checkpoint()
    checkpointMs = performance.now() - t
  }
  const tc = performance.now()
  await db.close()
  const closeMs = performance.now() - tc
  db = undefined
  const out = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dist, dir], { encoding: 'utf8' }))
  fs.rmSync(dir, { recursive: true, force: true })
  return { closeMs, checkpointMs, ...out }
}

const fmt = (x) => (x === undefined ? '—' : x.toFixed(1))
try {
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      for (const dist of dists) {
        globalThis.gc?.()
        const res = await once(dist, mode)
        const key = `${mode} ${dist}`
        if (!results.has(key)) results.set(key, [])
        results.get(key).push(res)
        console.log(
          `round ${r + 1} ${mode.padEnd(10)} ${dist}: close ${fmt(res.closeMs)} ms, open+get ${fmt(res.ms)} ms, total ${fmt(res.closeMs + res.ms)} ms` +
            ` (checkpoint ${fmt(res.checkpointMs)} ms; loaded ${res.recovery.checkpointKeys} keys, replayed ${res.recovery.eventsReplayed} events)`,
        )
      }
    }
  }
  console.log('\nmedians (ms):')
  const med = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
  for (const [key, rs] of results) {
    console.log(`${key}: close ${fmt(med(rs.map((x) => x.closeMs)))}, open+get ${fmt(med(rs.map((x) => x.ms)))}, total ${fmt(med(rs.map((x) => x.closeMs + x.ms)))}`)
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
