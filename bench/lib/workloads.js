// The workloads. Each takes the shared context (options, pre-generated keys/values, a temp
// root) and returns plain data for the report. Nothing here is timed except the inner loops.
import fs from 'node:fs'
import path from 'node:path'
import { Packr } from 'msgpackr'
import { open } from '../../dist/index.js'
import { uniformSequence, zipfianSequence, topShare } from './data.js'
import { fmtInt, fmtMs, fmtRate, gc, now, percentile, progress, summarize } from './measure.js'

function tempDir(ctx, label) {
  return fs.mkdtempSync(path.join(ctx.tmpRoot, `${label}-`))
}

function rmDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true })
}

function dirBytes(dir) {
  let total = 0
  for (const f of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, f))
    if (st.isFile()) total += st.size
  }
  return total
}

function assert(cond, msg) {
  if (!cond) throw new Error(`benchmark sanity check failed: ${msg}`)
}

// ---------------------------------------------------------------------------------------------
// 1-3: bulk load. Baseline, buffered and memory rounds are interleaved (b, B, m, b, B, m, ...)
// so that all three see the same machine conditions; each reports the median of its rounds.

/** The exact msgpackr configuration IsLabDB uses for values. */
function makePackr() {
  return new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint' })
}

function baselineLoop(packr, map, keys, values, from, to) {
  for (let i = from; i < to; i++) map.set(keys[i], packr.pack(values[i]))
}

function baselineRound(ctx, packr) {
  const { keys, values, n } = ctx
  const map = new Map()
  gc()
  const t0 = now()
  baselineLoop(packr, map, keys, values, 0, n)
  const ms = now() - t0
  assert(map.size === n, `baseline map has ${map.size} keys, expected ${n}`)
  let bytes = 0
  for (const b of map.values()) bytes += b.length
  return { ms, opsPerSec: n / (ms / 1000), avgValueBytes: bytes / n }
}

/**
 * How a user bulk-loads: issue `chunk` puts without awaiting each, await them together with
 * Promise.all (so an error surfaces per chunk), repeat; then flush so the data is on disk.
 */
async function loadChunked(db, keys, values, from, to, chunk) {
  for (let i = from; i < to; i += chunk) {
    const end = Math.min(to, i + chunk)
    const ps = new Array(end - i)
    for (let j = i; j < end; j++) ps[j - i] = db.put(keys[j], values[j])
    await Promise.all(ps)
  }
}

async function dbPutRound(ctx, durability, keepDir) {
  const { keys, values, n, chunk } = ctx
  const dir = durability === 'memory' ? undefined : tempDir(ctx, durability)
  const db = await open({ dir, durability })
  gc()
  const t0 = now()
  await loadChunked(db, keys, values, 0, n, chunk)
  await db.flush()
  const ms = now() - t0
  const st = db.stats()
  assert(db.size === n, `${durability} db has ${db.size} keys, expected ${n}`)
  assert(st.durableSeq === st.seq, `${durability} durableSeq ${st.durableSeq} != seq ${st.seq} after flush`)
  await db.close()
  const walBytes = dir === undefined ? 0 : dirBytes(dir)
  if (dir !== undefined && !keepDir) rmDir(dir)
  return { ms, opsPerSec: n / (ms / 1000), walBytes, dir: keepDir ? dir : undefined }
}

async function warmUpPuts(ctx, which) {
  // A short run of each loop on throwaway data, so round 1 does not pay for compilation.
  const m = Math.min(ctx.n, 10_000)
  if (which.has('baseline')) baselineLoop(makePackr(), new Map(), ctx.keys, ctx.values, 0, m)
  for (const durability of ['buffered', 'memory']) {
    if (!which.has(durability)) continue
    const dir = durability === 'memory' ? undefined : tempDir(ctx, `warm-${durability}`)
    const db = await open({ dir, durability })
    await loadChunked(db, ctx.keys, ctx.values, 0, m, ctx.chunk)
    await db.flush()
    await db.close()
    if (dir !== undefined) rmDir(dir)
  }
}

export async function runPuts(ctx, which, out) {
  const selected = ['baseline', 'buffered', 'memory'].filter((w) => which.has(w))
  if (selected.length === 0) return
  progress(`bulk load of ${fmtInt(ctx.n)} keys: warming up ${selected.join(', ')}`)
  await warmUpPuts(ctx, which)
  const packr = makePackr()
  const rounds = { baseline: [], buffered: [], memory: [] }
  for (let r = 0; r < ctx.rounds; r++) {
    for (const w of selected) {
      let res
      if (w === 'baseline') res = baselineRound(ctx, packr)
      else res = await dbPutRound(ctx, w, w === 'buffered' && r === ctx.rounds - 1 && which.has('replay'))
      rounds[w].push(res)
      progress(`[${w}] round ${r + 1}/${ctx.rounds}: ${fmtInt(ctx.n)} puts in ${fmtMs(res.ms)} → ${fmtRate(res.opsPerSec)} ops/s`)
    }
  }
  for (const w of selected) {
    const rs = rounds[w]
    out[w] = { ...summarize(rs.map((x) => x.opsPerSec)), ms: rs.map((x) => x.ms) }
    if (w === 'baseline') out[w].avgValueBytes = rs[0].avgValueBytes
    if (w === 'buffered') {
      out[w].walBytes = rs[rs.length - 1].walBytes
      out[w].chunk = ctx.chunk
      const kept = rs[rs.length - 1].dir
      if (kept !== undefined) ctx.loadedDir = kept
    }
    if (w === 'memory') out[w].chunk = ctx.chunk
  }
  if (out.baseline && out.buffered) {
    out.buffered.perRoundRatio = rounds.buffered.map((x, i) => x.opsPerSec / rounds.baseline[i].opsPerSec)
  }
}

