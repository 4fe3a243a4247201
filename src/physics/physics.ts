// The physics layer: wires the mechanisms to the database. On the read path a read costs one
// integer add on the entry (its mass) and one counter; bursts of consecutive reads are also
// recorded in a ring (no Observable, no allocation per read). A tick every `tickMs`
// (setInterval, unref'd) drains the ring into `accesses$`, a batched RxJS Subject that the
// wormhole learner and the entropy monitor observe, publishes `entropy$` (the demon subscribes),
// and runs gravitational routing within a time budget. Applied write events reach physics
// through the state's EntryShaper hook, synchronously and in order — every new version is born
// warm and inherits its key's mass and links; an entangle event resets the key's links — so
// physics needs no subscription to the change feed and never makes writes keep undo records.
// See docs/physics.md.
import { EMPTY, Observable as RxObservable, Subject } from 'rxjs'
import type { Observable, Subscription } from 'rxjs'
import { compressSync, uncompressSync } from '../events/lz4.js'
import { Packr } from 'msgpackr'
import { InvalidOptionError } from '../errors.js'
import { show } from '../db/optionNames.js'
import { freezeDecoded } from '../events/valueCodec.js'
import type { Entry, Link, Tier } from '../state/entry.js'
import { TieredEntry } from '../state/entry.js'
import type { EntryShaper, MemoryState, RowKeeper, StateReader } from '../state/memoryState.js'
import type { EntanglementRules } from './entanglement.js'
import { partnersOf } from './entanglement.js'
import type { DemonOptions, DemonState, EntropyReading } from './entropy.js'
import { DEFAULT_DEMON_OPTIONS, EntropyMonitor, MaxwellDemon, TIER_COLD, TIER_HOT, TIER_WARM } from './entropy.js'
import { EventHorizon } from './eventHorizon.js'
import { MAX_MASS, MassClock, addMass } from './mass.js'
import type { TierBudget, TierCounters } from './spacetimeTiers.js'
import { SpacetimeTiers } from './spacetimeTiers.js'
import type { Wormhole, WormholeOptions } from './wormholes.js'
import { DEFAULT_WORMHOLE_OPTIONS, WormholeNetwork } from './wormholes.js'

/** Options of `open({ physics })`. */
export interface PhysicsOptions {
  /** A key's mass (its read count) halves after this long without reads. Default 60000. */
  halfLifeMs?: number
  /** Reads of mass a key needs to enter a full hot tier. Default 1.5 (two reads within about a half-life). */
  escapeVelocity?: number
  /** Background work period. Default 100. */
  tickMs?: number
  /** Background routing may use this much of each tick. Default 10. */
  routeMs?: number
  /** Wormhole learning; false turns it off. */
  wormholes?: boolean | Partial<WormholeOptions>
  /** Maxwell's demon; false turns it off (the entropy monitor still runs). */
  demon?: boolean | Partial<DemonOptions>
  /** Reads the entropy monitor looks back over. Default 8192. */
  entropyWindow?: number
  /** An entropy reading is taken every this many ticks. Default 5. */
  entropyEvery?: number
  /**
   * Share of reads recorded for the wormhole learner and the entropy monitor, in bursts of 256
   * consecutive reads: 1, 1/2, 1/4, … Default 1/4. It is the most that is recorded: when reads
   * come faster than a tick's ring (4096) can keep, the share halves until the next tick. (Masses
   * count every read regardless.)
   */
  recordShare?: number
  /** Time source in ms (tests and benchmarks drive time themselves). Default Date.now. */
  clock?: () => number
  /**
   * Hawking radiation: a cold key whose mass falls below this many reads evaporates — it leaves
   * the key → entry Map for the state's packed table, keeping no object. false: never. Default 1.
   */
  evaporateBelow?: number | false
  /**
   * true (default): a key's first write goes into the state's packed table (a row and its bytes,
   * no object), and reads of a key there decode from its row and keep the decoded value by row,
   * under the hot budget, without making an entry (see docs/physics.md). About a third less
   * memory right after a bulk load, and faster loads. false: every write makes a warm entry in
   * the Map, and a key loaded at recovery moves into the Map at its second read.
   */
  packWrites?: boolean
}

/** `open({ memory })`: the tiers' budget, in encoded bytes; a number is a total split evenly. */
export type MemoryOptions = number | { hotBytes?: number; warmBytes?: number }

export interface PhysicsConfig {
  budget: TierBudget
  halfLifeMs: number
  escapeVelocity: number
  tickMs: number
  routeMs: number
  wormholes: WormholeOptions | false
  demon: DemonOptions | false
  entropyWindow: number
  entropyEvery: number
  recordShare: number
  clock: () => number
  evaporateBelow: number | false
  packWrites: boolean
}

