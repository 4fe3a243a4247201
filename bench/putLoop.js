#!/usr/bin/env node
// Put throughput of the two bulk-load shapes in buffered mode, the ones issue 15 finding 1 is about:
// a tight non-awaited loop (every put issued in one synchronous turn, then awaited together) and a
// tight `await db.put()` loop. Runs the built dist/ (npm run build first).
//   node bench/putLoop.js [n=200000] [rounds=5] [dist entry]
// Prints puts/s (median of the rounds) and, for the awaited loop, how far durableSeq got meanwhile.
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
  const db = await open({ dir, durability: 'buffered', checkpoint: false })
  const value = { name: 'user', n: 42, tags: ['a', 'b'] }
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
  const ms = performance.now() - t0
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return { rate: n / (ms / 1000), durableDuring }
}

for (const awaited of [false, true]) {
  const rates = []
  let durable = 0
  await once(awaited) // warm-up
  for (let r = 0; r < rounds; r++) {
    const { rate, durableDuring } = await once(awaited)
    rates.push(rate)
    durable = durableDuring
  }
  const label = awaited ? 'await loop    ' : 'no-await loop '
  console.log(`${label} ${Math.round(median(rates)).toLocaleString('en')} puts/s (rounds: ${rates.map((r) => Math.round(r / 1000)).join(', ')} k/s)${awaited ? `, durableSeq when the loop ended: ${durable}/${n}` : ''}`)
}
