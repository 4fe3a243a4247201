#!/usr/bin/env node
// Put throughput of the two bulk-load shapes in buffered mode, the ones issue 15 finding 1 is about:
// a tight non-awaited loop (every put issued in one synchronous turn, then awaited together) and a
// tight `await db.put()` loop. Runs the built dist/ (npm run build first).
//   node bench/putLoop.js [n=200000] [rounds=5] [dist entry]
// Prints puts/s of the loop alone and of the loop plus flush() (everything durable), the process's
// CPU time per put over both (less sensitive to a busy machine than wall time), medians of the
// rounds, and for the awaited loop how far durableSeq got while it ran.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const n = Number(process.argv[2] ?? 200_000)
const rounds = Number(process.argv[3] ?? 5)
const entry = process.argv[4] ?? new URL('../dist/index.js', import.meta.url).pathname
const { open } = await import(pathToFileURL(path.resolve(entry)).href)

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

async function once(awaited) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-putloop-'))
  const db = await open({ dir, durability: 'buffered', checkpoint: false, syncIntervalMs: Number(process.env.SYNC_MS ?? 100) })
  const value = { name: 'user', n: 42, tags: ['a', 'b'] }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let durableDuring = 0
  if (awaited) {
    for (let i = 0; i < n; i++) await db.put(`key:${i}`, value)
    durableDuring = db.stats().durableSeq
  } else {
    const ps = new Array(n)
    for (let i = 0; i < n; i++) ps[i] = db.put(`key:${i}`, value)
    await Promise.all(ps)
  }
  const loopMs = performance.now() - t0
  const loopCpu = process.cpuUsage(cpu0)
  // Until everything is durable too: the old code wrote nothing during the loop and all of it here.
  await db.flush()
  const allMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return { loop: n / (loopMs / 1000), all: n / (allMs / 1000), loopCpuUs: (loopCpu.user + loopCpu.system) / n, cpuUs: (cpu.user + cpu.system) / n, durableDuring }
}

const k = (r) => Math.round(r / 1000)
for (const awaited of [false, true]) {
  const runs = []
  await once(awaited) // warm-up
  for (let r = 0; r < rounds; r++) runs.push(await once(awaited))
  const label = awaited ? 'await loop   ' : 'no-await loop'
  const med = (f) => median(runs.map(f))
  console.log(
    `${label} loop ${k(med((x) => x.loop))} k puts/s, loop+flush ${k(med((x) => x.all))} k puts/s, ` +
      `CPU ${med((x) => x.loopCpuUs).toFixed(2)} µs/put in the loop, ${med((x) => x.cpuUs).toFixed(2)} with the flush (rounds, loop k/s: ${runs.map((x) => k(x.loop)).join(', ')})` +
      (awaited ? `, durableSeq when the loop ended: ${runs.at(-1).durableDuring}/${n}` : ''),
  )
}
