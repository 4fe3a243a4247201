// Child process of the replication fault tests (faults.test.ts): one primary or replica of a
// stream, run from a copy of dist/ so the test can kill -9 it. argv[2] is its JSON config.
// Commands on stdin, one a line: write (start writing), snapshot, wait <seq>, promote, stop.
// It prints: ready <seq> <restoredFromSeq|0>; a <seq> <i> for every acknowledged write;
// s <seq> <durableSeq> <replicatedSeq> every 20 ms; fenced <from> <to>; restored <seq>; stalled <why>;
// snap <seq>; at <seq>; bye <seq>.
import { openReplicated } from '../../dist/replication/index.js'

const c = JSON.parse(process.argv[2])
const out = (line) => process.stdout.write(`${line}\n`)
const db = await openReplicated({
  dir: c.dir,
  durability: c.durability ?? 'buffered',
  checkpoint: { auto: false, keep: 1 },
  replication: { servers: c.servers, stream: c.stream, role: c.role, ack: c.ack ?? 'local', window: c.window ?? 256, ackTimeoutMs: c.ackTimeoutMs ?? 5000, snapshots: { keepEvents: 0 } },
})
db.replication.on('fenced', (e) => out(`fenced ${e.unpublishedFromSeq ?? 0} ${e.unpublishedToSeq ?? 0}`))
db.replication.on('restored', (s) => out(`restored ${s.seq}`))
db.replication.on('stalled', (e) => out(`stalled ${e.message.replaceAll('\n', ' ')}`))
out(`ready ${db.seq} ${db.replication.restoredFrom?.seq ?? 0}`)
const timer = setInterval(() => {
  const r = db.stats().replication
  out(`s ${db.seq} ${db.durableSeq} ${r?.role === 'primary' ? r.appliedSeq : db.seq}`)
}, 20)

let writing = false
let loop = Promise.resolve()
async function writeLoop() {
  // 16 writes in flight; each acknowledged one is printed with its index: the test knows its key and value.
  const inFlight = new Set()
  for (let i = 0; writing; i++) {
    const p = db.put(`${c.tag}:${i % 300}`, { tag: c.tag, i }).then(
      (r) => out(`a ${r.seq} ${i}`),
      () => (writing = false),
    )
    inFlight.add(p)
    p.finally(() => inFlight.delete(p))
    if (inFlight.size >= 16) await Promise.race(inFlight)
    // About 2000 writes/s: a steady load the publisher keeps up with, so a fault's backlog drains in seconds.
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5))
  }
  await Promise.all(inFlight)
}

let buf = ''
process.stdin.on('data', async (d) => {
  buf += d
  let nl
  while ((nl = buf.indexOf('\n')) >= 0) {
    const [cmd, arg] = buf.slice(0, nl).split(' ')
    buf = buf.slice(nl + 1)
    if (cmd === 'write') {
      writing = true
      loop = writeLoop()
    } else if (cmd === 'snapshot') {
      const info = await db.checkpoint()
      while (db.replication.snapshots.shippedSeq < info.seq) await new Promise((r) => setTimeout(r, 20))
      out(`snap ${info.seq}`)
    } else if (cmd === 'wait') {
      await db.waitForSeq(Number(arg))
      out(`at ${db.seq}`)
    } else if (cmd === 'promote') {
      await db.promote()
      out(`promoted ${db.seq}`)
    } else if (cmd === 'stop') {
      writing = false
      await loop
      if (db.replication.role === 'primary') await db.replication.replicated(db.seq).catch(() => undefined)
      clearInterval(timer)
      const seq = db.seq
      await db.close()
      out(`bye ${seq}`)
      process.exit(0)
    }
  }
})
