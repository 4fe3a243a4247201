// The read ring records only what a tick can keep: under a flood of reads the recorded share
// halves, and it comes back once reads slow down. Masses count every read either way.
import { describe, expect, it } from 'vitest'
import type { AccessBatch, Physics } from '../../src/physics/physics.js'
import { lab } from './helpers.js'

const RING = 4096

/** The database's physics (internal: the ring and its batches are not public API). */
function physicsOf(db: unknown): Physics {
  return (db as { physics_: Physics }).physics_
}

/** Recorded reads in a batch (burst markers, '', are not reads). */
const recorded = (b: AccessBatch) => b.keys.filter((k) => k !== '').length

describe('read recording', () => {
  it('records fewer reads when the ring overflows, counts every read, and recovers', async () => {
    const { db } = await lab()
    const p = physicsOf(db)
    const batches: AccessBatch[] = []
    p.accesses$.subscribe((b) => batches.push(b))
    const keys = Array.from({ length: 64 }, (_, i) => `k:${i}`)
    for (const [i, k] of keys.entries()) await db.put(k, { i })
    db.physics.tick()

    // With recordShare 1 and few reads, every read is recorded.
    for (const k of keys) db.get(k)
    db.physics.tick()
    expect(recorded(batches.at(-1)!)).toBe(64)

    // A flood: 60,000 reads between two ticks. The ring keeps at most RING entries, and far
    // fewer reads than were made went into it.
    const before = db.metrics().reads!
    const flood = 60_000
    for (let i = 0; i < flood; i++) db.get(keys[i & 63]!)
    expect(db.metrics().reads! - before).toBe(flood)
    db.physics.tick()
    const b = batches.at(-1)!
    expect(b.keys.length).toBeLessThanOrEqual(RING)
    // Each ring's worth of writes halves the share, so the writes grow with log2 of the reads.
    expect(recorded(b) + b.missed).toBeLessThan(flood / 3)
    // Masses are exact whatever was recorded (the clock has not moved, so nothing decayed): k:0
    // was read once before and 938 times in the flood.
    expect(db.physics.mass('k:0')).toBe(1 + Math.ceil(flood / 64))

    // Quiet ticks double the share back to recordShare; then every read is recorded again.
    for (let i = 0; i < 8; i++) db.physics.tick()
    for (const k of keys) db.get(k)
    db.physics.tick()
    expect(recorded(batches.at(-1)!)).toBe(64)
    await db.close()
  })
})
