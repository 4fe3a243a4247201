// Tables, ratios and target verdicts of the peer comparison, for the terminal and RESULTS.md.
import { fmtInt, fmtMs, fmtRate, median } from '../measure.js'
import { PEER_WORKLOADS } from './run.js'
import { LABELS, PEERS } from './systems.js'

const ORDER = ['map', 'islab', 'lmdb', 'level', 'sqlite', 'redis']
export const KIND_LABEL = { 100: '100 B', '4k': '4 KiB' }

export function fmtCell(unit, x) {
  if (x === undefined || !Number.isFinite(x)) return '—'
  if (unit === 'ms') return x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`
  if (unit === 'MiB') return x >= 100 ? `${x.toFixed(0)} MiB` : `${x.toFixed(1)} MiB`
  return fmtRate(x)
}

/** The number a cell shows; for Redis's reopen, its own AOF load time when it logged one. */
function cellValue(r) {
  if (r === undefined) return { text: '' }
  if (r.error) return { text: 'error', error: r.error }
  if (r.unsupported) return { text: 'n/a', note: r.unsupported }
  return { value: r.value }
}

/** IsLabDB ÷ peer for every workload (so > 1 is faster for ops/s, and < 1 is better for ms and MiB). */
function ratioOf(k, peer, id) {
  const a = k.systems.islab?.w[id]
  const b = k.systems[peer]?.w[id]
  if (!a || !b || a.value === undefined || b.value === undefined || !(b.value > 0)) return undefined
  return a.value / b.value
}

/** Per value size: the systems present, and one row per workload with every cell and every ratio. */
export function peerTable(peers, kind) {
  const k = peers.kinds[kind]
  const systems = ORDER.filter((s) => k.systems[s])
  const peersHere = PEERS.filter((s) => k.systems[s])
  const rows = PEER_WORKLOADS.map((w) => {
    const cells = {}
    for (const s of systems) cells[s] = cellValue(k.systems[s].w[w.id])
    const ratios = {}
    for (const p of peersHere) ratios[p] = ratioOf(k, p, w.id)
    let limit
    let vsLimit
    if (w.id === 'durable1' || w.id === 'durable64') {
      const writers = w.id === 'durable1' ? 1 : 64
      const ref = k.systems.islab?.w[w.id]?.fsyncRef ?? k.fsyncMedian
      if (ref) limit = { value: writers * ref, text: `${writers}×fsync` }
      vsLimit = k.systems.islab?.w[w.id]?.vsFsync
    } else if (k.systems.map) {
      // The bare Map with keys built per call, as every system here gets them.
      vsLimit = ratioOf(k, 'map', w.id)
    }
    return { ...w, cells, ratios, limit, vsLimit }
  })
  return { kind, n: k.n, systems, peers: peersHere, hasLimit: systems.includes('map'), rows }
}

function ratioText(w, r) {
  if (r === undefined) return ''
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(2)}×`
}

export function printPeerTables(peers) {
  for (const kind of Object.keys(peers.kinds)) {
    const t = peerTable(peers, kind)
    console.log(`\npeers, ${KIND_LABEL[kind]} values, ${fmtInt(t.n)} keys (one run; ratio = IsLabDB ÷ peer: > 1 faster for ops/s, < 1 better for ms and MiB)`)
    const head = ['workload', 'unit', ...t.systems.map((s) => LABELS[s]), ...(t.hasLimit ? ['÷ limit'] : []), ...t.peers.map((p) => `÷ ${LABELS[p]}`)]
    const body = t.rows.map((r) => [
      r.label,
      r.unit,
      ...t.systems.map((s) => {
        const c = r.cells[s]
        if (s === 'map' && r.limit) return `(${fmtCell(r.unit, r.limit.value)})`
        return c.value !== undefined ? fmtCell(r.unit, c.value) : c.text
      }),
      ...(t.hasLimit ? [ratioText(r, r.vsLimit)] : []),
      ...t.peers.map((p) => ratioText(r, r.ratios[p])),
    ])
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)))
    const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
    console.log(line(head))
    console.log(widths.map((w) => '-'.repeat(w)).join('  '))
    for (const b of body) console.log(line(b))
    console.log('(Map column: a bare Map with keys built per call; on the durable rows, k × the raw fdatasync rate, the limit for durable writes. "÷ limit": IsLabDB ÷ that column)')
  }
}