/**
 * Checks `open({ physics, memory })` and applies defaults. A config this function returned is
 * accepted as it is (so `open(db.options)` reopens with the same physics).
 */
export function resolvePhysics(physics: unknown, memory: unknown, defaultTotal: number): PhysicsConfig | false {
  if (physics === false) return false
  if (isConfig(physics)) return { ...physics, budget: { ...physics.budget } }
  if (physics !== undefined && physics !== true && (typeof physics !== 'object' || physics === null)) {
    throw new InvalidOptionError('physics must be true, false or an options object')
  }
  const p = (typeof physics === 'object' ? physics : {}) as PhysicsOptions
  const num = (name: string, v: unknown, dflt: number, min: number): number => {
    if (v === undefined) return dflt
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new InvalidOptionError(`${name} must be a number ≥ ${min}, not ${show(v)}`)
    return v
  }
  let budget: TierBudget
  if (memory === undefined || typeof memory === 'number') {
    const total = num('memory', memory, defaultTotal, 0)
    budget = { hotBytes: Math.floor(total / 2), warmBytes: Math.ceil(total / 2) }
  } else if (typeof memory === 'object' && memory !== null) {
    const m = memory as { hotBytes?: unknown; warmBytes?: unknown }
    budget = { hotBytes: num('memory.hotBytes', m.hotBytes, Math.floor(defaultTotal / 2), 0), warmBytes: num('memory.warmBytes', m.warmBytes, Math.ceil(defaultTotal / 2), 0) }
  } else {
    throw new InvalidOptionError('memory must be a number of bytes or { hotBytes, warmBytes }')
  }
  const sub = <T extends object>(name: string, v: unknown, dflt: T): T | false => {
    if (v === false) return false
    if (v === undefined || v === true) return { ...dflt }
    if (typeof v !== 'object' || v === null) throw new InvalidOptionError(`physics.${name} must be a boolean or an options object`)
    return { ...dflt, ...(v as Partial<T>) }
  }
  if (p.clock !== undefined && typeof p.clock !== 'function') throw new InvalidOptionError('physics.clock must be a function')
  const recordShare = num('physics.recordShare', p.recordShare, 1 / 4, 2 ** -10)
  if (recordShare > 1 || !Number.isInteger(Math.log2(recordShare))) throw new InvalidOptionError(`physics.recordShare must be 1, 1/2, 1/4, …, not ${recordShare}`)
  return {
    budget,
    halfLifeMs: num('physics.halfLifeMs', p.halfLifeMs, 60_000, 1),
    escapeVelocity: num('physics.escapeVelocity', p.escapeVelocity, 1.5, 0),
    tickMs: num('physics.tickMs', p.tickMs, 100, 1),
    routeMs: num('physics.routeMs', p.routeMs, 10, 0),
    wormholes: sub('wormholes', p.wormholes, DEFAULT_WORMHOLE_OPTIONS),
    demon: sub('demon', p.demon, DEFAULT_DEMON_OPTIONS),
    entropyWindow: Math.floor(num('physics.entropyWindow', p.entropyWindow, 8192, 2)),
    entropyEvery: Math.floor(num('physics.entropyEvery', p.entropyEvery, 5, 1)),
    recordShare,
    clock: p.clock ?? Date.now,
    evaporateBelow: p.evaporateBelow === false ? false : num('physics.evaporateBelow', p.evaporateBelow, 1, 0),
    packWrites: p.packWrites !== false,
  }
}

function isConfig(p: unknown): p is PhysicsConfig {
  const c = p as PhysicsConfig
  return typeof p === 'object' && p !== null && typeof c.budget === 'object' && typeof c.clock === 'function' && typeof c.tickMs === 'number'
}

/** The reads of one tick, oldest first, with the tier that served each (TIER_HOT/WARM/COLD). */
export interface AccessBatch {
  keys: string[]
  tiers: Uint8Array
  /** Reads that happened but fell out of the ring before the tick (not in `keys`). */
  missed: number
}

export interface PhysicsMetrics {
  tiers: {
    hot: { keys: number; bytes: number }
    warm: { keys: number; bytes: number }
    cold: { keys: number; bytes: number }
    /** Stored bytes of all compressed records (cold values and the bytes behind hot values), and slab space. */
    compressed: { bytes: number; slabBytes: number }
    /** Keys outside the Map: evaporated ones (packed) and recovered ones never touched since the open (msgpack bytes). */
    dormant: { keys: number; bytes: number }
  }
  budget: TierBudget
  reads: number
  hits: { hot: number; warm: number; cold: number }
  /** Reads served by the hot tier ÷ reads. */
  hotHitRatio: number
  counters: TierCounters & { prefetches: number; refused: number; evaporated: number }
  wormholes: number
  entropy: EntropyReading | undefined
  demon: DemonState | undefined
  escapeVelocity: number
  halfLifeMs: number
}

