// Databases with physics driven by hand: a clock the test moves, and ticks only when asked.
import { open } from '../../src/index.js'
import type { Database, OpenOptions, PhysicsOptions } from '../../src/index.js'

export interface Lab {
  db: Database
  /** Moves the physics clock forward. */
  advance(ms: number): void
  /** Current clock time. */
  now(): number
}

/** A memory-mode database whose physics clock and ticks are the test's. */
export async function lab(opts: OpenOptions & { physicsOptions?: PhysicsOptions } = {}): Promise<Lab> {
  let now = 1_000_000
  const { physicsOptions, ...rest } = opts
  const db = await open({
    durability: 'memory',
    ...rest,
    // The demon and wormholes act on what they see: the tests of each turn it on.
    // Every read is recorded (the default records bursts: 1/8 of reads), so tests are exact.
    physics: { tickMs: 100_000_000, entropyEvery: 1, recordShare: 1, demon: false, wormholes: false, ...physicsOptions, clock: () => now },
  })
  return { db, advance: (ms) => (now += ms), now: () => now }
}

/** A value of about `bytes` bytes of msgpack. */
export function blob(i: number, bytes = 100): { id: number; text: string } {
  return { id: i, text: `value ${i} `.padEnd(bytes - 12, 'x') }
}

/** mulberry32: a seeded PRNG with floats in [0, 1) whose low bits are not correlated. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
