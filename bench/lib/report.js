// Turns the raw results into table rows and target verdicts, prints the terminal table, and
// writes bench/results/*.json and bench/RESULTS.md.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fmtInt, fmtMs, fmtRate, median } from './measure.js'
import { mdPeerSection } from './peers/report.js'

export const NOTES_MARKER = '<!-- notes -->'

export const TARGETS = {
  buffered: 0.5,
  get: 0.6,
  sync64: 0.5,
}

export function machineInfo(repoDir) {
  const cpus = os.cpus()
  let disk = 'unknown'
  try {
    const lines = execFileSync('df', ['-hT', os.tmpdir()], { encoding: 'utf8' }).trim().split('\n')
    const f = lines[lines.length - 1].split(/\s+/)
    disk = `${os.tmpdir()} is on ${f[0]} (${f[1]}, ${f[2]}, mounted on ${f[6]})`
  } catch {
    disk = `${os.tmpdir()} (df unavailable)`
  }
  let git = 'unknown'
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoDir, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoDir, encoding: 'utf8' }).trim()
    git = dirty ? `${rev} (src/ has uncommitted changes)` : rev
  } catch {
    /* not a git checkout */
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAvgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    tmpDisk: disk,
    git,
  }
}

function flushShare(b) {
  const flush = b.flushMs.reduce((x, y) => x + y, 0)
  const all = b.ms.reduce((x, y) => x + y, 0)
  return ((100 * flush) / all).toFixed(0)
}

const ratio = (a, b) => (a && b ? a.median / b.median : undefined)
/** Median of per-round ratios (rounds were interleaved, so each pair saw the same conditions). */
const pairedRatio = (perRound) => (perRound && perRound.length > 0 ? median(perRound) : undefined)

/** Table rows: label, value with unit, min–max over rounds, ratio and what it is relative to. */
export function buildRows(res) {
  const rows = []
  const add = (id, label, s, unit, r, vs, extra = '') => {
    if (s === undefined) return
    rows.push({ id, label, median: s.median, min: s.min, max: s.max, unit, ratio: r, vs, extra })
  }
  add('baseline', '1  msgpack encode + Map.set (baseline)', res.baseline, 'ops/s', res.baseline ? 1 : undefined, 'itself',
    res.baseline ? `~${res.baseline.avgValueBytes.toFixed(0)} B values` : '')
  add('buffered', `2  db.put buffered (chunks of ${res.buffered?.chunk}, + flush)`, res.buffered, 'ops/s', pairedRatio(res.buffered?.perRoundRatio), '× row 1',
    res.buffered ? `flush ${flushShare(res.buffered)}% of time; WAL ${(res.buffered.walBytes / 2 ** 20).toFixed(1)} MiB` : '')
  add('memory', `3  db.put memory (chunks of ${res.memory?.chunk})`, res.memory, 'ops/s', pairedRatio(res.memory?.perRoundRatio), '× row 1')
  const g = res.get
  if (g) {
    add('mapUniform', '4a Map.get, uniform keys (interned)', g.mapUniform, 'gets/s', undefined, '')
    add('dbUniform', '4b db.get, uniform keys (warm)', g.dbUniform, 'gets/s', pairedRatio(g.perRoundRatioUniform), '× row 4a')
    add('dbUniformCold', '4c db.get, uniform, cold (1st pass decodes)', g.dbUniformCold, 'gets/s', ratio(g.dbUniformCold, g.mapUniform), '× row 4a', 'single pass')
    add('mapZipf', '4d Map.get, Zipfian θ=0.99 (interned)', g.mapZipf, 'gets/s', undefined, '',
      `top 1% keys = ${(g.zipfTop1PercentShare * 100).toFixed(0)}% of gets`)
    add('dbZipf', '4e db.get, Zipfian θ=0.99 (warm)', g.dbZipf, 'gets/s', pairedRatio(g.perRoundRatioZipf), '× row 4d')
  }
  const f = res.fsync
  if (f) {
    add('fsync', '5  raw writeSync(100 B) + fdatasyncSync', f, 'fsyncs/s', undefined, '',
      `${f.runs.length} probes × ${f.probeSeconds.toFixed(2)} s, interleaved with row 6`)
  }
  const fa = res.fsyncAsync
  if (fa) {
    add('fsyncAsync', '5b same via async fs.write + fs.fdatasync', fa, 'fsyncs/s', f ? fa.median / f.median : undefined, '× row 5',
      'info: one libuv threadpool round trip per call')
  }
  const fc = res.fsyncCommitSized
  if (fc) {
    add('fsyncCommitSized', `5c raw writeSync(${fc.bytes / 1024} KiB) + fdatasyncSync`, fc, 'fsyncs/s', f ? fc.median / f.median : undefined, '× row 5',
      'info: one 64-put commit\'s worth of bytes')
  }
  for (const [key, w] of [['sync1', 1], ['sync64', 64]]) {
    const s = res[key]
    if (!s) continue
    add(key, `6${w === 1 ? 'a' : 'b'} db.put sync, ${w} writer${w === 1 ? '' : 's'}`, s, 'ops/s', s.ratio, `× ${w}×fsync`,
      `p50 ${s.latencyMs.p50.toFixed(2)} ms, p99 ${s.latencyMs.p99.toFixed(2)} ms` +
        (s.io ? `; ${fmtRate(s.io.commitsPerSec)} commits/s × ${s.io.putsPerCommit.toFixed(1)} puts, disk calls in flight ${(s.io.ioBusyFraction * 100).toFixed(0)}% of time` : ''))
  }
  const rp = res.replay
  if (rp) {
    add('replay', '7  replay on open (events/s)', rp, 'events/s', undefined, '',
      `open ${fmtMs(rp.openMs.median)} for ${fmtInt(rp.eventsReplayed)} events` +
        (rp.checkpointSeq ? ` after loading a checkpoint at seq ${fmtInt(rp.checkpointSeq)}` : '') +
        `, ${(rp.walBytes / 2 ** 20).toFixed(1)} MiB on disk`)
  }
  return rows
}