/**
 * Blobs up to this size are saved uncompressed, after RAW_BLOB_MARK: the u32 size prefix of an
 * LZ4 block that would decompress to nothing, which no saved blob is (an older reader fails on
 * it at once: a prefix claiming a large size made it allocate that much first).
 */
const RAW_BLOB_BYTES = 4096
const RAW_BLOB_MARK = Buffer.from([0, 0, 0, 0])
/** Size of the read ring (a power of two). */
const RING = 4096
/** Reads are recorded in bursts of BURST consecutive reads (a power of two). */
const BURST = 256
const COUNT_MASK = 2 ** 30 - 1
/** The smallest share of reads ever recorded, as a burst mask: BURST of every 2^18 reads. */
const MIN_SHARE_MASK = BURST * 1024 - 1
const NO_LINKS: readonly Link[] = Object.freeze([])
const EXTENSION = 'islab.physics'
/** Saved masses up to this many keys are restored within open(); more, in slices after it. */
const SYNC_RESTORE_KEYS = 20_000
/** Keys restored per slice (~10–30 ms of work each). */
const RESTORE_SLICE_KEYS = 10_000
const packr = new Packr({ useRecords: false })
/** An evaporation pass looks at most this many entries of the state. */
const EVAPORATE_LOOK = 8192
/** At most this many hot entries are pushed out to keep one value by row (as EventHorizon's MAX_VICTIMS). */
const MAX_ROW_VICTIMS = 8
/** Masses below this many reads are not worth saving in a checkpoint. */
const SAVE_MIN_READS = 0.01

export class Physics implements EntryShaper, StateReader, RowKeeper {
  readonly clock: MassClock
  readonly tiers: SpacetimeTiers
  readonly horizon: EventHorizon
  readonly wormholes: WormholeNetwork | undefined
  readonly entropyMonitor: EntropyMonitor
  readonly demon: MaxwellDemon | undefined
  /** Each tick's reads, batched. */
  readonly accesses$ = new Subject<AccessBatch>()
  private readonly entropySubject = new Subject<EntropyReading>()
  readonly entropy$: Observable<EntropyReading> = this.entropySubject.asObservable()
  /** Ticks once per physics tick (after routing). */
  readonly tick$ = new Subject<number>()
  lastEntropy: EntropyReading | undefined

  /** Units one read adds (the mass clock's g, copied here for the read path). */
  private g: number
  /**
   * Reads n with (n & burstMask) < BURST are recorded: BURST of every burstMask + 1. It starts at
   * the configured recordShare and halves whenever the ring fills before a tick drains it (reads
   * the ring cannot keep are not worth recording), down to MIN_SHARE; each drain doubles it back,
   * up to recordShare.
   */
  private burstMask: number
  private readonly widestMask: number
  /** Ring writes after which the share halves again (reset at each drain). */
  private lowerAt = RING
  /**
   * Whether any key may have partners (rules, entanglements, wormholes): until one exists, reads
   * do not look at their entry's links.
   */
  private linked: boolean
  private readonly ringKeys: string[] = new Array<string>(RING).fill('')
  private readonly ringTiers = new Uint8Array(RING)
  private head = 0
  /** Reads since the last entropy reading. */
  private sinceEntropy = 0
  /** Reads counted so far, modulo 2^30 (it also tells which reads fall in a burst). */
  private n = 0
  /** `n` at the last drain, and the reads before it. */
  private drainedN = 0
  private readsBefore = 0
  warmHits = 0
  coldHits = 0
  prefetches = 0
  /** Cold keys moved out of the Map (Hawking radiation). */
  evaporated = 0
  private evaporator: Iterator<[string, Entry]> | undefined
  /** `evaporated` when the tiers' sweeps last started over. */
  private sweptAt = 0
  private ticks = 0
  private rewarm: string[] = []
  /** stop() was called: background work (a restore in slices) ends. */
  private stopped = false
  private timer: NodeJS.Timeout | undefined
  private readonly subs: Subscription[] = []