// ---------------------------------------------------------------------------------------------
// Targets (issue 16), judged at 100-byte values.

function v(k, sys, id) {
  return k?.systems[sys]?.w[id]
}

function judge(t) {
  const { measured, target, cmp } = t
  if (measured === undefined || !Number.isFinite(measured)) return { ...t, verdict: 'SKIP', pass: undefined }
  const pass = cmp === '≥' ? measured >= target : measured <= target
  let detail
  if (cmp === '≥') {
    detail = pass
      ? `${fmtRatio(measured)} ≥ ${fmtRatio(target)}: ${((measured / target - 1) * 100).toFixed(0)}% above target`
      : `${fmtRatio(measured)} < ${fmtRatio(target)}: ${((1 - measured / target) * 100).toFixed(0)}% short; needs ${(target / measured).toFixed(2)}× the throughput`
  } else {
    detail = pass
      ? `${fmtRatio(measured)} ≤ ${fmtRatio(target)}: ${((1 - measured / target) * 100).toFixed(0)}% under the limit`
      : `${fmtRatio(measured)} > ${fmtRatio(target)}: ${((measured / target - 1) * 100).toFixed(0)}% over; needs ${(measured / target).toFixed(2)}× less`
  }
  return { ...t, verdict: pass ? 'PASS' : 'MISS', pass, detail }
}

function fmtRatio(x) {
  if (x >= 1e5) return fmtRate(x)
  return x >= 100 ? x.toFixed(0) : x.toFixed(2)
}

/**
 * The targets of issue 16 at 100-byte values (and issue 8's replay rate, which issue 16 does not
 * restate). `profile` names the IsLabDB workload whose CPU profile explains a MISS (profile.js);
 * `skip` says why a target could not be judged.
 */
