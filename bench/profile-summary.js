#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (from `node --cpu-prof bench/run.js --only <name>`): self time
// aggregated by function (name + file), and by file.
//
//   node bench/profile-summary.js <file.cpuprofile> [--top 25] [--under <functionName>]
//                                  [--windows <results.json> [--window <label>]]
//
// --windows keeps only samples taken inside the timed loops recorded in that run's results JSON
// (bench/run.js records them); --window narrows to windows whose label contains the text
// (baseline, buffered, memory, get:db-uniform, sync64, replay, ...). GC and idle time inside the
// window stay in, which is the point. --under keeps only samples whose stack contains that
// function. Percentages are of the samples kept.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)))

function parse(argv) {
  const o = { file: undefined, top: 25, under: undefined, windows: undefined, window: undefined }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') o.top = Number(argv[++i])
    else if (argv[i] === '--under') o.under = argv[++i]
    else if (argv[i] === '--windows') o.windows = argv[++i]
    else if (argv[i] === '--window') o.window = argv[++i]
    else o.file = argv[i]
  }
  if (!o.file) {
    console.error('usage: node bench/profile-summary.js <file.cpuprofile> [--top N] [--under functionName]')
    process.exit(2)
  }
  return o
}

function shortUrl(url) {
  if (!url) return ''
  let u = url.startsWith('file://') ? fileURLToPath(url) : url
  if (u.startsWith(REPO + path.sep)) u = path.relative(REPO, u)
  return u.replace(/^node_modules\//, 'nm/')
}

const o = parse(process.argv.slice(2))
const prof = JSON.parse(fs.readFileSync(o.file, 'utf8'))
const byId = new Map()
const parent = new Map()
for (const n of prof.nodes) {
  byId.set(n.id, n)
  for (const c of n.children ?? []) parent.set(c, n.id)
}

// Does the stack of node `id` contain a frame named o.under? Memoized per node.
const underMemo = new Map()
function isUnder(id) {
  if (o.under === undefined) return true
  if (underMemo.has(id)) return underMemo.get(id)
  const n = byId.get(id)
  const r = n.callFrame.functionName === o.under || (parent.has(id) ? isUnder(parent.get(id)) : false)
  underMemo.set(id, r)
  return r
}

// Self time per node from samples + timeDeltas (µs); timeDeltas[i] is the gap before sample i,
// so it is charged to the sample before it.
let wins
if (o.windows !== undefined) {
  const doc = JSON.parse(fs.readFileSync(o.windows, 'utf8'))
  wins = (doc.windows ?? []).filter((w) => o.window === undefined || w.label.includes(o.window))
  if (wins.length === 0) {
    console.error(`no windows${o.window ? ` labelled *${o.window}*` : ''} in ${o.windows}`)
    process.exit(2)
  }
}
const inWindow = (t) => wins === undefined || wins.some((w) => t >= w.startUs && t < w.endUs)

const selfUs = new Map()
const { samples, timeDeltas } = prof
let total = 0
let t = prof.startTime
for (let i = 0; i < samples.length; i++) {
  t += timeDeltas[i]
  const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0
  if (!inWindow(t) || !isUnder(samples[i])) continue
  selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + dt)
  total += dt
}

const byFn = new Map()
const byFile = new Map()
for (const [id, us] of selfUs) {
  const cf = byId.get(id).callFrame
  const file = shortUrl(cf.url) || '(native/vm)'
  const key = `${cf.functionName || '(anonymous)'}\t${file}${cf.url ? `:${cf.lineNumber + 1}` : ''}`
  byFn.set(key, (byFn.get(key) ?? 0) + us)
  byFile.set(file, (byFile.get(file) ?? 0) + us)
}

const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5)
const ms = (us) => (us / 1000).toFixed(0).padStart(7)
const scope = [
  wins ? `in ${wins.length} window(s)${o.window ? ` labelled *${o.window}*` : ''}` : '',
  o.under ? `under ${o.under}` : '',
].filter(Boolean)
console.log(`${o.file}: ${(total / 1000).toFixed(0)} ms of samples${scope.length ? ` ${scope.join(', ')}` : ''}`)
console.log('\nself time by function')
console.log(`${'%'.padStart(5)}  ${'ms'.padStart(7)}  function  (file:line)`)
for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, o.top)) {
  const [fn, where] = k.split('\t')
  console.log(`${pct(us)}  ${ms(us)}  ${fn}  (${where})`)
}
console.log('\nself time by file')
for (const [f, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${ms(us)}  ${f}`)