  constructor(
    private readonly state: MemoryState,
    private readonly rules: EntanglementRules,
    readonly config: PhysicsConfig,
  ) {
    const now = config.clock()
    this.burstMask = Math.round(BURST / config.recordShare) - 1
    this.widestMask = this.burstMask
    this.linked = rules.size > 0 || state.entanglements.keys > 0
    this.clock = new MassClock(config.halfLifeMs, now)
    this.g = this.clock.g
    this.tiers = new SpacetimeTiers({ ...config.budget }, state.entries)
    this.horizon = new EventHorizon(this.tiers, this.clock, config.escapeVelocity)
    this.wormholes = config.wormholes === false ? undefined : new WormholeNetwork(config.wormholes, now)
    this.entropyMonitor = new EntropyMonitor(config.entropyWindow)
    this.demon =
      config.demon === false
        ? undefined
        : new MaxwellDemon(config.budget, config.demon, {
            budget: this.tiers.budget,
            setEscapeFactor: (f) => {
              this.horizon.factor = f
              this.horizon.refresh()
            },
            promote: (keys) => this.promote(keys),
          })
    state.setInflater((p) => this.tiers.slabs.inflate(p))
    // Entries already in the state (recovered) become tiered: all warm, massless.
    state.setShaper(
      this,
      (e) => {
        const t = TieredEntry.from(e)
        this.tiers.enter(t)
        return t
      },
      config.packWrites,
    )
    if (config.packWrites) {
      state.setRowKeeper(this)
      this.horizon.evictRows = (size, mass) => state.evictRows(size, mass)
    }
    this.subs.push(
      this.accesses$.subscribe((b) => this.entropyMonitor.observe(b.keys, b.tiers)),
      this.entropy$.subscribe((r) => this.demon?.act(r, this.entropyMonitor)),
    )
    const wh = this.wormholes
    if (wh !== undefined) {
      this.subs.push(this.accesses$.subscribe((b) => this.relink(wh.learn(b.keys, this.config.clock()))))
    }
    this.timer = setInterval(() => this.tick(), config.tickMs)
    this.timer.unref()
  }

  // ── EntryShaper ──

  make(seq: number, time: number, bytes: Uint8Array, prev: Entry | undefined): Entry {
    return this.tiers.make(seq, time, bytes, prev)
  }

  leave(e: Entry): void {
    this.tiers.leave(e)
  }

  revive(seq: number, time: number, packed: Uint8Array): Entry {
    return this.tiers.revive(seq, time, packed)
  }

  enter(e: Entry): void {
    this.tiers.enter(e)
  }

  entangled(key: string): void {
    this.linked = true
    const e = this.state.get(key) as TieredEntry | undefined
    if (e !== undefined) e.links = undefined
  }

  // ── The read path ──

  /**
   * A read of `entry` (the current entry of `key`): counts its mass, returns its value, and lets
   * the tiers react. Reads are recorded in the ring in bursts — the first BURST reads of every
   * burstMask + 1, a share that shrinks while reads outrun the ticks — so a hot hit outside a
   * burst writes nothing but its mass and one counter, and the batches still hold runs of
   * consecutive reads (what wormholes learn from).
   */
  read(entry: Entry, key: string): unknown {
    const e = entry as TieredEntry
    const n = this.n
    this.n = (n + 1) & COUNT_MASK
    const m = e.mass + this.g
    e.mass = m < MAX_MASS ? m : MAX_MASS
    const v = e.peek()
    if (v !== undefined && (n & this.burstMask) >= BURST) {
      if (this.linked && e.links !== NO_LINKS) this.pull(e, key)
      return v
    }
    return this.observe(e, key, v, n)
  }

  /**
   * Keys outside the Map are read from the state's base without an entry while no key has
   * partners: such a read has nothing to pull, and its mass is credited when the key moves in.
   */
  get servesDormant(): boolean {
    return !this.linked
  }

  /** A read the state served from its base (a warm read of a key without an entry). */
  dormantRead(key: string): void {
    const n = this.n
    this.n = (n + 1) & COUNT_MASK
    this.warmHits++
    if ((n & this.burstMask) < BURST) this.ringTiers[this.record(key, n) & (RING - 1)] = TIER_WARM
  }

  // ── RowKeeper: hot values of keys that stay in the base, kept by row under the hot budget ──

  /** A read served from a row's kept value: a hot read. */
  rowHit(key: string): void {
    const n = this.n
    this.n = (n + 1) & COUNT_MASK
    if ((n & this.burstMask) < BURST) this.ringTiers[this.record(key, n) & (RING - 1)] = TIER_HOT
  }

  /**
   * Whether a base row's value, just decoded for a read that brought the row's mass to `mass`,
   * stays decoded. As the event horizon's door: anything while the hot budget has room; once it
   * is full, only a row with escape velocity, pushing out lighter kept row values.
   */
  keepRow(size: number, mass: number): boolean {
    const t = this.tiers
    const budget = t.budget.hotBytes
    if (size > budget) return false
    if (t.hotBytes + size > budget) {
      if (mass < this.horizon.escapeMass) {
        this.horizon.refused++
        return false
      }
      // Lighter values kept by row make room first, then lighter hot entries (as the horizon's door).
      if (t.rowKeys > 0) this.state.evictRows(t.hotBytes + size - budget, mass)
      for (let n = 0; t.hotBytes + size > budget && n < MAX_ROW_VICTIMS; n++) {
        const victim = t.lightestHot()
        if (victim === undefined || victim.mass >= mass) break
        t.evict(victim)
      }
      if (t.hotBytes + size > budget) {
        this.horizon.refused++
        return false
      }
    }
    t.keepRows(1, size)
    return true
  }