export function peerTargets(peers, results) {
  const k = peers?.kinds?.['100']
  if (!k) return []
  const out = []
  const ratio = (id, peer) => {
    const a = v(k, 'islab', id)?.value
    const b = v(k, peer, id)?.value
    return a !== undefined && b ? a / b : undefined
  }
  const skipReason = (peer) => (k.systems[peer] ? undefined : `${LABELS[peer]} did not run: ${peers.skipped[peer] ?? 'not selected'}`)
  const islabSkip = k.systems.islab ? undefined : 'IsLabDB did not run'
  const add = (t) => out.push({ ...judge(t), skip: t.measured === undefined ? (t.skip ?? islabSkip ?? 'not measured') : undefined })
  const vsLmdb = (id, target, cmp, name, what, profile = id) =>
    add({ id, name, what: `IsLabDB ÷ lmdb-js, ${what}`, measured: ratio(id, 'lmdb'), target, cmp, profile, skip: skipReason('lmdb') })
  vsLmdb('putSeq', 1.5, '≥', 'bulk load, sequential keys ≥ 1.5 × lmdb-js', 'bulk put with sequential keys (puts not awaited one by one)')
  vsLmdb('putRandom', 1.5, '≥', 'bulk load, random keys ≥ 1.5 × lmdb-js', 'bulk put with random keys (puts not awaited one by one)')
  vsLmdb('putAwaited', 50, '≥', 'awaited single puts ≥ 50 × lmdb-js', 'one writer awaiting each put')
  vsLmdb('getFirstUniform', 1, '≥', 'uniform gets, first pass after a load ≥ 1 × lmdb-js', `the first ${fmtInt(Math.min(k.n, 1 << 20))} uniform gets, ${k.systems.islab?.w.getFirstUniform?.distinct ? `${fmtInt(k.systems.islab.w.getFirstUniform.distinct)} distinct keys, ` : ''}after a ${peers.config.pauseMs ?? 200} ms pause`)
  vsLmdb('getUniform', 2, '≥', 'uniform gets, later passes ≥ 2 × lmdb-js', 'uniform gets on a warm store')
  vsLmdb('getZipf', 3, '≥', 'Zipfian gets ≥ 3 × lmdb-js (warm)', 'Zipfian gets on a warm store')
  vsLmdb('getFirstZipf', 3, '≥', 'Zipfian gets ≥ 3 × lmdb-js, also on the first pass after a load', 'the first pass of Zipfian gets after a load (a stricter reading of the Zipfian target)')
  add({ id: 'durable64Redis', name: 'durable put, 64 writers ≥ 1.5 × Redis appendfsync always', what: 'IsLabDB (sync mode, await put) ÷ Redis, durable put ×64', measured: ratio('durable64', 'redis'), target: 1.5, cmp: '≥', profile: 'durable64', skip: skipReason('redis') })
  const d64 = v(k, 'islab', 'durable64')
  add({ id: 'durable64Fsync', name: 'durable put, 64 writers ≥ 0.35 × 64 × fdatasync rate', what: `IsLabDB ÷ (64 × the fdatasync rate measured around it${d64?.fsyncRef ? `, ${fmtRate(d64.fsyncRef)}/s` : ''})`, measured: d64?.vsFsync, target: 0.35, cmp: '≥', profile: 'durable64' })
  const d1 = v(k, 'islab', 'durable1')
  add({ id: 'durable1Fsync', name: 'durable put, 1 writer ≥ 1 × fdatasync rate', what: `IsLabDB ÷ the fdatasync rate measured around it${d1?.fsyncRef ? ` (${fmtRate(d1.fsyncRef)}/s)` : ''}`, measured: d1?.vsFsync, target: 1, cmp: '≥', profile: 'durable1' })
  const rssA = v(k, 'islab', 'rss')?.value
  const rssL = v(k, 'lmdb', 'rss')?.value
  add({ id: 'rss', name: 'RSS added by the keys right after the load ≤ 1 × lmdb-js', what: 'IsLabDB ÷ lmdb-js, RSS added by the sequential load (fresh process), before any read', measured: rssA !== undefined && rssL ? rssA / rssL : undefined, target: 1, cmp: '≤', skip: skipReason('lmdb') })
  const rssWA = v(k, 'islab', 'rssWarm')?.value
  const rssWL = v(k, 'lmdb', 'rssWarm')?.value
  add({ id: 'rssWarm', name: 'RSS added by the keys after the warm passes ≤ 1 × lmdb-js (issue 8)', what: 'IsLabDB ÷ lmdb-js, RSS after the load, the first pass, a read of every key and two warm passes', measured: rssWA !== undefined && rssWL ? rssWA / rssWL : undefined, target: 1, cmp: '≤', skip: skipReason('lmdb') })
  const aofMs = v(k, 'redis', 'restart')?.value
  const restart = v(k, 'islab', 'restart')
  add({ id: 'restart', name: 'close → open → first read ≤ 0.15 × Redis AOF load, no checkpoint before close', what: `IsLabDB (close ${restart?.value !== undefined ? fmtMs(v(k, 'islab', 'close')?.value ?? NaN) : '?'} + open and first get in a fresh process) ÷ the AOF load time Redis logs for the same ${fmtInt(k.n)} writes`, measured: restart?.value !== undefined && aofMs ? restart.value / aofMs : undefined, target: 0.15, cmp: '≤', profile: 'reopen', skip: skipReason('redis') })
  const rc = v(k, 'islab', 'restartCheckpoint')
  add({ id: 'restartCheckpoint', name: 'close → open → first read ≤ 0.15 × Redis AOF load, db.checkpoint() before close', what: `IsLabDB (close${rc?.closeMs !== undefined ? ` ${fmtMs(rc.closeMs)}` : ''} + open and first get in a fresh process; the checkpoint itself${rc?.checkpointMs !== undefined ? `, ${fmtMs(rc.checkpointMs)},` : ''} not counted) ÷ Redis's AOF load time`, measured: rc?.value !== undefined && aofMs ? rc.value / aofMs : undefined, target: 0.15, cmp: '≤', profile: 'reopenCheckpoint', skip: skipReason('redis') })
  // Replay rate (issue 8): row 7 of this run when it ran (median of its rounds), else the peer run's reopen.
  let replay = results.replay?.median
  let replayWhat = 'row 7, events/s (median of its rounds)'
  if (replay === undefined) {
    const rec = v(k, 'islab', 'reopen')?.recovery
    if (rec && rec.timeMs > 0 && rec.eventsReplayed > 0) {
      replay = rec.eventsReplayed / (rec.timeMs / 1000)
      replayWhat = 'peer run reopen, events/s'
    }
  }
  add({ id: 'replay', name: 'replay ≥ 2M events/s (issue 8)', what: replayWhat, measured: replay, target: 2e6, cmp: '≥', profile: 'reopen', skip: 'IsLabDB replay did not run' })
  return out
}