// ---------------------------------------------------------------------------------------------
// 4: point lookups. Map.get and db.get walk the same pre-generated key array; both loops read
// one field of the value so neither can be optimised away.

function mapLoop(map, seq) {
  let acc = 0
  for (let i = 0; i < seq.length; i++) acc += map.get(seq[i]).id
  return acc
}

function dbLoop(db, seq) {
  let acc = 0
  for (let i = 0; i < seq.length; i++) acc += db.get(seq[i]).id
  return acc
}

function timeLoop(fn, target, seq) {
  gc()
  const t0 = now()
  const acc = fn(target, seq)
  const ms = now() - t0
  return { ms, opsPerSec: seq.length / (ms / 1000), acc }
}

export async function runGets(ctx, out) {
  const { keys, values, n, lookups } = ctx
  progress(`lookups: generating ${fmtInt(lookups)} uniform and Zipfian(θ=0.99) keys over ${fmtInt(n)}; loading Map and db (memory mode)`)
  const seqU = uniformSequence(keys, lookups, 1)
  const seqZ = zipfianSequence(keys, lookups, 0.99, 2)
  const skew = topShare(seqZ, Math.max(1, Math.floor(n / 100)))
  const map = new Map()
  for (let i = 0; i < n; i++) map.set(keys[i], values[i])
  const db = await open({ durability: 'memory' })
  await loadChunked(db, keys, values, 0, n, ctx.chunk)

  // Warm both loops up on a separate small Map/db, so the measured db's values stay undecoded
  // for the cold pass.
  const wn = Math.min(n, 5_000)
  const warmKeys = keys.slice(0, wn)
  const warmSeq = uniformSequence(warmKeys, 200_000, 3)
  const warmMap = new Map()
  for (let i = 0; i < wn; i++) warmMap.set(keys[i], values[i])
  const warmDb = await open({ durability: 'memory' })
  await loadChunked(warmDb, keys, values, 0, wn, ctx.chunk)
  for (let k = 0; k < 3; k++) {
    mapLoop(warmMap, warmSeq)
    dbLoop(warmDb, warmSeq)
  }
  await warmDb.close()

  const expectU = mapLoop(map, seqU)
  const cold = timeLoop(dbLoop, db, seqU)
  assert(cold.acc === expectU, 'db.get returned different values than Map.get')
  progress(`[get] cold db.get (uniform; first touch of each key decodes it): ${fmtRate(cold.opsPerSec)} lookups/s`)

  const r = { mapU: [], dbU: [], mapZ: [], dbZ: [] }
  for (let k = 0; k < ctx.rounds; k++) {
    r.mapU.push(timeLoop(mapLoop, map, seqU).opsPerSec)
    r.dbU.push(timeLoop(dbLoop, db, seqU).opsPerSec)
    r.mapZ.push(timeLoop(mapLoop, map, seqZ).opsPerSec)
    r.dbZ.push(timeLoop(dbLoop, db, seqZ).opsPerSec)
    progress(
      `[get] round ${k + 1}/${ctx.rounds}: uniform Map ${fmtRate(r.mapU[k])}/s db ${fmtRate(r.dbU[k])}/s · ` +
        `zipf Map ${fmtRate(r.mapZ[k])}/s db ${fmtRate(r.dbZ[k])}/s`,
    )
  }
  await db.close()
  out.get = {
    lookups,
    zipfTheta: 0.99,
    zipfTop1PercentShare: skew.share,
    zipfDistinctKeys: skew.distinct,
    mapUniform: summarize(r.mapU),
    dbUniform: summarize(r.dbU),
    dbUniformCold: { median: cold.opsPerSec, min: cold.opsPerSec, max: cold.opsPerSec, samples: [cold.opsPerSec] },
    mapZipf: summarize(r.mapZ),
    dbZipf: summarize(r.dbZ),
    perRoundRatioUniform: r.dbU.map((x, i) => x / r.mapU[i]),
    perRoundRatioZipf: r.dbZ.map((x, i) => x / r.mapZ[i]),
  }
}

// ---------------------------------------------------------------------------------------------
// 5: the disk's raw fdatasync rate, with the same 100-byte appends the WAL would make.