  droppedRows(keys: number, size: number): void {
    this.tiers.dropRows(keys, size)
  }

  /** A key moved into the Map after reads from the base worth `mass`. */
  credit(entry: Entry, mass: number): void {
    const e = entry as TieredEntry
    e.mass = addMass(e.mass, mass)
  }

  /** Mass one read adds now (StateReader: base rows count their reads' mass in it). */
  get readMass(): number {
    return this.g
  }

  /** Records a read of `key` (the n-th, inside a burst) in the ring; returns its ring position. */
  private record(key: string, n: number): number {
    let h = this.head
    // A burst starts after a gap: mark it, so no wormhole bridges it.
    if ((n & this.burstMask) === 0 && this.burstMask >= BURST) {
      this.ringKeys[h & (RING - 1)] = ''
      h = ++this.head
    }
    this.ringKeys[h & (RING - 1)] = key
    this.head = h + 1
    if (h >= this.lowerAt) this.recordLess()
    return h
  }

  /** A read of `entry` whose value the caller has just decoded (and frozen) from its bytes: as read(), without decoding again. */
  readDecoded(entry: Entry, key: string, decoded: unknown): unknown {
    const e = entry as TieredEntry
    const n = this.n
    this.n = (n + 1) & COUNT_MASK
    const m = e.mass + this.g
    e.mass = m < MAX_MASS ? m : MAX_MASS
    return this.observe(e, key, e.peek(), n, decoded)
  }

  /** The slower part of a read: a recorded read, or a miss (decode unless `decoded` is given, maybe admit). */
  private observe(e: TieredEntry, key: string, hot: unknown, n: number, decoded?: unknown): unknown {
    const inBurst = (n & this.burstMask) < BURST
    const h = inBurst ? this.record(key, n) : this.head
    let v = hot
    if (v !== undefined) {
      this.ringTiers[h & (RING - 1)] = TIER_HOT
    } else {
      const cold = e.compressed
      if (cold) this.coldHits++
      else this.warmHits++
      if (inBurst) this.ringTiers[h & (RING - 1)] = cold ? TIER_COLD : TIER_WARM
      v = decoded === undefined ? e.value() : decoded
      if (freezeDecoded(v)) this.horizon.admit(e, v)
    }
    if (this.linked && e.links !== NO_LINKS) this.pull(e, key)
    return v
  }

  /** The ring is full before a tick: record half as many reads until the next drain. */
  private recordLess(): void {
    this.lowerAt += RING
    if (this.burstMask < MIN_SHARE_MASK) this.burstMask = this.burstMask * 2 + 1
  }

  /** Gives the partners of a read key their share of mass; wormhole partners are loaded hot. */
  private pull(e: TieredEntry, key: string): void {
    let links = e.links
    if (links === undefined) {
      links = this.linksOf(key)
      e.links = links
    }
    let held = false
    try {
      for (let i = 0; i < links.length; i++) {
        const l = links[i]!
        const p = this.state.get(l.key) as TieredEntry | undefined
        if (p === undefined) continue
        p.mass = addMass(p.mass, Math.round(l.weight * this.g))
        if (l.prefetch && p.peek() === undefined) {
          // The read key and its partners, hot already or brought in now, stay: one prefetch
          // must not evict another.
          if (!held) {
            held = true
            this.holdTogether(e, links)
          }
          if (!this.horizon.force(p)) continue
          this.horizon.hold(p)
          this.prefetches++
          ;(l as Link & { shared?: { uses: number } }).shared!.uses++
        }
      }
    } finally {
      if (held) this.horizon.release()
    }
  }

  /** Holds `e` and those of its partners that are hot (see EventHorizon.hold). */
  private holdTogether(e: TieredEntry, links: readonly Link[]): void {
    if (e.peek() !== undefined) this.horizon.hold(e)
    for (const l of links) {
      const p = this.state.get(l.key) as TieredEntry | undefined
      if (p !== undefined && p.peek() !== undefined) this.horizon.hold(p)
    }
  }

  private linksOf(key: string): readonly Link[] {
    if (this.rules.size === 0 && this.state.entanglements.keys === 0 && (this.wormholes?.count ?? 0) === 0) return NO_LINKS
    const out: Link[] = []
    for (const [p, s] of partnersOf(key, this.state.entanglements, this.rules)) out.push({ key: p, weight: s, prefetch: false })
    if (this.wormholes !== undefined) for (const m of this.wormholes.mouths(key)) out.push(m)
    return out.length === 0 ? NO_LINKS : out
  }

  /** Wormholes changed at these keys: their links are recomputed at their next read. */
  private relink(keys: Set<string>): void {
    if (keys.size > 0) this.linked = true
    const entries = this.state.entries
    for (const k of keys) {
      const e = entries.get(k) as TieredEntry | undefined
      if (e !== undefined) e.links = undefined
    }
  }