/** Informational lines that go with the targets (not judged). */
export function peerInfo(peers, results) {
  const k = peers?.kinds?.['100']
  if (!k) return []
  const lines = []
  // The bare-Map ratios with keys built per call (the peer run's Map), next to rows 1–4's, whose keys are interned.
  const m = (id) => {
    const a = v(k, 'islab', id)?.value
    const b = v(k, 'map', id)?.value
    return a !== undefined && b ? a / b : undefined
  }
  const parts = [
    ['bulk put, random keys', m('putRandom')],
    ['get uniform, first pass', m('getFirstUniform')],
    ['get uniform, warm', m('getUniform')],
    ['get Zipfian, warm', m('getZipf')],
  ].filter(([, x]) => x !== undefined)
  if (parts.length) {
    let line = `IsLabDB ÷ a bare Map, keys built per call: ${parts.map(([w, x]) => `${w} ${x.toFixed(2)}×`).join(', ')}`
    const r4u = results?.get?.perRoundRatioUniform ? median(results.get.perRoundRatioUniform) : undefined
    if (r4u !== undefined) line += `; rows 1–4 (keys interned in an array): db.get ÷ Map.get uniform ${r4u.toFixed(2)}×`
    lines.push(`${line}.`)
  }
  const d = v(k, 'islab', 'durable64')
  if (d?.vsFsync !== undefined) lines.push(`IsLabDB durable put ×64: ${fmtRate(d.value)}/s = ${d.vsFsync.toFixed(2)} × (64 × the fdatasync rate measured around it, ${fmtRate(d.fsyncRef)}/s); p50 ${d.latencyMs?.p50?.toFixed(2)} ms, p99 ${d.latencyMs?.p99?.toFixed(2)} ms.`)
  const d1 = v(k, 'islab', 'durable1')
  if (d1?.vsFsync !== undefined) lines.push(`IsLabDB durable put ×1: ${fmtRate(d1.value)}/s = ${d1.vsFsync.toFixed(2)} × the fdatasync rate around it (${fmtRate(d1.fsyncRef)}/s).`)
  const r = v(k, 'redis', 'reopen')
  if (r?.serverReadyMs !== undefined) lines.push(`Redis reopen: AOF load ${r.aofLoadMs !== undefined ? fmtMs(r.aofLoadMs) : '?'} as Redis logs it; ${fmtMs(r.serverReadyMs)} from spawning redis-server to its first PONG.`)
  const ro = v(k, 'islab', 'reopen')
  if (ro?.value !== undefined) lines.push(`IsLabDB reopen without a checkpoint: close ${fmtMs(ro.closeMs)}, open + first get ${fmtMs(ro.value)} (recovery loaded ${fmtInt(ro.recovery?.checkpointKeys ?? 0)} keys from a checkpoint and replayed ${fmtInt(ro.recovery?.eventsReplayed ?? 0)} events).`)
  const cp = k.systems.islab?.reopenCheckpoint
  if (cp) lines.push(`IsLabDB reopen after db.checkpoint(): the checkpoint took ${fmtMs(cp.checkpointMs)}, close ${fmtMs(cp.closeMs)}, open + first get ${fmtMs(cp.ms)} (recovery loaded ${fmtInt(cp.recovery?.checkpointKeys ?? 0)} keys from it and replayed ${fmtInt(cp.recovery?.eventsReplayed ?? 0)} events).`)
  return lines
}

