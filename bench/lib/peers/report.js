// Tables, ratios and target verdicts of the peer comparison, for the terminal and RESULTS.md.
import { fmtInt, fmtMs, fmtRate } from '../measure.js'
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
    if (w.id === 'durable1' || w.id === 'durable64') {
      const writers = w.id === 'durable1' ? 1 : 64
      const ref = k.systems.islab?.w[w.id]?.fsyncRef ?? k.fsyncMedian
      if (ref) limit = { value: writers * ref, text: `${writers}×fsync` }
    }
    return { ...w, cells, ratios, limit }
  })
  return { kind, n: k.n, systems, peers: peersHere, rows }
}

function ratioText(w, r) {
  if (r === undefined) return ''
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(2)}×`
}

export function printPeerTables(peers) {
  for (const kind of Object.keys(peers.kinds)) {
    const t = peerTable(peers, kind)
    console.log(`\npeers, ${KIND_LABEL[kind]} values, ${fmtInt(t.n)} keys (one run; ratio = IsLabDB ÷ peer: > 1 faster for ops/s, < 1 better for ms and MiB)`)
    const head = ['workload', 'unit', ...t.systems.map((s) => LABELS[s]), ...t.peers.map((p) => `÷ ${LABELS[p]}`)]
    const body = t.rows.map((r) => [
      r.label,
      r.unit,
      ...t.systems.map((s) => {
        const c = r.cells[s]
        if (s === 'map' && r.limit) return `(${fmtCell(r.unit, r.limit.value)})`
        return c.value !== undefined ? fmtCell(r.unit, c.value) : c.text
      }),
      ...t.peers.map((p) => ratioText(r, r.ratios[p])),
    ])
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)))
    const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
    console.log(line(head))
    console.log(widths.map((w) => '-'.repeat(w)).join('  '))
    for (const b of body) console.log(line(b))
    console.log('(Map column on the durable rows: k × the raw fdatasync rate, the limit for durable writes)')
  }
}

// ---------------------------------------------------------------------------------------------
// Targets (issue 8), judged at 100-byte values.

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
 * The targets of issue 8 at 100-byte values. `profile` names the IsLabDB workload whose CPU
 * profile explains a MISS (see bench/README.md); `skip` says why a target could not be judged.
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
  const add = (t) => out.push({ ...judge(t), skip: t.measured === undefined ? t.skip : undefined })
  add({ id: 'putSeq', name: 'buffered put, sequential keys ≥ 2 × lmdb-js bulk put', what: 'IsLabDB ÷ lmdb-js, put sequential keys', measured: ratio('putSeq', 'lmdb'), target: 2, cmp: '≥', profile: 'putSeq', skip: skipReason('lmdb') })
  add({ id: 'putRandom', name: 'buffered put, random keys ≥ 2 × lmdb-js bulk put', what: 'IsLabDB ÷ lmdb-js, put random keys', measured: ratio('putRandom', 'lmdb'), target: 2, cmp: '≥', profile: 'putRandom', skip: skipReason('lmdb') })
  add({ id: 'getUniform', name: 'get ≥ 3 × lmdb-js get, uniform keys', what: 'IsLabDB ÷ lmdb-js, get uniform', measured: ratio('getUniform', 'lmdb'), target: 3, cmp: '≥', profile: 'getUniform', skip: skipReason('lmdb') })
  add({ id: 'getZipf', name: 'get ≥ 3 × lmdb-js get, Zipfian keys', what: 'IsLabDB ÷ lmdb-js, get Zipfian', measured: ratio('getZipf', 'lmdb'), target: 3, cmp: '≥', profile: 'getZipf', skip: skipReason('lmdb') })
  add({ id: 'durable64Redis', name: 'durable put, 64 writers ≥ 1.2 × Redis appendfsync always', what: 'IsLabDB ÷ Redis, durable put ×64', measured: ratio('durable64', 'redis'), target: 1.2, cmp: '≥', profile: 'durable64', skip: skipReason('redis') })
  add({ id: 'durable64Lmdb', name: 'durable put, 64 writers ≥ 1 × lmdb-js', what: 'IsLabDB ÷ lmdb-js, durable put ×64', measured: ratio('durable64', 'lmdb'), target: 1, cmp: '≥', profile: 'durable64', skip: skipReason('lmdb') })
  const aof = v(k, 'redis', 'reopen')
  const aofMs = aof?.aofLoadMs ?? aof?.value
  const ours = v(k, 'islab', 'reopen')?.value
  add({ id: 'reopenRedis', name: 'reopen after load ≤ 0.5 × Redis AOF load time', what: `IsLabDB open() ÷ Redis's logged AOF load time (same ${fmtInt(k.n)} writes)`, measured: ours !== undefined && aofMs ? ours / aofMs : undefined, target: 0.5, cmp: '≤', profile: 'reopen', skip: skipReason('redis') })
  // Replay rate: row 7 of this run when it ran (median of its rounds), else the peer run's reopen.
  let replay = results.replay?.median
  let replayWhat = 'row 7, events/s (median of its rounds)'
  if (replay === undefined) {
    const rec = v(k, 'islab', 'reopen')?.recovery
    if (rec && rec.timeMs > 0) {
      replay = rec.eventsReplayed / (rec.timeMs / 1000)
      replayWhat = 'peer run reopen, events/s'
    }
  }
  add({ id: 'replay', name: 'replay ≥ 2M events/s', what: replayWhat, measured: replay, target: 2e6, cmp: '≥', profile: 'reopen', skip: 'IsLabDB replay did not run' })
  const rssA = v(k, 'islab', 'rss')?.value
  const rssL = v(k, 'lmdb', 'rss')?.value
  add({ id: 'rss', name: 'RSS added by the load ≤ lmdb-js', what: 'IsLabDB ÷ lmdb-js, RSS added by loading the keys', measured: rssA !== undefined && rssL ? rssA / rssL : undefined, target: 1, cmp: '≤', skip: skipReason('lmdb') })
  const rssRA = v(k, 'islab', 'rssRead')?.value
  const rssRL = v(k, 'lmdb', 'rssRead')?.value
  add({ id: 'rssRead', name: 'RSS added by the load and a read of every key ≤ lmdb-js', what: 'IsLabDB ÷ lmdb-js, RSS after loading and reading every key once', measured: rssRA !== undefined && rssRL ? rssRA / rssRL : undefined, target: 1, cmp: '≤', skip: skipReason('lmdb') })
  return out
}

