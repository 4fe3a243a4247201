// The fixture of the replaceWithCheckpoint tests: a primary whose seq i puts key k(i % KEYS) = i
// (so the state at any seq is known without a model), checkpointed at 300, and replica
// directories holding its events 1..120 with a checkpoint at 80 and several segments.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, expect } from 'vitest'
import { open } from '../../src/index.js'
import type { Database, LogEvent } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

export const KEYS = 50
export const keyOf = (i: number): string => `k${i % KEYS}`

export function expectStateAt(db: Database, seq: number): void {
  for (let k = 0; k < KEYS; k++) {
    let last: number | undefined
    for (let i = seq; i >= 1; i--) {
      if (i % KEYS === k) {
        last = i
        break
      }
    }
    expect(db.get(`k${k}`), `k${k} at seq ${seq}`).toBe(last)
  }
}

export async function eventsOf(db: Database, from: number, to: number): Promise<LogEvent[]> {
  const out: LogEvent[] = []
  for await (const ev of db.events({ since: from - 1, live: false })) {
    if (ev.seq > to) break
    out.push(ev)
  }
  return out
}

/** Registers the primary's set-up and tear-down around each test of the calling file. */
export function replaceFixture(): {
  primary: () => Database
  ckpt: () => { file: string; seq: number }
  replicaDir: () => Promise<string>
  stage: (dir: string) => string
} {
  let primary: Database
  let ckpt: { file: string; seq: number }
  beforeEach(async () => {
    primary = await open({ dir: tmpDir(), segmentBytes: 2048, checkpoint: { auto: false }, history: { retainSegments: 10_000 } })
    for (let i = 1; i <= 300; i++) await primary.put(keyOf(i), i)
    const info = (await primary.checkpoint())!
    ckpt = { file: info.file, seq: info.seq }
  })
  afterEach(async () => {
    await primary.close()
  })
  return {
    primary: () => primary,
    ckpt: () => ckpt,
    async replicaDir() {
      const dir = tmpDir()
      const r = await open({ dir, segmentBytes: 2048, checkpoint: { auto: false }, history: { retainSegments: 10_000 } })
      for (const ev of await eventsOf(primary, 1, 80)) await r.applyReplicated(ev)
      await r.checkpoint()
      for (const ev of await eventsOf(primary, 81, 120)) await r.applyReplicated(ev)
      await r.close()
      return dir
    },
    /** The primary's checkpoint copied into `dir` under a temporary name. */
    stage(dir) {
      const tmp = path.join(dir, 'incoming-snapshot.tmp')
      fs.copyFileSync(ckpt.file, tmp)
      return tmp
    },
  }
}
