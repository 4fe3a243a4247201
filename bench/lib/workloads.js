// The workloads. Each takes the shared context (options, pre-generated keys/values, a temp
// root) and returns plain data for the report. Nothing here is timed except the inner loops.
import fs from 'node:fs'
import path from 'node:path'
import { Packr } from 'msgpackr'
import { open } from '../../dist/index.js'
import { uniformSequence, zipfianSequence, topShare } from './data.js'
import { fmtInt, fmtMs, fmtRate, gc, median, now, openWindow, percentile, progress, summarize } from './measure.js'

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
  const win = openWindow('baseline')
  const t0 = now()
  baselineLoop(packr, map, keys, values, 0, n)
  const ms = now() - t0
  win()
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
  const win = openWindow(durability)
  const t0 = now()
  await loadChunked(db, keys, values, 0, n, chunk)
  const issuedMs = now() - t0
  await db.flush()
  const ms = now() - t0
  win()
  const st = db.stats()
  assert(db.size === n, `${durability} db has ${db.size} keys, expected ${n}`)
  assert(st.durableSeq === st.seq, `${durability} durableSeq ${st.durableSeq} != seq ${st.seq} after flush`)
  await db.close()
  const walBytes = dir === undefined ? 0 : dirBytes(dir)
  if (dir !== undefined && !keepDir) rmDir(dir)
  return { ms, issuedMs, flushMs: ms - issuedMs, opsPerSec: n / (ms / 1000), walBytes, dir: keepDir ? dir : undefined }
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
      const split = w === 'buffered' ? ` (puts resolved after ${fmtMs(res.issuedMs)}, flush ${fmtMs(res.flushMs)})` : ''
      progress(`[${w}] round ${r + 1}/${ctx.rounds}: ${fmtInt(ctx.n)} puts in ${fmtMs(res.ms)}${split} → ${fmtRate(res.opsPerSec)} ops/s`)
    }
  }
  for (const w of selected) {
    const rs = rounds[w]
    out[w] = { ...summarize(rs.map((x) => x.opsPerSec)), ms: rs.map((x) => x.ms) }
    if (w === 'baseline') out[w].avgValueBytes = rs[0].avgValueBytes
    if (w === 'buffered') {
      out[w].walBytes = rs[rs.length - 1].walBytes
      out[w].issuedMs = rs.map((x) => x.issuedMs)
      out[w].flushMs = rs.map((x) => x.flushMs)
      out[w].chunk = ctx.chunk
      const kept = rs[rs.length - 1].dir
      if (kept !== undefined) ctx.loadedDir = kept
    }
    if (w === 'memory') out[w].chunk = ctx.chunk
  }
  // Each round against the baseline round run just before it: the pairs saw the same machine.
  if (out.baseline) {
    for (const w of ['buffered', 'memory']) {
      if (out[w]) out[w].perRoundRatio = rounds[w].map((x, i) => x.opsPerSec / rounds.baseline[i].opsPerSec)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 4: point lookups. Map.get and db.get walk the same pre-generated key array; both loops read
// one field of the value so neither can be optimised away.

function mapLoop(map, seq, from, to) {
  let acc = 0
  for (let i = from; i < to; i++) acc += map.get(seq[i]).id
  return acc
}

function dbLoop(db, seq, from, to) {
  let acc = 0
  for (let i = from; i < to; i++) acc += db.get(seq[i]).id
  return acc
}

function timeLoop(fn, target, seq, label) {
  gc()
  const win = openWindow(label)
  const t0 = now()
  const acc = fn(target, seq, 0, seq.length)
  const ms = now() - t0
  win()
  return { ms, opsPerSec: seq.length / (ms / 1000), acc }
}

/** Lookup passes are split into this many slices, alternating Map and db slice by slice. */
const GET_SLICES = 8

/**
 * One round over `seq` for both Map and db, alternating slice by slice (Map slice 1, db slice 1,
 * Map slice 2, ...) so both see the same machine at the same ~0.1 s scale; memory-bound loops on
 * a shared machine drift with what the neighbours do to the caches.
 */
function pairedRound(map, db, seq, tag) {
  gc()
  const step = Math.ceil(seq.length / GET_SLICES)
  let mapMs = 0
  let dbMs = 0
  for (let from = 0; from < seq.length; from += step) {
    const to = Math.min(seq.length, from + step)
    let win = openWindow(`get:map-${tag}`)
    let t0 = now()
    mapLoop(map, seq, from, to)
    mapMs += now() - t0
    win()
    win = openWindow(`get:db-${tag}`)
    t0 = now()
    dbLoop(db, seq, from, to)
    dbMs += now() - t0
    win()
  }
  return { map: seq.length / (mapMs / 1000), db: seq.length / (dbMs / 1000) }
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
    mapLoop(warmMap, warmSeq, 0, warmSeq.length)
    dbLoop(warmDb, warmSeq, 0, warmSeq.length)
  }
  await warmDb.close()

  const expectU = mapLoop(map, seqU, 0, seqU.length)
  const cold = timeLoop(dbLoop, db, seqU, 'get:db-cold')
  assert(cold.acc === expectU, 'db.get returned different values than Map.get')
  progress(`[get] cold db.get (uniform; first touch of each key decodes it): ${fmtRate(cold.opsPerSec)} lookups/s`)

  const r = { mapU: [], dbU: [], mapZ: [], dbZ: [] }
  for (let k = 0; k < ctx.rounds; k++) {
    const u = pairedRound(map, db, seqU, 'uniform')
    const z = pairedRound(map, db, seqZ, 'zipf')
    r.mapU.push(u.map)
    r.dbU.push(u.db)
    r.mapZ.push(z.map)
    r.dbZ.push(z.db)
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

export function measureFsync(ctx, seconds, label, bytes = 100) {
  const dir = tempDir(ctx, 'fsync')
  const file = path.join(dir, 'probe')
  const fd = fs.openSync(file, 'a')
  const buf = Buffer.alloc(bytes, 0x61)
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
    progress(`[fsync probe ${label}] ${fmtInt(count)} writeSync(${fmtInt(bytes)} B)+fdatasyncSync in ${fmtMs(ms)} → ${fmtRate(rate)} fsyncs/s`)
    return { label, bytes, count, ms, rate }
  } finally {
    fs.closeSync(fd)
    rmDir(dir)
  }
}

/**
 * The same 100-byte append + fdatasync, but through the async fs calls (libuv threadpool), the
 * way the WAL writer issues them: the ceiling for one commit at a time from the event loop.
 */
export async function measureFsyncAsync(ctx, seconds) {
  const dir = tempDir(ctx, 'fsync-async')
  const fd = fs.openSync(path.join(dir, 'probe'), 'a')
  const buf = Buffer.alloc(100, 0x61)
  const write = () => new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, null, (e) => (e ? rej(e) : res())))
  const sync = () => new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())))
  try {
    for (let i = 0; i < 20; i++) {
      await write()
      await sync()
    }
    const t0 = now()
    const end = t0 + seconds * 1000
    let count = 0
    let t = t0
    while (t < end) {
      await write()
      await sync()
      count++
      t = now()
    }
    const ms = t - t0
    const rate = count / (ms / 1000)
    progress(`[fsync probe async] ${fmtInt(count)} fs.write+fs.fdatasync (callback API) in ${fmtMs(ms)} → ${fmtRate(rate)} fsyncs/s`)
    return { count, ms, rate }
  } finally {
    fs.closeSync(fd)
    rmDir(dir)
  }
}

