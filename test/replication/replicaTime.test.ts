// A replica logs each replicated event with the primary's time, also after it reopened from a
// checkpoint of its own. Found by proof.test.ts: a checkpoint is stamped with the replica's wall
// clock, which runs ahead of the times of the events it has yet to apply (by its lag), and the
// reopened replica clamped their times up to it, so its log (and `islab dump`) differed from the
// primary's. In-process with the core's applyReplicated, the path the replica's applier takes.
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { LogEvent } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'
import { logRecords, stateOf } from './helpers.js'

describe('replicated event times', () => {
  it('a replica reopened from its own checkpoint applies the next events with their own times', async () => {
    const primary = await open({ dir: tmpDir(), durability: 'buffered' })
    for (let i = 0; i < 200; i++) await primary.put(`k${i % 17}`, { i })
    const events: LogEvent[] = []
    await primary.flush()
    for await (const ev of primary.events({ since: 0, live: false })) events.push(ev)
    // The replica's wall clock is past every one of these times when it checkpoints below.
    const newest = events.at(-1)!.time
    while (Date.now() <= newest + 5) await new Promise((r) => setTimeout(r, 5))

    const dir = tmpDir()
    let replica = await open({ dir, durability: 'buffered', history: { retainSegments: 1000 } })
    for (const ev of events.slice(0, 100)) await replica.applyReplicated(ev)
    await replica.checkpoint()
    await replica.close()
    replica = await open({ dir, durability: 'buffered', history: { retainSegments: 1000 } })
    expect(replica.seq).toBe(100)
    for (const ev of events.slice(100)) await replica.applyReplicated(ev)

    expect(replica.getEntry('k0')!.time).toBe(primary.getEntry('k0')!.time)
    expect(await stateOf(replica)).toEqual(await stateOf(primary))
    expect(await logRecords(replica)).toEqual(await logRecords(primary))
    await replica.close()
    await primary.close()
  })
})