  /** A put's tier hint: 'hot' decodes it now, 'cold' compresses it now, 'warm' is the default. */
  hint(key: string, tier: Tier): void {
    const e = this.state.get(key) as TieredEntry | undefined
    if (e === undefined) return
    if (tier === 'hot') this.horizon.force(e)
    else if (tier === 'cold' && e.tier === 'warm') this.tiers.demote(e)
  }

  /** Brings `keys` into the hot tier (the demon's promotions, rewarming); returns how many moved. */
  promote(keys: readonly string[]): number {
    let n = 0
    for (const k of keys) {
      const e = this.state.get(k) as TieredEntry | undefined
      if (e !== undefined && e.tier !== 'hot' && this.horizon.force(e)) n++
    }
    return n
  }

  // ── Background ──

  /** One tick: decay, learning, entropy and the demon, routing. Runs by itself every tickMs. */
  tick(): void {
    const now = this.config.clock()
    const shift = this.clock.advance(now)
    if (shift > 0) {
      for (const e of this.state.entries.values()) (e as TieredEntry).mass >>= shift
      this.state.decayRows(shift)
    }
    this.g = this.clock.g
    this.horizon.refresh()
    const batch = this.drain()
    this.accesses$.next(batch)
    this.sinceEntropy += batch.keys.length
    if (++this.ticks % this.config.entropyEvery === 0 && this.sinceEntropy > 0) this.readEntropy(now)
    const risers: TieredEntry[] = []
    for (let i = 0; i < batch.keys.length && risers.length < 2048; i++) {
      if (batch.tiers[i] !== TIER_COLD) continue
      const e = this.state.get(batch.keys[i]!) as TieredEntry | undefined
      if (e !== undefined && e.tier === 'cold') risers.push(e)
    }
    this.route(this.config.routeMs, risers)
    this.tiers.age()
    this.tick$.next(now)
  }

  /** Runs routing until every budget holds (tests, benchmarks, and after a bulk load). */
  settle(): void {
    this.tick()
    this.tiers.age()
    while (this.tiers.route(4096) === 4096 || this.rewarm.length > 0) this.rewarmSome(4096)
    while (this.shedRows() > 0);
    // Finish a whole settling pass, so no warm value is left holding a shared buffer.
    const sweeps = this.tiers.sweeps
    while (this.tiers.sweeps < sweeps + 1) this.tiers.route(4096)
    // And a whole evaporation pass.
    this.evaporator = undefined
    do this.evaporate(4096)
    while (this.evaporator !== undefined)
    this.compactIfWasteful()
    this.state.compactBase()
  }

  private readEntropy(now: number): void {
    this.sinceEntropy = 0
    const r = this.entropyMonitor.read(this.state.size, now)
    this.lastEntropy = r
    this.entropySubject.next(r)
  }

  private route(ms: number, risers: readonly TieredEntry[]): void {
    const until = performance.now() + ms
    let first = true
    do {
      const moves = this.tiers.route(256, first ? risers : [])
      first = false
      const warmed = this.rewarmSome(64)
      const gone = this.evaporate(256)
      if (moves < 256 && warmed === 0 && gone < 256) break
    } while (performance.now() < until)
    this.shedRows()
    if (this.ticks % 50 === 0) {
      this.compactIfWasteful()
      this.state.compactBase()
    }
  }

  /**
   * Hawking radiation: cold keys lighter than `evaporateBelow` reads leave the Map for the
   * state's base table, their packed bytes copied there (about 50 bytes of row and table per
   * key instead of a Map entry, a key string and an entry object). A read brings one back as a
   * cold entry, its packed bytes never decompressed on the way. Sweeps at most EVAPORATE_LOOK
   * entries; returns the keys moved.
   */
  private evaporate(max: number): number {
    const below = this.config.evaporateBelow
    // Only cold entries evaporate: with none, a sweep would only cost time.
    if (below === false || this.tiers.coldKeys === 0) return 0
    const limit = this.clock.units(below)
    let n = 0
    this.evaporator ??= this.state.entries.entries()
    for (let looked = 0; looked < EVAPORATE_LOOK && n < max; looked++) {
      const r = this.evaporator.next()
      if (r.done === true) {
        this.evaporator = undefined
        if (this.evaporated + n > this.sweptAt) this.tiers.restartSweeps()
        this.sweptAt = this.evaporated + n
        break
      }
      const [key, entry] = r.value
      const e = entry as TieredEntry
      if (e.mass >= limit || e.tier !== 'cold') continue
      if (!this.state.evaporate(key, e, e.packedBytes())) {
        // The state keeps every entry (an ordered index exists): stop sweeping.
        this.evaporator = undefined
        break
      }
      this.tiers.leave(e)
      n++
    }
    this.evaporated += n
    return n
  }