// ---------------------------------------------------------------------------------------------
// 6: sync-mode puts: `writers` async loops, each awaiting its own put before issuing the next.
//    Run interleaved with the fsync probes of 5 by runDisk below.

/**
 * Wraps IsLabDB's default file layer (an internal module, loaded if present) to count WAL
 * write/fdatasync calls and the time each takes, so a sync run can say how many commits it made,
 * how many puts each carried, and how much of the wall time the disk calls were in flight.
 * Costs two performance.now() calls and one extra promise per I/O call (~1k-3k per second).
 */
async function instrumentedFileLayer() {
  let base
  try {
    base = (await import('../../dist/io/nodeFileLayer.js')).nodeFileLayer
  } catch {
    return undefined
  }
  if (base === undefined || typeof base.openAppend !== 'function') return undefined
  const io = { writes: 0, writeBytes: 0, writeMs: 0, syncs: 0, syncMs: 0, recording: false }
  const layer = {
    ...base,
    openAppend(p) {
      const f = base.openAppend(p)
      return {
        async write(data) {
          const t = now()
          await f.write(data)
          if (io.recording) {
            io.writes++
            io.writeBytes += data.length
            io.writeMs += now() - t
          }
        },
        async datasync() {
          const t = now()
          await f.datasync()
          if (io.recording) {
            io.syncs++
            io.syncMs += now() - t
          }
        },
        truncate: (len) => f.truncate(len),
        close: () => f.close(),
      }
    },
  }
  return { layer, io }
}