/** Informational lines that go with the targets (not judged). */
export function peerInfo(peers) {
  const k = peers?.kinds?.['100']
  if (!k) return []
  const lines = []
  const d = v(k, 'islab', 'durable64')
  if (d?.vsFsync !== undefined) lines.push(`IsLabDB durable put ×64 = ${d.vsFsync.toFixed(2)} × (64 × the fsync rate measured around it, ${fmtRate(d.fsyncRef)}/s); the issue asks for "close to" 1.`)
  const r = v(k, 'redis', 'reopen')
  if (r?.serverReadyMs !== undefined) lines.push(`Redis reopen: AOF load ${r.aofLoadMs !== undefined ? fmtMs(r.aofLoadMs) : '?'} as Redis logs it; ${fmtMs(r.serverReadyMs)} from spawning redis-server to its first PONG.`)
  const cp = k.systems.islab?.reopenCheckpoint
  if (cp) lines.push(`IsLabDB reopen after db.checkpoint(): ${fmtMs(cp.ms)} (the checkpoint took ${fmtMs(cp.checkpointMs)}; recovery loaded ${fmtInt(cp.recovery?.checkpointKeys ?? 0)} keys from it and replayed ${fmtInt(cp.recovery?.eventsReplayed ?? 0)} events).`)
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
  const head = ['Workload', 'Unit', ...t.systems.map((s) => (s === 'map' ? 'Limit: Map / k×fsync' : LABELS[s])), ...t.peers.map((p) => `IsLabDB ÷ ${LABELS[p]}`)]
  const out = [`| ${head.join(' | ')} |`, `|---|---|${t.systems.map(() => '--:').join('|')}|${t.peers.map(() => '--:').join('|')}|`]
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
    "A bulk put's time is spread over many small costs, each visible in the profile: the msgpack encode (`pack`) and the walk that checks the value before it (`valueCodec.inspect`), applying the event to the in-memory state, GC, one Buffer per WAL record, and the promise and pipeline request per put. lmdb-js encodes on the main thread too, but batches every put of an event-loop turn into one transaction that a worker thread commits. " +
    'Next: drop the separate `inspect` walk (let the encoder reject what it cannot encode), encode a commit\'s records into one preallocated buffer instead of a Buffer each, and measure `db.batch()` of a chunk (one event, one seq, one WAL record) as the bulk-load path.',
  putRandom:
    'IsLabDB does not care about key order, lmdb-js and LevelDB do (random order costs them B-tree splits and compactions), so this is the same IsLabDB path as sequential put; next step as there.',
  getUniform:
    'A warm `db.get` is a closed check, a Map lookup and the cached decoded value; the profile shows how much of it is `Database.get` itself around the lookup. Next: make `get` small enough to inline (move the key-type check and the entry indirection off the hot path).',
  getZipf: 'As for uniform gets: the same `Database.get` path, with hot keys in cache.',
  durable64Redis:
    "IsLabDB's 64 writers are mostly idle in the profile: the disk, not the CPU, bounds them. Row 6b shows how many puts each group commit carries and how long its write + fdatasync takes; Redis under `appendfsync always` fsyncs once per event-loop pass for every client it served in it. Next: start the next group commit while the previous fdatasync is still in flight, so a put waits for at most one fdatasync.",
  durable64Lmdb: 'As for Redis: the commit pipeline (one fdatasync at a time), not the CPU, bounds it; next step as there.',
  reopenRedis:
    'Reopen replays every event of the WAL when there is no checkpoint, in a fresh process whose replay code has not been optimized yet (what a restarting application sees). The profile shows the split between applying events to the state, GC, and reading and checking frames. Next: fewer allocations per replayed event, and a checkpoint at `close()` so that a clean reopen loads it instead of replaying; the "reopen after db.checkpoint()" line above shows what loading a checkpoint costs today.',
  replay:
    'Replay cost is per event: read and check the frame, decode the record, apply it to the state, and the GC of what that allocates (the reopen profile above). Next: allocate less per event (one entry object per key, values kept as views into the segment buffer), then the checksum loop.',
  rss:
    "IsLabDB keeps every value in the process as msgpack bytes plus an entry object per key; lmdb-js keeps its data in the kernel's page cache (mapped pages count in RSS only once touched), LevelDB and SQLite in bounded caches. `memory` in the results JSON splits IsLabDB's RSS into heap, external and array buffers. Next: a more compact entry (fewer fields) and values packed into shared slabs instead of one Buffer each.",
  rssRead:
    'After a read of every key IsLabDB also holds the decoded, frozen object of each value next to its bytes. Next: bound the decoded-value cache (e.g. an LRU of decoded objects), so reading everything once does not keep every decoded object alive.',
}

function mdTargets(targets, profiles, info) {
  const out = []
  for (const t of targets) out.push(`- **${t.verdict}** — ${t.name} (${t.what}): ${t.verdict === 'SKIP' ? t.skip : t.detail}.`)
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
  out.push('### Targets (100-byte values, ratios within this run)')
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
      `Ratio columns: IsLabDB ÷ that peer, so above 1 IsLabDB is faster (ops/s) and below 1 it is better (ms, MiB); _italic_ where IsLabDB is behind. The first column is the \`Map\` baseline (an in-memory store's limit) and, on the durable rows, k × the raw fdatasync rate measured around IsLabDB's run (the limit for durable writes; median probe ${fmtRate(k.fsyncMedian)} fsyncs/s).`,
    )
    const na = mdNotApplicable(peers, kind)
    if (na.length) {
      out.push('')
      out.push(...na)
    }
  }
  return out.join('\n')
}