export function printPeerTargets(targets, info) {
  if (targets.length === 0) return
  console.log('\npeer targets (100-byte values, ratios within this run):')
  for (const t of targets) {
    console.log(`  ${t.verdict.padEnd(4)}  ${t.name} (${t.what}): ${t.verdict === 'SKIP' ? t.skip : t.detail}`)
  }
  for (const l of info) console.log(`  info  ${l}`)
}

// ---------------------------------------------------------------------------------------------
// Markdown

function mdCell(unit, c) {
  if (c.value !== undefined) return fmtCell(unit, c.value)
  return c.text
}

export function mdPeerTable(peers, kind) {
  const t = peerTable(peers, kind)
  const lim = t.hasLimit ? ['IsLabDB ÷ limit'] : []
  const head = ['Workload', 'Unit', ...t.systems.map((s) => (s === 'map' ? 'Limit: Map / k×fsync' : LABELS[s])), ...lim, ...t.peers.map((p) => `IsLabDB ÷ ${LABELS[p]}`)]
  const out = [`| ${head.join(' | ')} |`, `|---|---|${t.systems.map(() => '--:').join('|')}|${[...lim, ...t.peers].map(() => '--:').join('|')}|`]
  for (const r of t.rows) {
    const cells = t.systems.map((s) => {
      if (s === 'map' && r.limit) return `_${fmtCell(r.unit, r.limit.value)}_`
      const c = r.cells[s]
      const txt = mdCell(r.unit, c)
      return s === 'islab' && c.value !== undefined ? `**${txt}**` : txt
    })
    const ratios = t.peers.map((p) => {
      const x = r.ratios[p]
      if (x === undefined) return ''
      const good = r.higher ? x >= 1 : x <= 1
      const s = ratioText(r, x)
      return good ? s : `_${s}_`
    })
    if (t.hasLimit) ratios.unshift(ratioText(r, r.vsLimit))
    out.push(`| ${r.label} | ${r.unit}${r.higher ? '' : ' (lower is better)'} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`)
  }
  return out.join('\n')
}

/** Why a cell says n/a (the reasons the adapters give), once per system. */
export function mdNotApplicable(peers, kind) {
  const k = peers.kinds[kind]
  const notes = new Map()
  for (const [s, r] of Object.entries(k.systems)) {
    for (const [id, x] of Object.entries(r.w)) {
      if (x?.unsupported && s !== 'map') notes.set(`${LABELS[s]} ${PEER_WORKLOADS.find((w) => w.id === id)?.label ?? id}`, x.unsupported)
      if (x?.error) notes.set(`${LABELS[s]} ${PEER_WORKLOADS.find((w) => w.id === id)?.label ?? id}`, `error: ${x.error}`)
    }
  }
  return [...notes].map(([what, why]) => `- ${what}: ${why}.`)
}

/**
 * What to do next about each target when it is missed. Written from the profiles of the runs that
 * missed it; the profile printed above each is this run's own, so the numbers are there, not here.
 */