/** One timed run of `writers` closed-loop writers against a fresh sync-mode db. Raw counters. */
async function syncRound(ctx, writers, seconds, label) {
  const { keys, values, n } = ctx
  const dir = tempDir(ctx, `sync${writers}`)
  const inst = await instrumentedFileLayer()
  const db = await open({ dir, durability: 'sync', fileLayer: inst?.layer })
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
    if (inst) inst.io.recording = true
    const win = openWindow(`sync${writers}`)
    const t0 = now()
    const deadline = t0 + seconds * 1000
    const counts = await Promise.all(Array.from({ length: writers }, () => writer(deadline, lat)))
    const ms = now() - t0
    win()
    if (inst) inst.io.recording = false
    const ops = counts.reduce((a, b) => a + b, 0)
    const st = db.stats()
    assert(st.durableSeq === st.seq, `sync durableSeq ${st.durableSeq} != seq ${st.seq}`)
    const opsPerSec = ops / (ms / 1000)
    const io = inst && inst.io.syncs > 0 ? { ...inst.io } : undefined
    delete io?.recording
    progress(
      `[sync ×${writers} ${label}] ${fmtInt(ops)} puts in ${fmtMs(ms)} → ${fmtRate(opsPerSec)} ops/s` +
        (io ? `, ${(ops / io.syncs).toFixed(1)} puts/commit` : ''),
    )
    return { ops, ms, opsPerSec, lat, io }
  } finally {
    await db.close()
    rmDir(dir)
  }
}

/** Pools a workload's rounds: median throughput, latency percentiles over all puts, I/O counters. */
function poolSync(writers, rounds, refs) {
  const lat = rounds.flatMap((r) => r.lat)
  const ms = rounds.reduce((a, r) => a + r.ms, 0)
  const ops = rounds.reduce((a, r) => a + r.ops, 0)
  const out = {
    writers,
    ...summarize(rounds.map((r) => r.opsPerSec)),
    ops,
    ms,
    latencyMs: { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: percentile(lat, 1) },
    io: undefined,
    fsyncRef: undefined,
    perRoundRatio: undefined,
    ratio: undefined,
  }
  const ios = rounds.map((r) => r.io).filter(Boolean)
  if (ios.length === rounds.length) {
    const sum = (k) => ios.reduce((a, x) => a + x[k], 0)
    out.io = {
      commitsPerSec: sum('syncs') / (ms / 1000),
      putsPerCommit: ops / sum('syncs'),
      bytesPerWrite: sum('writeBytes') / Math.max(1, sum('writes')),
      avgWriteMs: sum('writeMs') / Math.max(1, sum('writes')),
      avgDatasyncMs: sum('syncMs') / sum('syncs'),
      ioBusyFraction: (sum('writeMs') + sum('syncMs')) / ms,
    }
  }
  if (refs !== undefined) {
    // Each round against the fsync rate measured around it (mean of the probes before and after).
    out.fsyncRef = refs
    out.perRoundRatio = rounds.map((r, i) => r.opsPerSec / (writers * refs[i]))
    out.ratio = median(out.perRoundRatio)
  }
  const io = out.io
  progress(
    `[sync ×${writers}] median ${fmtRate(out.median)} ops/s` +
      (out.ratio !== undefined ? ` = ${out.ratio.toFixed(2)} × ${writers} × fsync rate` : '') +
      `; latency p50 ${out.latencyMs.p50.toFixed(2)} ms, p99 ${out.latencyMs.p99.toFixed(2)} ms` +
      (io
        ? `; ${fmtRate(io.commitsPerSec)} commits/s × ${io.putsPerCommit.toFixed(1)} puts, write ${io.avgWriteMs.toFixed(3)} ms ` +
          `(${fmtInt(io.bytesPerWrite)} B) + fdatasync ${io.avgDatasyncMs.toFixed(3)} ms avg, disk calls in flight ${(io.ioBusyFraction * 100).toFixed(0)}% of the time`
        : ''),
  )
  return out
}

