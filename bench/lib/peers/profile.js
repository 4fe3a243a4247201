// For every target IsLabDB missed: run IsLabDB's side of that workload again in a child under
// `node --cpu-prof`, and summarize where its time goes with bench/profile-summary.js, restricted to
// the timed window of that workload. Separate from the measured run, so the profiler's overhead
// never touches the numbers the ratios come from.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { progress } from '../measure.js'
import { Child } from './run.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SUMMARY = path.resolve(HERE, '../../profile-summary.js')

export async function profileMisses(ctx, targets, resultsDir, stamp) {
  const missed = targets.filter((t) => t.verdict === 'MISS' && t.profile)
  if (missed.length === 0) return {}
  const want = new Set(missed.map((t) => t.profile))
  const profDir = fs.mkdtempSync(path.join(ctx.tmpRoot, 'prof-'))
  progress(`profiling IsLabDB on the missed workloads (${[...want].join(', ')}) under --cpu-prof`)
  const child = new Child('islab', ['--cpu-prof', `--cpu-prof-dir=${profDir}`])
  let windows
  try {
    await child.call('init', { system: 'islab', n: ctx.n, kind: '100', tmpRoot: ctx.tmpRoot, chunk: ctx.chunk, clients: ctx.peerClients })
    const pauseMs = ctx.peerPauseMs
    if (want.has('putSeq') || want.has('getFirstZipf')) await child.call('loadSeq', { pauseMs })
    await child.call('loadRandom', { pauseMs })
    if (want.has('reopen')) await child.call('reopen', {})
    if (want.has('getUniform') || want.has('getZipf')) await child.call('warm', {})
    if (want.has('getUniform')) await child.call('get', { dist: 'uniform', seconds: ctx.peerSeconds, label: 'getUniform' })
    if (want.has('getZipf')) await child.call('get', { dist: 'zipf', seconds: ctx.peerSeconds, label: 'getZipf' })
    if (want.has('putAwaited')) await child.call('putAwaited', { seconds: ctx.peerSeconds, label: 'putAwaited' })
    if (want.has('durable1')) await child.call('durablePuts', { writers: 1, seconds: ctx.peerDurableSeconds, label: 'durable1' })
    if (want.has('durable64')) await child.call('durablePuts', { writers: 64, seconds: ctx.peerDurableSeconds, label: 'durable64' })
    if (want.has('reopenCheckpoint')) await child.call('reopenCheckpoint', {})
    windows = (await child.call('shutdown', {})).windows
    await new Promise((r) => (child.exited ? r() : child.proc.once('exit', r)))
  } catch (e) {
    child.kill()
    progress(`profiling failed: ${e.message.split('\n')[0]}`)
    return {}
  }
  // One .cpuprofile per process (CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile): the child's, and
  // reopen.js's for the reopen workload. Each window says which process recorded it.
  const files = new Map()
  for (const f of fs.readdirSync(profDir)) {
    if (f.endsWith('.cpuprofile')) files.set(Number(f.split('.')[3]), f)
  }
  if (files.size === 0) return {}
  const winFile = path.join(profDir, 'windows.json')
  fs.writeFileSync(winFile, JSON.stringify({ windows }))
  const out = {}
  for (const label of want) {
    const full = `peer:100:${label}:islab`
    const pid = windows.find((w) => w.label.includes(full))?.pid
    const file = files.get(pid)
    if (file === undefined) {
      out[label] = { text: `no profile recorded for ${full}` }
      continue
    }
    // The child's profile holds every workload but the reopens, which reopen.js ran in processes of their own.
    const fresh = label === 'reopen' || label === 'reopenCheckpoint'
    const kept = path.join(resultsDir, `${stamp}-islabdb-${fresh ? label : 'misses'}.cpuprofile`)
    if (!fs.existsSync(kept)) fs.copyFileSync(path.join(profDir, file), kept)
    try {
      const text = execFileSync(process.execPath, [SUMMARY, kept, '--windows', winFile, '--window', full, '--top', '10'], { encoding: 'utf8' })
      out[label] = { text: text.replace(kept, path.basename(kept)).trim(), file: path.relative(path.resolve(HERE, '../../..'), kept) }
    } catch (e) {
      out[label] = { text: `profile-summary failed: ${e.message.split('\n')[0]}` }
    }
  }
  return out
}