export function measureFsync(ctx, seconds, label) {
  const dir = tempDir(ctx, 'fsync')
  const file = path.join(dir, 'probe')
  const fd = fs.openSync(file, 'a')
  const buf = Buffer.alloc(100, 0x61)
  try {
    for (let i = 0; i < 20; i++) {
      fs.writeSync(fd, buf)
      fs.fdatasyncSync(fd)
    }
    const t0 = now()
    const end = t0 + seconds * 1000
    let count = 0
    let t = t0
    while (t < end) {
      fs.writeSync(fd, buf)
      fs.fdatasyncSync(fd)
      count++
      t = now()
    }
    const ms = t - t0
    const rate = count / (ms / 1000)
    progress(`[fsync ${label}] ${fmtInt(count)} write+fdatasync in ${fmtMs(ms)} → ${fmtRate(rate)} fsyncs/s`)
    return { label, count, ms, rate }
  } finally {
    fs.closeSync(fd)
    rmDir(dir)
  }
}

// ---------------------------------------------------------------------------------------------
// 6: sync-mode puts: `writers` async loops, each awaiting its own put before issuing the next.

export async function runSyncPuts(ctx, writers) {
  const { keys, values, n } = ctx
  const dir = tempDir(ctx, `sync${writers}`)
  const db = await open({ dir, durability: 'sync' })
  let next = 0
  const writer = async (deadline, lat) => {
    let count = 0
    while (now() < deadline) {
      const i = next++ % n
      const t = now()
      await db.put(keys[i], values[i])
      if (lat !== undefined) lat.push(now() - t)
      count++
    }
    return count
  }
  try {
    const warmEnd = now() + ctx.syncWarmSeconds * 1000
    await Promise.all(Array.from({ length: writers }, () => writer(warmEnd, undefined)))
    gc()
    const lat = []
    const t0 = now()
    const deadline = t0 + ctx.syncSeconds * 1000
    const counts = await Promise.all(Array.from({ length: writers }, () => writer(deadline, lat)))
    const ms = now() - t0
    const ops = counts.reduce((a, b) => a + b, 0)
    const st = db.stats()
    assert(st.durableSeq === st.seq, `sync durableSeq ${st.durableSeq} != seq ${st.seq}`)
    const res = {
      writers,
      ops,
      ms,
      opsPerSec: ops / (ms / 1000),
      latencyMs: { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: Math.max(...lat) },
    }
    progress(
      `[sync ×${writers}] ${fmtInt(ops)} puts in ${fmtMs(ms)} → ${fmtRate(res.opsPerSec)} ops/s ` +
        `(latency p50 ${res.latencyMs.p50.toFixed(2)} ms, p99 ${res.latencyMs.p99.toFixed(2)} ms)`,
    )
    return res
  } finally {
    await db.close()
    rmDir(dir)
  }
}

// ---------------------------------------------------------------------------------------------
// 7: replay. Reopen the directory the last buffered round loaded (or load one, untimed).

export async function runReplay(ctx, out) {
  const { n } = ctx
  let dir = ctx.loadedDir
  if (dir === undefined) {
    progress(`[replay] no buffered run to reuse: loading ${fmtInt(n)} keys (untimed)`)
    dir = tempDir(ctx, 'replay')
    const db = await open({ dir, durability: 'buffered' })
    await loadChunked(db, ctx.keys, ctx.values, 0, n, ctx.chunk)
    await db.close()
  }
  const walBytes = dirBytes(dir)
  const rounds = []
  try {
    for (let r = 0; r < ctx.rounds; r++) {
      gc()
      const t0 = now()
      const db = await open({ dir, durability: 'buffered' })
      const openMs = now() - t0
      const rec = db.stats().recovery
      assert(db.size === n, `reopened db has ${db.size} keys, expected ${n}`)
      assert(rec.eventsReplayed === n, `replayed ${rec.eventsReplayed} events, expected ${n}`)
      await db.close()
      const res = {
        openMs,
        recoveryMs: rec.timeMs,
        eventsReplayed: rec.eventsReplayed,
        segmentsRead: rec.segmentsRead,
        eventsPerSec: rec.eventsReplayed / (rec.timeMs / 1000),
      }
      rounds.push(res)
      progress(
        `[replay] round ${r + 1}/${ctx.rounds}: open ${fmtMs(openMs)} (recovery ${fmtMs(rec.timeMs)}), ` +
          `${fmtInt(rec.eventsReplayed)} events → ${fmtRate(res.eventsPerSec)} events/s`,
      )
    }
  } finally {
    rmDir(dir)
    ctx.loadedDir = undefined
  }
  out.replay = {
    ...summarize(rounds.map((x) => x.eventsPerSec)),
    openMs: summarize(rounds.map((x) => x.openMs)),
    recoveryMs: summarize(rounds.map((x) => x.recoveryMs)),
    eventsReplayed: rounds[0].eventsReplayed,
    segmentsRead: rounds[0].segmentsRead,
    walBytes,
  }
}