/** A 64-put group commit writes about 64 × 160 B; this probe shows what fdatasync costs at that size. */
const COMMIT_PROBE_BYTES = 10 * 1024

/**
 * 5 + 6 interleaved, because the disk is shared and its fsync rate drifts: R rounds of
 * [fsync probe, async fsync probe, sync ×1, sync ×64], then a closing probe. Each sync round is
 * compared with the mean of the probes just before and just after it.
 */
export async function runDisk(ctx, which, out) {
  const doFsync = which.has('fsync')
  const kinds = [1, 64].filter((w) => which.has(`sync${w}`))
  if (!doFsync && kinds.length === 0) return
  const R = ctx.diskRounds
  const probes = doFsync ? (kinds.length > 0 ? R + 1 : R) : 0
  const probeS = doFsync ? ctx.fsyncSeconds / probes : 0
  const sync = []
  const asyncProbes = []
  const bigProbes = []
  const rounds = { 1: [], 64: [] }
  for (let r = 0; r < R; r++) {
    if (doFsync) {
      sync.push(measureFsync(ctx, probeS, `${r + 1}`))
      asyncProbes.push(await measureFsyncAsync(ctx, probeS / 2))
      if (kinds.includes(64)) bigProbes.push(measureFsync(ctx, probeS / 2, `${r + 1}, commit-sized`, COMMIT_PROBE_BYTES))
    }
    for (const w of kinds) {
      rounds[w].push(await syncRound(ctx, w, ctx.syncSeconds / R, `round ${r + 1}/${R}`))
      gc()
    }
  }
  if (doFsync && kinds.length > 0) sync.push(measureFsync(ctx, probeS, `${R + 1} (closing)`))
  if (doFsync) {
    out.fsync = { ...summarize(sync.map((p) => p.rate)), probeSeconds: probeS, runs: sync }
    out.fsyncAsync = summarize(asyncProbes.map((p) => p.rate))
    if (bigProbes.length > 0) out.fsyncCommitSized = { ...summarize(bigProbes.map((p) => p.rate)), bytes: COMMIT_PROBE_BYTES }
  }
  const refs = doFsync && kinds.length > 0 ? Array.from({ length: R }, (_, i) => (sync[i].rate + sync[i + 1].rate) / 2) : undefined
  for (const w of kinds) out[`sync${w}`] = poolSync(w, rounds[w], refs)
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
      const win = openWindow('replay')
      const t0 = now()
      const db = await open({ dir, durability: 'buffered' })
      const openMs = now() - t0
      win()
      const rec = db.stats().recovery
      assert(db.size === n, `reopened db has ${db.size} keys, expected ${n}`)
      // An automatic checkpoint (by default after 128 MiB of WAL) would make recovery load it and
      // replay only the tail; the report then says so (checkpointSeq > 0).
      const fromCheckpoint = rec.checkpointSeq ?? 0
      assert(fromCheckpoint > 0 || rec.eventsReplayed === n, `replayed ${rec.eventsReplayed} events, expected ${n}`)
      await db.close()
      const res = {
        openMs,
        recoveryMs: rec.timeMs,
        eventsReplayed: rec.eventsReplayed,
        segmentsRead: rec.segmentsRead,
        checkpointSeq: fromCheckpoint,
        eventsPerSec: rec.eventsReplayed / (rec.timeMs / 1000),
      }
      rounds.push(res)
      progress(
        `[replay] round ${r + 1}/${ctx.rounds}: open ${fmtMs(openMs)} (recovery ${fmtMs(rec.timeMs)}), ` +
          `${fmtInt(rec.eventsReplayed)} events${fromCheckpoint ? ` after a checkpoint at seq ${fmtInt(fromCheckpoint)}` : ''} → ${fmtRate(res.eventsPerSec)} events/s`,
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
    checkpointSeq: rounds[0].checkpointSeq,
    walBytes,
  }
}