export const NEXT_STEPS = {
  putSeq:
    "Since session 7 the write stages are one plain function per mode, a new key's value stays in the encoder's slab and keys live in the base table (open addressing over typed arrays), so what is left is spread thin: the value encode (`writeString`: `charCodeAt` over the fresh strings the values are built from), the record encode and its per-record CRC, the table insert (a cache miss per new key), and the GC of a WriteRequest, a Buffer view and a promise per put. lmdb-js batches every put of an event-loop turn into one transaction that a worker thread commits. Next: a burst of puts issued in one tick as one pipeline pass with one settlement instead of a WriteRequest and a promise per put, and a narrower base-table row for appended keys.",
  putRandom:
    'IsLabDB does not care about key order, lmdb-js and LevelDB do (random order costs them B-tree splits and compactions), so this is the same IsLabDB path as sequential put; next step as there.',
  putAwaited: 'An awaited buffered put pays the whole pipeline for one write (request, promise, stages); next step as for bulk put, plus a fast path for a single put when the pipeline is idle.',
  getFirstUniform:
    "The first read of a key decodes its msgpack bytes from the base table (msgpackr's `readMap`/`readString`), deep-freezes the result and admits it to the cache; the table lookup (`find`) is a cache miss per random key. Next: admit a decoded value to the cache on its second touch (a value read once is neither frozen nor kept), and decode short string fields without msgpackr's generic path.",
  getUniform: 'A warm `db.get` is a Map lookup and the cached decoded value; random keys make it memory-bound (the bare Map column shows the floor with keys built per call). Next: the compact layout of the first-pass step, so a lookup touches fewer cache lines.',
  getZipf: 'As for uniform gets: the same `Database.get` path, with hot keys in cache.',
  getFirstZipf: 'As for the first uniform pass: the hot keys are decoded once, so the first-touch cost of the cold tail dominates.',
  durable64Redis:
    "The disk bounds 64 durable writers: each put waits for the group commit that carries it; since session 7 the next commit starts as soon as the last one ends, with every write that arrived meanwhile. Next: preallocated, zero-filled WAL segments written with O_DSYNC, so a commit is one overwrite without a metadata update (`node bench/wal-disk-probe.js` measures the three ways on this disk).",
  durable64Fsync: "A commit carries ~64 puts, so commits per second must reach 0.35 × the raw fdatasync rate; each commit pays a thread-pool round trip (the raw probe calls `fdatasyncSync` on the main thread) and a metadata update as the file grows. Next: preallocated zero-filled segments with O_DSYNC overwrites (`node bench/wal-disk-probe.js`).",
  durable1Fsync:
    "One writer awaiting each durable put gets at most one fdatasync per put; the gap to the raw rate is the thread-pool round trip per commit and the file growing on every append (a metadata update per fdatasync). Next: preallocated zero-filled segments with O_DSYNC overwrites, as for 64 writers.",
  rss:
    "Right after a load IsLabDB holds each key and value once in the base table (values in the encoder's slabs, which the rows reference), plus the rows (typed arrays), the WAL write buffers and V8's heap for the pipeline; `memory` in the results JSON splits RSS into heap, external and array buffers. lmdb-js counts only the page-cache pages it touched. Next: a narrower row for keys appended in order, and giving back the last, partly used slab and the WAL buffers after a load.",
  rssWarm:
    "After reads IsLabDB also holds the decoded, frozen object of every value read, next to its bytes. Next: bound the decoded-value cache by bytes, so reading everything once does not keep every decoded object alive.",
  restart:
    "Reopen without a checkpoint replays every event of the WAL in a fresh process (JIT cold); replay reads the next window ahead and sizes the table per window (session 7). Next: a checkpoint at close() by default when the WAL tail is long (`checkpoint.onClose` is opt-in today), so a reopen loads a checkpoint and replays a short tail.",
  restartCheckpoint:
    "Reopen after a checkpoint reads it in 2 MiB pieces on the thread pool and loads each frame as it arrives (session 7); the profile shows the rest: frame checks, the hash table build, and a fresh process's start. Redis's AOF load of these keys takes 200–450 ms, so 0.15× means 30–70 ms for a 24 MB checkpoint. Next: rows laid out in the checkpoint as the base table holds them, copied into its typed arrays by one read, and the hash index built lazily.",
  replay:
    "Replay cost is per event: check the frame, decode the record, apply it to the base table; this row is a single cold open in a fresh process. Next: decode record headers without a DataView and allocate nothing per event.",
}