function verdict(name, measured, target, what) {
  if (measured === undefined) return undefined
  const pass = measured >= target
  const rel = (measured / target - 1) * 100
  const detail = pass
    ? `${measured.toFixed(2)} ≥ ${target.toFixed(2)}: ${rel.toFixed(0)}% above target`
    : `${measured.toFixed(2)} < ${target.toFixed(2)}: ${(-rel).toFixed(0)}% short; needs ${(target / measured).toFixed(2)}× the throughput`
  return { name, what, target, measured, pass, detail }
}

export function buildTargets(res) {
  const t = []
  const per = 'median of per-round ratios'
  t.push(verdict('buffered put vs baseline', pairedRatio(res.buffered?.perRoundRatio), TARGETS.buffered, `row 2 ÷ row 1, ${per}`))
  t.push(verdict('db.get vs Map.get, uniform', pairedRatio(res.get?.perRoundRatioUniform), TARGETS.get, `row 4b ÷ row 4a, ${per}`))
  t.push(verdict('db.get vs Map.get, Zipfian', pairedRatio(res.get?.perRoundRatioZipf), TARGETS.get, `row 4e ÷ row 4d, ${per}`))
  if (res.sync64?.ratio !== undefined) {
    t.push(verdict('sync put, 64 writers vs 64 × fsync rate', res.sync64.ratio, TARGETS.sync64, `row 6b ÷ (64 × row 5), ${per}`))
  }
  return t.filter((x) => x !== undefined)
}

function pad(s, w, right = false) {
  s = String(s)
  return right ? s.padStart(w) : s.padEnd(w)
}

function fmtRatio(r) {
  return r === undefined ? '' : r.toFixed(2)
}

