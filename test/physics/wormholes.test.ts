import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { WormholeNetwork, DEFAULT_WORMHOLE_OPTIONS, poissonTail } from '../../src/physics/wormholes.js'
import { blob, lab, prng } from './helpers.js'

/** `n` users drawn at random from [0, users). */
function shuffled(n: number, users: number): number[] {
  const rnd = prng(12345)
  return Array.from({ length: n }, () => Math.floor(rnd() * users))
}

/** Reads user:i, profile:i, settings:i for the given users, one tick per `perTick` sessions. */
function sessions(db: { get(k: string): unknown; physics: { tick(): void } }, users: number[], perTick = 10): void {
  users.forEach((u, i) => {
    db.get(`user:${u}`)
    db.get(`profile:${u}`)
    db.get(`settings:${u}`)
    if (i % perTick === perTick - 1) db.physics.tick()
  })
  db.physics.tick()
}

describe('wormholes', () => {
  it('form between keys read one after the other, not between keys read at random', () => {
    const net = new WormholeNetwork(DEFAULT_WORMHOLE_OPTIONS, 0)
    const batch: string[] = []
    const rnd = prng(7)
    const next = (n: number) => Math.floor(rnd() * n)
    for (let s = 0; s < 400; s++) {
      const u = next(20)
      batch.push(`user:${u}`, `profile:${u}`, `noise:${next(5000)}`)
    }
    for (let i = 0; i < batch.length; i += 120) net.learn(batch.slice(i, i + 120), 1 + i)
    const list = net.list()
    const real = list.filter((w) => w.a.replace('profile:', 'user:') === w.b)
    const chance = list.filter((w) => w.a.replace('profile:', 'user:') !== w.b)
    expect(real.length).toBe(20)
    const weakestReal = Math.min(...real.map((w) => w.strength))
    expect(weakestReal).toBeGreaterThan(0.7)
    // Chance neighbours (consecutive sessions) rarely form one, and never as strong.
    expect(chance.length).toBeLessThanOrEqual(2)
    for (const w of chance) expect(w.strength).toBeLessThan(weakestReal)
  })

  it('a popular key read near everything by chance forms none (Zipfian reads, no correlation)', () => {
    const net = new WormholeNetwork(DEFAULT_WORMHOLE_OPTIONS, 0)
    // Zipfian θ=0.99 over 20,000 keys by inverse CDF: key 0 takes ~9% of the reads.
    const n = 20_000
    const cdf = new Float64Array(n)
    let sum = 0
    for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** 0.99
    const rnd = prng(99)
    const draw = () => {
      const x = rnd() * sum
      let lo = 0
      let hi = n - 1
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (cdf[mid]! < x) lo = mid + 1
        else hi = mid
      }
      return `k${lo}`
    }
    for (let t = 0; t < 50; t++) net.learn(Array.from({ length: 4096 }, draw), 1 + t * 100)
    expect(net.list()).toEqual([])
  })

  it('come back from a checkpoint written before the read total was saved, and stay', () => {
    const net = new WormholeNetwork(DEFAULT_WORMHOLE_OPTIONS, 0)
    const rnd = prng(3)
    for (let t = 0; t < 20; t++) {
      const batch: string[] = []
      for (let s = 0; s < 100; s++) {
        const u = Math.floor(rnd() * 20)
        batch.push(`user:${u}`, `profile:${u}`, `noise:${Math.floor(rnd() * 5000)}`)
      }
      net.learn(batch, 1 + t)
    }
    const pairs = (n: WormholeNetwork) => n.list().map((w) => `${w.a} ${w.b}`).sort()
    const before = pairs(net)
    expect(before.length).toBeGreaterThanOrEqual(20)
    // The old format: the wormhole rows only, no trailing [total] row.
    const packr = new Packr({ useRecords: false })
    const rows = packr.unpack(net.save()) as unknown[][]
    expect(rows.at(-1)).toHaveLength(1)
    const old = packr.pack(rows.slice(0, -1))
    for (const data of [net.save(), old]) {
      const back = new WormholeNetwork(DEFAULT_WORMHOLE_OPTIONS, 21)
      back.load(data)
      expect(pairs(back)).toEqual(before)
      // A first small batch after the restart does not make every restored pair look like chance.
      back.learn(['noise:1', 'noise:2', 'noise:3'], 22)
      expect(pairs(back)).toEqual(before)
    }
  })

  it('judge co-reads against chance with the Poisson tail', () => {
    // Against the direct sum 1 − Σ_{i<k} e^−λ λ^i / i!, where that sum is precise enough.
    const direct = (k: number, l: number) => {
      let cdf = 0
      let term = Math.exp(-l)
      for (let i = 0; i < k; i++) {
        cdf += term
        term *= l / (i + 1)
      }
      return 1 - cdf
    }
    for (const l of [0.05, 0.5, 1.4, 3, 9]) for (const k of [1, 2, 5, 8, 12]) if (direct(k, l) > 1e-9) expect(poissonTail(k, l)).toBeCloseTo(direct(k, l), 9)
    expect(poissonTail(0, 3)).toBe(1)
    expect(poissonTail(2, 0)).toBe(0)
    // Far tails stay positive and ordered (no underflow to 0, no overflow for large λ and k).
    expect(poissonTail(40, 2)).toBeGreaterThan(0)
    expect(poissonTail(40, 2)).toBeLessThan(poissonTail(30, 2))
    expect(poissonTail(4000, 3000)).toBeGreaterThan(0)
    expect(poissonTail(4000, 3000)).toBeLessThan(1e-6)
  })

  it('reading one end prefetches the other into the hot tier', async () => {
    const { db, advance } = await lab({ memory: { hotBytes: 40 * 120, warmBytes: 1e7 }, physicsOptions: { wormholes: true, halfLifeMs: 1000 } })
    for (let u = 0; u < 200; u++) for (const p of ['user', 'profile', 'settings']) await db.put(`${p}:${u}`, blob(u))
    sessions(db, shuffled(400, 50))
    const holes = db.physics.wormholes()
    expect(holes.length).toBeGreaterThanOrEqual(50)
    expect(holes.some((w) => w.a === 'profile:3' && w.b === 'user:3')).toBe(true)
    // Later (masses have faded, wormholes last longer), other keys fill the hot tier; then
    // user:3 is read alone: its partners come in with it.
    advance(10_000)
    db.physics.tick()
    for (let r = 0; r < 3; r++) for (let u = 100; u < 160; u++) db.get(`user:${u}`)
    expect(db.physics.tier('profile:3')).not.toBe('hot')
    db.get('user:3')
    expect(db.physics.tier('profile:3')).toBe('hot')
    expect(db.physics.tier('settings:3')).toBe('hot')
    expect(db.metrics().counters!.prefetches).toBeGreaterThanOrEqual(2)
    expect(db.physics.wormholes().find((w) => w.a === 'profile:3')!.uses).toBeGreaterThan(0)
    // Reviews keep going over few wormholes, many ticks: the count stays the list's length.
    for (let t = 0; t < 20; t++) db.physics.tick()
    expect(db.metrics().wormholes).toBe(db.physics.wormholes().length)
    await db.close()
  })

  it("a read's partners come in together: one prefetch does not evict another", async () => {
    const { db, advance } = await lab({ memory: { hotBytes: 3 * 120, warmBytes: 1e7 }, physicsOptions: { wormholes: true, halfLifeMs: 1000 } })
    for (let u = 0; u < 50; u++) for (const p of ['user', 'profile', 'settings']) await db.put(`${p}:${u}`, blob(u))
    for (let i = 0; i < 3; i++) await db.put(`heavy:${i}`, blob(100 + i))
    sessions(db, shuffled(400, 50))
    expect(db.physics.wormholes().filter((w) => /:3$/.test(w.a) && /:3$/.test(w.b)).length).toBe(3)
    // Later, three heavy keys fill the hot tier; user:3 is read once, too light to enter itself.
    advance(10_000)
    db.physics.tick()
    for (let r = 0; r < 5; r++) for (let i = 0; i < 3; i++) db.get(`heavy:${i}`)
    db.get('user:3')
    // Both partners are hot: bringing in settings:3 evicted a heavy key, not profile:3 (the lightest).
    expect([db.physics.tier('profile:3'), db.physics.tier('settings:3')]).toEqual(['hot', 'hot'])
    expect(db.metrics().tiers!.hot.keys).toBe(3)
    await db.close()
  })

  it('strengthen with use and collapse without it', async () => {
    const { db, advance } = await lab({ physicsOptions: { wormholes: { halfLifeMs: 1000 } } })
    for (let u = 0; u < 40; u++) for (const p of ['user', 'profile', 'settings']) await db.put(`${p}:${u}`, u)
    sessions(db, shuffled(320, 40))
    expect(db.physics.wormholes().length).toBeGreaterThan(0)
    // Keep reading users 0-4 together; the others stop being read.
    for (let t = 0; t < 10; t++) {
      advance(500)
      sessions(db, [0, 1, 2, 3, 4])
    }
    const left = db.physics.wormholes()
    expect(left.every((w) => /:[0-4]$/.test(w.a))).toBe(true)
    expect(left.length).toBeGreaterThan(0)
    expect(db.metrics().wormholes).toBe(left.length)
    await db.close()
  })
})