function mdTargets(targets, profiles, info) {
  const out = ['| Target | Measured as | Target ratio | Measured ratio | Verdict |', '|---|---|--:|--:|---|']
  for (const t of targets) {
    const m = t.measured !== undefined && Number.isFinite(t.measured) ? fmtRatio(t.measured) : '—'
    out.push(`| ${t.name} | ${t.what} | ${t.cmp} ${fmtRatio(t.target)} | ${m} | **${t.verdict}**${t.verdict === 'SKIP' ? `: ${t.skip}` : t.verdict === 'MISS' ? ` (${t.detail.replace(/^[^:]*: /, '')})` : ''} |`)
  }
  if (info?.length) out.push('')
  for (const l of info ?? []) out.push(`- _info:_ ${l}`)
  const missed = targets.filter((t) => t.verdict === 'MISS')
  if (missed.length > 0) {
    out.push('', '### Where we lose', '')
    const shown = new Map()
    for (const t of missed) {
      out.push(`**${t.name}** — ${t.detail}.`, '')
      const p = t.profile ? profiles?.[t.profile] : undefined
      if (p?.text && shown.has(t.profile)) {
        out.push(`Profile: the same workload as "${shown.get(t.profile)}" above.`, '')
      } else if (p?.text) {
        shown.set(t.profile, t.name)
        const lines = p.text.split('\n')
        // Keep the header and the by-function table (the by-file table is in the full output).
        const cut = lines.findIndex((l) => l.startsWith('self time by file'))
        const kept = (cut > 0 ? lines.slice(0, cut) : lines).join('\n').trimEnd().split('\n')
        out.push(`Profile of IsLabDB's side of this workload (\`node --cpu-prof\`, re-run after the measured run; \`node bench/profile-summary.js ${p.file ?? '<file>'}\`):`, '', '```', ...kept, '```', '')
      } else if (t.profile) {
        out.push('_No profile this run (a full run without --no-profile makes one)._', '')
      }
      out.push(`Next step: ${NEXT_STEPS[t.id] ?? 'see the profile.'}`, '')
    }
  }
  return out.join('\n')
}