  /** Kept row values over a hot budget that shrank (the demon, or entries admitted): a few go. Returns the bytes freed. */
  private shedRows(): number {
    const t = this.tiers
    const over = t.hotBytes - t.budget.hotBytes
    return over > 0 && t.rowKeys > 0 ? this.state.evictRows(over, Infinity) : 0
  }

  private compactIfWasteful(): void {
    if (!this.tiers.slabs.wasteful) return
    this.tiers.slabs.compact(this.state.entries.values() as IterableIterator<TieredEntry>)
  }

  /** After a restart: brings the heaviest saved keys back into the hot tier while it has room. */
  private rewarmSome(max: number): number {
    let n = 0
    const t = this.tiers
    while (this.rewarm.length > 0 && n < max) {
      const k = this.rewarm[this.rewarm.length - 1]!
      const e = this.state.get(k) as TieredEntry | undefined
      if (e !== undefined && e.tier !== 'hot') {
        if (t.hotBytes + e.size > t.budget.hotBytes) {
          this.rewarm = []
          break
        }
        this.horizon.force(e)
      }
      this.rewarm.pop()
      n++
    }
    return n
  }

  /** Moves the ring's new reads into a batch (burst markers, '', included). */
  private drain(): AccessBatch {
    const head = this.head
    const take = Math.min(head, RING)
    const keys = new Array<string>(take)
    const tiers = new Uint8Array(take)
    for (let i = 0; i < take; i++) {
      const at = (head - take + i) & (RING - 1)
      keys[i] = this.ringKeys[at]!
      tiers[i] = this.ringTiers[at]!
    }
    this.head = 0
    this.lowerAt = RING
    this.burstMask = Math.max(this.widestMask, this.burstMask >>> 1)
    this.readsBefore = this.reads
    this.drainedN = this.n
    return { keys, tiers, missed: head - take }
  }

  /** Reads so far. */
  get reads(): number {
    return this.readsBefore + ((this.n - this.drainedN) & COUNT_MASK)
  }

  // ── Introspection ──

  /** A key's mass in reads, decayed to the last tick (0 when absent). */
  massOf(key: string): number {
    const e = this.state.get(key) as TieredEntry | undefined
    return e === undefined ? 0 : this.clock.reads(e.mass)
  }

  wormholeList(): Wormhole[] {
    return this.wormholes?.list() ?? []
  }

  metrics(): PhysicsMetrics {
    const t = this.tiers
    const reads = this.reads
    const hot = reads - this.warmHits - this.coldHits
    const c = t.counters
    return {
      tiers: {
        hot: { keys: t.hot.length + t.rowKeys, bytes: t.hotBytes },
        warm: { keys: t.warmKeys, bytes: t.warmBytes },
        cold: { keys: t.coldKeys, bytes: t.compressedBytes },
        compressed: { bytes: t.compressedBytes, slabBytes: t.slabs.allocatedBytes },
        dormant: this.state.dormant(),
      },
      budget: { ...t.budget },
      reads,
      hits: { hot, warm: this.warmHits, cold: this.coldHits },
      hotHitRatio: reads === 0 ? 0 : hot / reads,
      counters: { ...c, prefetches: this.prefetches, refused: this.horizon.refused, evaporated: this.evaporated },
      wormholes: this.wormholes?.count ?? 0,
      entropy: this.lastEntropy,
      demon: this.demon === undefined ? undefined : { ...this.demon.state },
      escapeVelocity: this.horizon.escape,
      halfLifeMs: this.clock.halfLifeMs,
    }
  }

  // ── Checkpoints: masses, wormholes and the demon's state are not derivable from the log ──

  checkpointExtension(): { name: string; save(): Uint8Array; load(data: Uint8Array): void } {
    return { name: EXTENSION, save: () => this.save(), load: (d) => this.load(d) }
  }

  private save(): Uint8Array {
    const keys: string[] = []
    const masses: number[] = []
    const min = this.clock.units(SAVE_MIN_READS)
    // Keys read in the base table (kept by row) have their masses there.
    this.state.forEachBaseMass((k, m) => {
      if (m >= min) {
        keys.push(k)
        masses.push(this.clock.reads(m))
      }
    })
    for (const [k, e] of this.state.entries) {
      const m = (e as TieredEntry).mass
      if (m >= min && m > 0) {
        keys.push(k)
        masses.push(this.clock.reads(m))
      }
    }
    const body = packr.pack({
      v: 1,
      keys,
      masses,
      wormholes: this.wormholes?.save(),
      demon: this.demon?.state,
    })
    // A small blob (no key read enough to be saved) is stored as it is: loading lz4-napi only
    // to decompress it was a fifth of reopening a checkpoint of 200k keys.
    if (body.length <= RAW_BLOB_BYTES) return Buffer.concat([RAW_BLOB_MARK, body])
    return compressSync(body)
  }

