#!/usr/bin/env node
// What a preallocated WAL segment would buy (issue 16): the disk's cost of one durable 100-byte
// append as the bench probes it (writeSync + fdatasyncSync, bench/lib/workloads.js measureFsync),
// as the WAL does it today (an O_DSYNC append through Node's async fs.write, libuv's thread pool),
// and as it would with the segment zero-filled and synced ahead (an O_DSYNC positional overwrite,
// which changes no file size, so the file system has no metadata to journal). Interleaved rounds,
// medians, and each way ÷ the probe of the same round.
//   node bench/wal-disk-probe.js [--rounds 11] [--secs 0.3]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i < 0 ? dflt : Number(args[i + 1])
}
const ROUNDS = opt('rounds', 11)
const SECS = opt('secs', 0.3)
const now = () => performance.now()
const c = fs.constants
const buf = Buffer.alloc(100, 0x61)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islab-wdp-'))

function zeroFilled(file, bytes) {
  const fd = fs.openSync(file, 'w')
  const z = Buffer.alloc(1 << 20)
  for (let o = 0; o < bytes; o += z.length) fs.writeSync(fd, z, 0, z.length, o)
  fs.fsyncSync(fd)
  fs.closeSync(fd)
}

const asyncWrite = (fd, pos) => new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, pos, (e) => (e ? rej(e) : res())))

async function timed(op) {
  for (let i = 0; i < 20; i++) await op(i)
  let n = 0
  const t0 = now()
  while (now() - t0 < SECS * 1000) await op(20 + n++)
  return n / ((now() - t0) / 1000)
}

const ways = {
  'probe: append + fdatasync (sync)': async (r) => {
    const fd = fs.openSync(path.join(dir, `a${r}`), 'a')
    const rate = await timed(() => {
      fs.writeSync(fd, buf)
      fs.fdatasyncSync(fd)
    })
    fs.closeSync(fd)
    return rate
  },
  'WAL today: O_DSYNC append (async)': async (r) => {
    const fd = fs.openSync(path.join(dir, `b${r}`), c.O_WRONLY | c.O_APPEND | c.O_CREAT | c.O_DSYNC)
    const rate = await timed(() => asyncWrite(fd, null))
    fs.closeSync(fd)
    return rate
  },
  'preallocated: O_DSYNC overwrite (async)': async (r) => {
    const file = path.join(dir, `c${r}`)
    zeroFilled(file, 16 << 20)
    const fd = fs.openSync(file, c.O_WRONLY | c.O_DSYNC)
    const rate = await timed((i) => asyncWrite(fd, i * buf.length))
    fs.closeSync(fd)
    return rate
  },
}

const rates = new Map()
const ratios = new Map()
const push = (m, k, v) => (m.get(k) ?? m.set(k, []).get(k)).push(v)
for (let r = 0; r < ROUNDS; r++) {
  const got = {}
  const names = r % 2 === 0 ? Object.keys(ways) : Object.keys(ways).reverse()
  for (const name of names) got[name] = await ways[name](r)
  const probe = got[Object.keys(ways)[0]]
  for (const [name, rate] of Object.entries(got)) {
    push(rates, name, rate)
    push(ratios, name, rate / probe)
  }
}
fs.rmSync(dir, { recursive: true, force: true })
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
for (const name of Object.keys(ways)) {
  console.log(`${name.padEnd(42)} median ${String(Math.round(median(rates.get(name)))).padStart(6)}/s   ÷ probe (same round) ${median(ratios.get(name)).toFixed(2)}`)
}
console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
