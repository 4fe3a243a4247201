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
    // The demon, wormholes and evaporation act on what they see: the tests of each turn it on.
    // Writes make warm entries in the Map (packWrites: false), which the tier tests start from.
    // Every read is recorded (the default records bursts: 1/8 of reads), so tests are exact.
    physics: { tickMs: 100_000_000, entropyEvery: 1, recordShare: 1, demon: false, wormholes: false, evaporateBelow: false, packWrites: false, ...physicsOptions, clock: () => now },
  })
  return { db, advance: (ms) => (now += ms), now: () => now }
}

/** A value of about `bytes` bytes of msgpack. */
export function blob(i: number, bytes = 100): { id: number; text: string } {
  return { id: i, text: `value ${i} `.padEnd(bytes - 12, 'x') }
}

/** The seeded PRNG (mulberry32) the crash tests use: one generator for every test. */
export { prng } from '../helpers/simFileLayer.js'
