#!/usr/bin/env node
// The memory-layout rows of issue 16 (bulk load, RSS added right after it, the first pass of
// uniform gets after a pause, warm uniform and Zipfian passes) for several IsLabDB builds and
// options and a bare Map, alternated round by round, each variant in a fresh child process per
// round, keys built per call as the peer bench builds them (bench/lib/peers). Reports medians of
// the rounds and each variant's ratio to the Map of the same round.
//   node bench/compact-ab.js [--rounds 5] [--n 200000] <variant> [<variant> ...]
// A variant is map, or <dist dir>[:packWrites] (e.g. ../base/dist dist:packWrites).
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { prng, shuffledIndices, userKey, userValue, zipfianSequence } from './lib/data.js'
import { gc, median } from './lib/measure.js'

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = args[i + 1]
  args.splice(i, 2)
  return v
}
const now = () => performance.now()
const self = fileURLToPath(import.meta.url)

function rss() {
  gc()
  gc()
  return process.memoryUsage().rss
}

async function child(variant, n) {
  const order = shuffledIndices(n, 5)
  const rnd = prng(11)
  const u = new Uint32Array(n)
  for (let i = 0; i < n; i++) u[i] = Math.floor(rnd() * n)
  const idx = Array.from({ length: n }, (_, i) => i)
  const z = Uint32Array.from(zipfianSequence(idx, n, 0.99, 12))
  let get, close
  const rss0 = rss()
  let t0 = now()
  let c0 = process.cpuUsage()
  if (variant === 'map') {
    const { Packr } = await import('msgpackr')
    const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint' })
    const m = new Map()
    for (let i = 0; i < n; i++) {
      const v = userValue(order[i])
      m.set(userKey(order[i]), { v, b: packr.pack(v) })
    }
    get = (k) => m.get(k).v
    close = async () => {}
  } else {
    const [dist, flag] = variant.split(':')
    const { open } = await import(pathToFileURL(path.resolve(dist, 'index.js')).href)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compact-ab-'))
    const opts = { dir, durability: 'buffered' }
    if (flag === 'packWrites') opts.physics = { packWrites: true }
    if (flag === 'noPack') opts.physics = { packWrites: false }
    const db = await open(opts)
    t0 = now()
    c0 = process.cpuUsage()
    for (let i = 0; i < n; i += 1000) {
      const end = Math.min(n, i + 1000)
      const ps = new Array(end - i)
      for (let j = i; j < end; j++) ps[j - i] = db.put(userKey(order[j]), userValue(order[j]))
      await Promise.all(ps)
    }
    await db.flush()
    get = (k) => db.get(k)
    close = async () => {
      await db.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  const loadMs = now() - t0
  const loadCpu = process.cpuUsage(c0)
  const rssLoaded = rss() - rss0
  await sleep(200)
  let acc = 0
  // Rates per second of CPU time (this process, all threads) next to the wall-clock ones: on a
  // machine shared with other jobs the wall clock also counts the time others ran.
  const cpu = {}
  const pass = (seq, label) => {
    const t = now()
    const c = process.cpuUsage()
    for (let i = 0; i < seq.length; i++) acc += get(userKey(seq[i])).id
    const d = process.cpuUsage(c)
    ;(cpu[label] ??= []).push(seq.length / ((d.user + d.system) / 1e6))
    return seq.length / ((now() - t) / 1000)
  }
  const first = pass(u, 'first')
  const warm = [pass(u, 'warm'), pass(u, 'warm'), pass(u, 'warm')]
  const zipf = [pass(z, 'zipf'), pass(z, 'zipf')]
  const rssWarm = rss() - rss0
  await close()
  return {
    load: n / (loadMs / 1000),
    loadCpu: n / ((loadCpu.user + loadCpu.system) / 1e6),
    firstCpu: cpu.first[0],
    warmCpu: median(cpu.warm),
    zipfCpu: median(cpu.zipf),
    rssMB: rssLoaded / 2 ** 20, first, warm: median(warm), zipf: median(zipf), rssWarmMB: rssWarm / 2 ** 20, acc }
}

if (process.argv[2] === '--child') {
  const r = await child(process.argv[3], Number(process.argv[4]))
  process.send(r)
  process.disconnect()
} else {
  const rounds = Number(opt('rounds', 5))
  const n = Number(opt('n', 200000))
  const variants = ['map', ...args.filter((a) => a !== 'map')]
  const run = (v) =>
    new Promise((resolve, reject) => {
      const c = fork(self, ['--child', v, String(n)], { execArgv: ['--expose-gc', ...process.execArgv] })
      c.on('message', resolve)
      c.on('exit', (code) => code !== 0 && reject(new Error(`${v} exited ${code}`)))
    })
  const rows = Object.fromEntries(variants.map((v) => [v, []]))
  const ratios = Object.fromEntries(variants.map((v) => [v, []]))
  const keys = ['load', 'rssMB', 'first', 'warm', 'zipf', 'rssWarmMB', 'loadCpu', 'firstCpu', 'warmCpu', 'zipfCpu']
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so no variant always runs right after the same neighbour.
    const order = variants.map((_, i) => variants[(i + r) % variants.length])
    const got = {}
    for (const v of order) {
      got[v] = await run(v)
      console.error(`round ${r + 1} ${v}: ${keys.map((k) => `${k} ${Math.round(got[v][k])}`).join(' ')}`)
    }
    for (const v of variants) {
      rows[v].push(got[v])
      ratios[v].push(Object.fromEntries(keys.map((k) => [k, got[v][k] / got.map[k]])))
    }
  }
  const fmt = (x) => (x >= 1000 ? `${Math.round(x / 1000)}k` : x.toFixed(x < 10 ? 2 : 0))
  console.log(`n = ${n}, ${rounds} rounds, medians (÷ Map of the same round, median)`)
  console.log(['variant', ...keys].join(' | '))
  for (const v of variants) {
    const cells = keys.map((k) => `${fmt(median(rows[v].map((x) => x[k])))} (${median(ratios[v].map((x) => x[k])).toFixed(2)}×)`)
    console.log([v, ...cells].join(' | '))
  }
}
