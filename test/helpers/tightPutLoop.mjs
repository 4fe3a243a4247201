// Child process for test/pipeline/bufferedBackpressure.test.ts: the bulk-load loop of issue 15
// finding 1, `for (;;) await db.put(...)` in buffered mode, until it is SIGKILLed.
//   node tightPutLoop.mjs <dist entry> <dir> <syncIntervalMs>
// Every 1000 puts it prints "progress <seq> <durableSeq>" with fs.writeSync(1) — a blocking
// write(2), so the line is in the pipe before the loop goes on and survives the SIGKILL — and
// nothing else that would yield to the event loop: only the database may make the loop wait.
import fs from 'node:fs'
import { pathToFileURL } from 'node:url'

const [entry, dir, interval] = process.argv.slice(2)
const { open } = await import(pathToFileURL(entry).href)
const db = await open({ dir, durability: 'buffered', syncIntervalMs: Number(interval), checkpoint: false })
const value = { name: 'user', tags: ['a', 'b'], n: 42 }
for (let i = 0; ; i++) {
  // A thousand keys, overwritten: memory stays small however long the loop runs.
  await db.put(`key:${i % 1000}`, value)
  if (i % 1000 === 999) {
    const s = db.stats()
    fs.writeSync(1, `progress ${s.seq} ${s.durableSeq}\n`)
  }
}
