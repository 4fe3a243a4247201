// `npm start`: opens the embedded default ./data, writes, reads, restarts and shows that the
// state came back, with timings. Running it again shows the previous runs' data surviving.
import { open } from '../index.js'

const N = 100_000
const ms = (t: number): string => `${(performance.now() - t).toFixed(1)} ms`
const rate = (n: number, t: number): string => `${Math.round(n / ((performance.now() - t) / 1000)).toLocaleString('en-US')} ops/s`

async function main(): Promise<void> {
  let t = performance.now()
  let db = await open({ dir: './data' })
  const runs = ((db.get('demo:runs') as number | undefined) ?? 0) + 1
  console.log(`opened ./data in ${ms(t)}: ${db.size.toLocaleString('en-US')} keys, last seq ${db.seq} (run #${runs})`)

  t = performance.now()
  const writes: Promise<unknown>[] = []
  for (let i = 0; i < N; i++) {
    writes.push(db.put(`user:${String(i).padStart(6, '0')}`, { id: i, name: `user ${i}`, plan: i % 10 === 0 ? 'pro' : 'free', run: runs }))
  }
  await Promise.all(writes)
  await db.flush()
  console.log(`put ${N.toLocaleString('en-US')} users (buffered, flushed to disk) in ${ms(t)} = ${rate(N, t)}`)

  t = performance.now()
  let pro = 0
  for (let i = 0; i < N; i++) if ((db.get(`user:${String(i).padStart(6, '0')}`) as { plan: string }).plan === 'pro') pro++
  console.log(`get ${N.toLocaleString('en-US')} users in ${ms(t)} = ${rate(N, t)} (${pro.toLocaleString('en-US')} on the pro plan)`)

  const { seq } = await db.batch([
    { type: 'put', key: 'demo:runs', value: runs },
    { type: 'put', key: 'demo:last', value: { at: new Date(), users: N, big: 2n ** 64n } },
  ])
  console.log(`batch committed atomically at seq ${seq}`)
  const before = { size: db.size, seq: db.seq, last: db.get('demo:last') }
  await db.close()

  t = performance.now()
  db = await open({ dir: './data' })
  const rec = db.stats().recovery!
  console.log(
    `reopened in ${ms(t)}: replayed ${rec.eventsReplayed.toLocaleString('en-US')} events from ${rec.segmentsRead} WAL segment(s) ` +
      `in ${rec.timeMs.toFixed(1)} ms`,
  )
  const same = db.size === before.size && db.seq === before.seq
  console.log(`state came back: ${same ? 'yes' : 'NO'} (${db.size.toLocaleString('en-US')} keys, seq ${db.seq})`)
  console.log('demo:last =', db.get('demo:last'))
  // Each run adds 100k events: without a checkpoint every later run would replay all of them.
  t = performance.now()
  const cp = await db.checkpoint()
  console.log(`checkpoint at seq ${cp?.seq ?? db.seq} in ${ms(t)} (the next run opens from it and replays only what comes after)`)
  await db.close()
  if (!same) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : err)
  process.exitCode = 1
})
