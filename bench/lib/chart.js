// SVG charts of the peer comparison, one per value size, with no dependency: grouped bars of
// ops/s per workload per system on a log scale (higher is better), and below them small linear
// panels for reopen time, RSS and bytes on disk (lower is better).
import { fmtInt, fmtRate } from './measure.js'
import { KIND_LABEL, fmtCell, peerTable } from './peers/report.js'
import { LABELS } from './peers/systems.js'

// Okabe–Ito colours (readable with the common colour-vision deficiencies).
const COLORS = { map: '#999999', islab: '#D55E00', lmdb: '#0072B2', level: '#009E73', sqlite: '#CC79A7', redis: '#E69F00' }
const FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

const SHORT = {
  putSeq: 'bulk put\nsequential',
  putRandom: 'bulk put\nrandom',
  putAwaited: 'put\neach awaited',
  getFirstUniform: 'get uniform\n1st pass',
  getFirstZipf: 'get Zipfian\n1st pass',
  getUniform: 'get uniform\nwarm',
  getZipf: 'get Zipfian\nwarm',
  ycsbA: 'YCSB A\n50/50',
  ycsbB: 'YCSB B\n95/5',
  ycsbC: 'YCSB C\nread only',
  ycsbF: 'YCSB F\nread-mod-write',
  range: 'range\n100 keys',
  durable1: 'durable put\n1 writer',
  durable64: 'durable put\n64 writers',
  close: 'close',
  reopen: 'open + 1st get',
  restart: 'close → 1st get',
  restartCheckpoint: 'same, checkpointed',
  rss: 'RSS after load',
  rssWarm: 'RSS after warm',
  disk: 'bytes on disk',
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function text(x, y, s, { size = 12, anchor = 'middle', weight = 'normal', fill = '#222', rotate } = {}) {
  const tr = rotate !== undefined ? ` transform="rotate(${rotate} ${x.toFixed(1)} ${y.toFixed(1)})"` : ''
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} font-size="${size}" text-anchor="${anchor}" font-weight="${weight}" fill="${fill}"${tr}>${esc(s)}</text>`
}

function multiline(x, y, s, opts) {
  return s
    .split('\n')
    .map((line, i) => text(x, y + i * ((opts?.size ?? 12) + 2), line, opts))
    .join('')
}

/** Short labels for a log axis: 1k, 10k, 100k, 1M. */
function fmtTick(x) {
  if (x >= 1e6) return `${x / 1e6}M`
  if (x >= 1e3) return `${x / 1e3}k`
  return String(x)
}

export function peerChartSvg(peers, kind, meta) {
  const t = peerTable(peers, kind)
  const systems = t.systems
  const thr = t.rows.filter((r) => r.higher)
  const low = t.rows.filter((r) => !r.higher)
  const W = 1500
  const left = 80
  const right = 20
  const plotW = W - left - right
  const top = 96
  const plotH = 430
  const lowTop = top + plotH + 150
  const lowH = 210
  const H = lowTop + lowH + 110

  const vals = []
  for (const r of thr) {
    for (const s of systems) if (r.cells[s]?.value > 0) vals.push(r.cells[s].value)
    if (r.limit) vals.push(r.limit.value)
  }
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...vals))))
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...vals) * 1.6)))
  const y = (v) => top + plotH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH

  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(text(left, 30, `IsLabDB vs the databases users would choose instead — ${KIND_LABEL[kind]} values, ${fmtInt(t.n)} keys, one run`, { size: 20, anchor: 'start', weight: 'bold' }))
  out.push(text(left, 52, `${meta.date} · ${meta.machine} · \`${meta.command}\``, { size: 12, anchor: 'start', fill: '#555' }))
  out.push(text(left, 80, 'Throughput, operations per second (log scale; higher is better)', { size: 14, anchor: 'start', weight: 'bold' }))

  // Legend
  let lx = W - right - systems.length * 130
  for (const s of systems) {
    out.push(`<rect x="${lx}" y="68" width="14" height="14" fill="${COLORS[s]}"/>`)
    out.push(text(lx + 20, 80, s === 'map' ? 'Map (in-memory limit)' : LABELS[s], { size: 12, anchor: 'start' }))
    lx += s === 'map' ? 160 : 125
  }

  // Axis and decade grid lines
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    const yy = y(d)
    out.push(`<line x1="${left}" y1="${yy.toFixed(1)}" x2="${W - right}" y2="${yy.toFixed(1)}" stroke="#ddd" stroke-width="1"/>`)
    out.push(text(left - 8, yy + 4, fmtTick(d), { size: 12, anchor: 'end', fill: '#444' }))
  }
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#888"/>`)

  const gw = plotW / thr.length
  const bw = Math.min(26, (gw * 0.84) / systems.length)
  thr.forEach((r, gi) => {
    const gx = left + gi * gw + (gw - bw * systems.length) / 2
    if (gi % 2 === 1) out.push(`<rect x="${(left + gi * gw).toFixed(1)}" y="${top}" width="${gw.toFixed(1)}" height="${plotH}" fill="#f6f6f6"/>`)
    systems.forEach((s, si) => {
      const x = gx + si * bw
      const c = r.cells[s]
      if (c?.value > 0) {
        const yy = y(Math.max(c.value, lo))
        out.push(`<rect x="${(x + 1).toFixed(1)}" y="${yy.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[s]}"/>`)
        out.push(text(x + bw / 2 + 4, yy - 4, fmtRate(c.value), { size: 11, anchor: 'start', rotate: -90, fill: '#222' }))
      } else if (c && c.text) {
        out.push(text(x + bw / 2 + 4, top + plotH - 4, c.text, { size: 11, anchor: 'start', rotate: -90, fill: '#888' }))
      }
    })
    if (r.limit) {
      const yy = y(r.limit.value)
      const x1 = left + gi * gw + 4
      const x2 = left + (gi + 1) * gw - 4
      out.push(`<line x1="${x1.toFixed(1)}" y1="${yy.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#333" stroke-width="1.5" stroke-dasharray="5,3"/>`)
      out.push(text((x1 + x2) / 2, top + 16, `- - limit: ${r.limit.text}`, { size: 11, fill: '#333' }))
      out.push(text((x1 + x2) / 2, top + 30, `= ${fmtRate(r.limit.value)}/s`, { size: 11, fill: '#333' }))
    }
    out.push(multiline(left + gi * gw + gw / 2, top + plotH + 18, SHORT[r.id] ?? r.label, { size: 12 }))
    // IsLabDB ÷ the best peer, under the group label
    const best = t.peers.map((p) => r.cells[p]?.value).filter((x) => x > 0)
    const ours = r.cells.islab?.value
    if (ours > 0 && best.length > 0) {
      const ratio = ours / Math.max(...best)
      out.push(text(left + gi * gw + gw / 2, top + plotH + 54, `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}×`, { size: 13, fill: ratio >= 1 ? '#1b6e1b' : '#b00020', weight: 'bold' }))
    }
  })
  if (t.peers.length > 0 && systems.includes('islab')) {
    out.push(text(left - 8, top + plotH + 48, 'IsLabDB ÷', { size: 11, anchor: 'end', fill: '#444' }))
    out.push(text(left - 8, top + plotH + 61, 'best peer', { size: 11, anchor: 'end', fill: '#444' }))
  }

  // Lower-is-better panels: one small linear panel per metric.
  out.push(text(left, lowTop - 40, 'Reopen time and memory / disk footprint (linear scale per panel; lower is better)', { size: 14, anchor: 'start', weight: 'bold' }))
  const pw = plotW / low.length
  low.forEach((r, pi) => {
    const px = left + pi * pw + 30
    const pwi = pw - 60
    const vs = systems.map((s) => r.cells[s]?.value).filter((x) => x > 0)
    const max = vs.length ? Math.max(...vs) * 1.25 : 1
    const yl = (v) => lowTop + lowH - (v / max) * lowH
    out.push(`<line x1="${px}" y1="${lowTop + lowH}" x2="${px + pwi}" y2="${lowTop + lowH}" stroke="#888"/>`)
    out.push(`<line x1="${px}" y1="${lowTop}" x2="${px}" y2="${lowTop + lowH}" stroke="#888"/>`)
    out.push(text(px + pwi / 2, lowTop - 14, `${SHORT[r.id] ?? r.label} (${r.unit})`, { size: 12, weight: 'bold' }))
    const bwl = Math.min(40, pwi / systems.length)
    const gx = px + (pwi - bwl * systems.length) / 2
    systems.forEach((s, si) => {
      const x = gx + si * bwl
      const c = r.cells[s]
      if (c?.value > 0) {
        const yy = yl(c.value)
        out.push(`<rect x="${(x + 2).toFixed(1)}" y="${yy.toFixed(1)}" width="${(bwl - 4).toFixed(1)}" height="${(lowTop + lowH - yy).toFixed(1)}" fill="${COLORS[s]}"/>`)
        out.push(text(x + bwl / 2, yy - 4, fmtCell(r.unit, c.value).replace(/ (ms|MiB)$/, ''), { size: 10 }))
      } else if (c && c.text) {
        out.push(text(x + bwl / 2, lowTop + lowH - 4, c.text, { size: 10, fill: '#888' }))
      }
    })
  })

  const foot = [
    'Each system runs in its own process; workloads are interleaved across systems, each after every process is idle. Ratios within one run are the claim; absolute numbers move between runs on this shared machine.',
    'Buffered configurations: IsLabDB durability "buffered", lmdb-js defaults (overlappingSync), classic-level defaults, SQLite WAL + synchronous=NORMAL, Redis appendfsync everysec.',
    'Durable: IsLabDB "sync", lmdb-js put + flushed, classic-level { sync: true }, SQLite synchronous=FULL (one writer at a time), Redis appendfsync always. Details: bench/README.md.',
  ]
  foot.forEach((l, i) => out.push(text(left, H - 56 + i * 18, l, { size: 11, anchor: 'start', fill: '#555' })))
  out.push('</svg>')
  return out.join('\n') + '\n'
}