export function mdPeerSection(doc) {
  const peers = doc.results.peers
  if (!peers) return ''
  const out = []
  const v = peers.versions
  const ver = (s, p) => (v[s]?.[p] ? `${p} ${v[s][p]}` : p)
  out.push('## IsLabDB vs the databases users would choose instead')
  out.push('')
  out.push(
    `Peers in this run: ${['lmdb', 'level', 'sqlite', 'redis']
      .filter((s) => peers.systems.includes(s))
      .map((s) => (peers.skipped[s] ? `~~${LABELS[s]}~~ (skipped: ${peers.skipped[s]})` : s === 'redis' ? `Redis (${(v.redis?.server ?? 'redis-server').replace(/^Redis server v=(\S+).*$/, 'redis-server $1')}; client ${ver('redis', 'ioredis')})` : `${LABELS[s]} (${Object.keys(v[s] ?? {}).map((p) => ver(s, p)).join(', ')})`))
      .join(', ')}, and a bare \`Map\` (the in-memory limit) and the raw fdatasync rate (the durable limit). ` +
      `Each system runs in a child process of its own; the parent interleaves them workload by workload and waits until every process is idle before each timed run. ` +
      `Get and YCSB workloads run ${peers.config.rounds ?? 1} round${(peers.config.rounds ?? 1) > 1 ? 's' : ''} of ${peers.config.seconds} s per system (range ${peers.config.seconds / 2} s${(peers.config.rounds ?? 1) > 1 ? '; the second round in reverse order; each system keeps its best round' : ''}), durable puts ${peers.config.durableSeconds} s, with ${peers.config.clients} concurrent client loops for YCSB, range and async gets. ` +
      'How each system is driven: [README.md, "Peers"](README.md#peers).',
  )
  out.push('')
  out.push(
    '**How the work is shaped** (issue 16: as applications use a database). Keys are built in the timed loop by every system, `\'user:\' + id`, a fresh string per call (no pre-built array of interned strings); every write gets a fresh value object (~110 bytes as msgpack). ' +
      'Bulk loads issue puts without awaiting them one by one (IsLabDB: chunks of ' + (peers.config.chunk ?? 1000) + ' `db.put` and one `Promise.all` per chunk; lmdb-js: every `put` issued, then the last awaited; the others through the bulk API an application would use: classic-level `batch()`, SQLite one transaction per chunk, Redis a `pipeline()` per chunk); "put, each awaited" is one writer awaiting every put, not durable. ' +
      `Each load runs in a fresh process per system; after it, a ${peers.config.pauseMs ?? 200} ms pause (background ticks may run), then the **first pass** of gets, timed once with no warm-up (uniform after the random-order load, so most gets are the first touch of their key; Zipfian after the sequential load, which follows the two forced GCs of the RSS measure). The **warm** rows come later, after a read of every key, on the store reopened from disk. ` +
      'Durable puts go through the API a user would pick: IsLabDB `durability: \'sync\'` and `await db.put`, lmdb-js `await put` then `await db.flushed`, classic-level `{ sync: true }`, SQLite `synchronous=FULL`, Redis `appendfsync always`; 1 and 64 closed-loop writers, each system bracketed by raw fdatasync probes of the same disk. ' +
      '**RSS** is measured in the sequential load\'s own process: right after the load (before any read), and again after the first pass, a read of every key and two warm passes. **Restart** is close (timed) + open and first get in a fresh process; for Redis, the AOF load time it logs. ' +
      'The bare `Map` column gets the same per-call keys and fresh values, so "IsLabDB ÷ limit" is the Map ratio with keys built per call; rows 1–7 below keep their interned-key Map ratios.',
  )
  out.push('')
  out.push('### Targets (issue 16; 100-byte values, ratios within this run)')
  out.push('')
  out.push(mdTargets(doc.peerTargets ?? [], doc.profiles, doc.peerInfo))
  for (const kind of Object.keys(peers.kinds)) {
    const k = peers.kinds[kind]
    out.push('')
    out.push(`### ${KIND_LABEL[kind]} values, ${fmtInt(k.n)} keys`)
    out.push('')
    out.push(`![ops/s per workload per system, ${KIND_LABEL[kind]} values](results/chart-${kind === '4k' ? '4k' : '100b'}.svg)`)
    out.push('')
    out.push(mdPeerTable(peers, kind))
    out.push('')
    out.push(
      `Ratio columns: IsLabDB ÷ that peer, so above 1 IsLabDB is faster (ops/s) and below 1 it is better (ms, MiB); _italic_ where IsLabDB is behind. The first column is the limit: a bare \`Map\` with the same per-call keys and fresh values (an in-memory store's limit) and, on the durable rows, k × the raw fdatasync rate measured around IsLabDB's run (the limit for durable writes; median probe ${fmtRate(k.fsyncMedian)} fsyncs/s); "IsLabDB ÷ limit" divides by it. Redis's restart rows are the AOF load time it logs; its reopen row is the wall time from spawning redis-server to its first answer.`,
    )
    const na = mdNotApplicable(peers, kind)
    if (na.length) {
      out.push('')
      out.push(...na)
    }
  }
  return out.join('\n')
}