  private load(data: Uint8Array): void {
    let saved: { v?: unknown; keys?: unknown; masses?: unknown; wormholes?: unknown; demon?: unknown }
    try {
      const raw = data.length > 4 && data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3] === 0
      saved = packr.unpack(raw ? data.subarray(4) : uncompressSync(data)) as typeof saved
    } catch {
      return // a physics blob that does not decode only costs a cold start
    }
    if (saved.v !== 1 || !Array.isArray(saved.keys) || !Array.isArray(saved.masses)) return
    const keys = saved.keys as unknown[]
    const masses = saved.masses as unknown[]
    const order: [string, number][] = []
    const restore = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        const k = keys[i]
        const m = masses[i]
        if (typeof k !== 'string' || typeof m !== 'number') continue
        const e = this.state.get(k) as TieredEntry | undefined
        if (e === undefined) continue
        e.mass = this.clock.units(m)
        order.push([k, m])
      }
    }
    const finish = (): void => {
      // Rewarm lightest-last, so pop() takes the heaviest first.
      order.sort((a, b) => a[1] - b[1])
      this.rewarm = order.map((o) => o[0])
      if (this.wormholes !== undefined && saved.wormholes instanceof Uint8Array) this.relink(this.wormholes.load(saved.wormholes))
      if (this.demon !== undefined && typeof saved.demon === 'object' && saved.demon !== null) this.demon.restore(saved.demon as Partial<DemonState>)
    }
    if (keys.length <= SYNC_RESTORE_KEYS) {
      restore(0, keys.length)
      finish()
      return
    }
    // Restoring a mass brings its key out of the base table into the Map (~2 µs a key): for
    // hundreds of thousands of keys, open() would block the event loop for half a second. So it
    // goes on in slices after open() returns; until a key's slice runs, its mass starts cold.
    let next = 0
    const slice = (): void => {
      if (this.stopped) return
      const end = Math.min(keys.length, next + RESTORE_SLICE_KEYS)
      restore(next, end)
      next = end
      if (next < keys.length) setImmediate(slice)
      else finish()
    }
    setImmediate(slice)
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    for (const s of this.subs) s.unsubscribe()
    this.accesses$.complete()
    this.entropySubject.complete()
    this.tick$.complete()
  }
}

/** What `db.metrics()` returns; the physics parts are undefined when physics is off. */
export interface Metrics extends Partial<PhysicsMetrics> {
  physics: boolean
  keys: number
  entanglement: { keys: number; links: number; rules: number }
  wormholes: number
}

export function metricsOf(physics: Physics | undefined, state: MemoryState, rules: EntanglementRules): Metrics {
  const entanglement = { keys: state.entanglements.keys, links: state.entanglements.count, rules: rules.size }
  if (physics === undefined) return { physics: false, keys: state.size, entanglement, wormholes: 0 }
  return { physics: true, keys: state.size, entanglement, ...physics.metrics() }
}

/** `db.physics`: the physics layer's own controls and views (inert when physics is off). */
export interface PhysicsView {
  readonly enabled: boolean
  /** Entropy readings, as they are taken (completes at once when physics is off). */
  readonly entropy$: Observable<EntropyReading>
  /** The wormholes formed, strongest first. */
  wormholes(): Wormhole[]
  /** A key's mass: its read count, decayed with the half-life (0 when absent or physics is off). */
  mass(key: string): number
  /** The tier holding a key's value (undefined when absent; 'hot'/'warm' by decoded state when physics is off). */
  tier(key: string): Tier | undefined
  /** Runs one physics tick now (it also runs by itself every tickMs). */
  tick(): void
  /** Runs routing until every budget holds (after a bulk load, or in tests). */
  settle(): void
}

export function physicsView(physics: Physics | undefined, state: MemoryState): PhysicsView {
  if (physics === undefined) {
    return {
      enabled: false,
      entropy$: EMPTY,
      wormholes: () => [],
      mass: () => 0,
      tier: (key) => state.get(key)?.tier,
      tick: () => undefined,
      settle: () => undefined,
    }
  }
  return {
    enabled: true,
    entropy$: physics.entropy$,
    wormholes: () => physics.wormholeList(),
    mass: (key) => physics.massOf(key),
    tier: (key) => state.get(key)?.tier,
    tick: () => physics.tick(),
    settle: () => physics.settle(),
  }
}

/** An Observable calling `fn` now and every `ms` while subscribed, on an unref'd timer. */
export function every<T>(ms: number, fn: () => T): Observable<T> {
  return new RxObservable<T>((sub) => {
    sub.next(fn())
    const t = setInterval(() => sub.next(fn()), ms)
    t.unref()
    return () => clearInterval(t)
  })
}