export function printTable(rows, targets) {
  const head = ['workload', 'median', 'min–max', 'unit', 'ratio', 'vs', 'notes']
  const body = rows.map((r) => [
    r.label,
    fmtRate(r.median),
    r.min === r.max ? '' : `${fmtRate(r.min)}–${fmtRate(r.max)}`,
    r.unit,
    fmtRatio(r.ratio),
    r.ratio === undefined ? '' : r.vs,
    r.extra,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)))
  const right = [false, true, true, false, true, false, false]
  const line = (cells) => cells.map((c, i) => pad(c, widths[i], right[i])).join('  ')
  console.log('')
  console.log(line(head))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const b of body) console.log(line(b))
  if (targets.length > 0) {
    console.log('')
    console.log('targets:')
    for (const t of targets) console.log(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.name} (${t.what}, target ≥ ${t.target}): ${t.detail}`)
  }
  console.log('')
}

export function writeJson(resultsDir, doc, { latest }) {
  fs.mkdirSync(resultsDir, { recursive: true })
  const stamp = doc.date.replace(/[:.]/g, '-')
  const stamped = path.join(resultsDir, `${stamp}${latest ? '' : '-partial'}.json`)
  const text = JSON.stringify(doc, null, 2) + '\n'
  fs.writeFileSync(stamped, text)
  const written = [stamped]
  if (latest) {
    const l = path.join(resultsDir, 'latest.json')
    fs.writeFileSync(l, text)
    written.push(l)
  }
  return written
}

function mdTable(rows) {
  const out = ['| Workload | Median | Min–max over rounds | Unit | Ratio | Relative to | Notes |', '|---|--:|--:|---|--:|---|---|']
  for (const r of rows) {
    out.push(
      `| ${r.label.replace(/^(\S+)\s+/, '$1 ')} | ${fmtRate(r.median)} | ${r.min === r.max ? '' : `${fmtRate(r.min)}–${fmtRate(r.max)}`} | ${r.unit} | ${fmtRatio(r.ratio)} | ${r.ratio === undefined ? '' : r.vs} | ${r.extra} |`,
    )
  }
  return out.join('\n')
}

export function writeResultsMd(file, doc, rows, targets) {
  let notes = `${NOTES_MARKER}\n\n_Notes below the marker line above are kept when the script regenerates this file._\n`
  if (fs.existsSync(file)) {
    const old = fs.readFileSync(file, 'utf8')
    const at = old.indexOf(NOTES_MARKER)
    if (at >= 0) notes = old.slice(at)
  }
  const m = doc.machine
  const c = doc.config
  const tl = targets.map(
    (t) => `- **${t.pass ? 'PASS' : 'MISS'}** — ${t.name} (${t.what}, target ≥ ${t.target}): ${t.detail}.`,
  )
  const text = `# IsLabDB benchmark results

<!-- Generated by bench/run.js (npm run bench). Everything above the notes marker is overwritten on each full run. -->

- **Date:** ${doc.date}
- **Command:** \`${doc.command}\`
- **Machine:** ${m.cpu}, ${m.cores} cores, ${m.totalMemGiB} GiB RAM, Node ${m.node}, ${m.platform}
- **Disk:** whatever disk the OS temp dir is on: ${m.tmpDisk}
- **Load average (1/5/15 min):** ${m.loadAvgAtStart.join(' / ')} at start, ${doc.loadAvgAtEnd.join(' / ')} at end (shared machine: compare ratios from the same run, not absolute numbers across runs)
- **Code:** git ${m.git}; benchmark ran against \`dist/\` as built by \`npm run build\`
- **Config:** N = ${fmtInt(c.n)} keys (16-byte keys, ~${doc.results.baseline ? doc.results.baseline.avgValueBytes.toFixed(0) : '100'}-byte msgpack values), ${c.rounds} rounds per CPU-bound workload (median reported), ${fmtInt(c.lookups)} lookups per pass, bulk-load chunk ${c.chunk}; ${c.diskRounds} disk rounds of [fsync probe, sync ×1, sync ×64] (${c.syncSeconds} s per sync workload, ${c.fsyncSeconds} s of fsync probes in all)
- **Total run time:** ${(doc.totalMs / 1000).toFixed(1)} s

${mdPeerSection(doc)}

## IsLabDB against its own limits (rows 1–7)

${mdTable(rows)}

Every ratio is the median over rounds of a per-round ratio, measured in this same run: rounds of rows 1–3 are interleaved (each db round is divided by the baseline round just before it), as are rounds of 4a/4b/4d/4e (the cold row 4c, a single pass, is divided by the median of 4a). The sync rows (6a, 6b) are ratios of each round to the mean of the fsync probes taken just before and just after it (median over rounds), because the shared disk's fsync rate drifts. The single-writer row (6a) is reported against 1 × the fsync rate for information; it has no target. Row 5b and the commit counts in the 6a/6b notes are diagnostics (see README).

### Targets

${tl.join('\n')}

See [README.md](README.md) for what each workload measures. Raw numbers: \`bench/results/latest.json\`.

${notes}`
  fs.writeFileSync(file, text.endsWith('\n') ? text : text + '\n')
}
