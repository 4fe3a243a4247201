// Options users pass to open(), with defaults applied and every value checked.
import v8 from 'node:v8'
import { InvalidOptionError } from '../errors.js'
import { checkNames, show } from './optionNames.js'
import type { FileLayer } from '../io/fileLayer.js'
import { nodeFileLayer } from '../io/nodeFileLayer.js'
import { EntanglementRules, MAX_PARTNERS, resolvePhysics } from '../physics/index.js'
import { DEFAULT_DEMON_OPTIONS } from '../physics/entropy.js'
import { DEFAULT_WORMHOLE_OPTIONS } from '../physics/wormholes.js'
import type { EntanglementRule, MemoryOptions, PhysicsConfig, PhysicsOptions } from '../physics/index.js'
import type { RecoveryMode, RecoveryProgress } from '../recovery/recover.js'
import type { WalFormat } from '../wal/format.js'
import type { ExpiryOptions, ResolvedExpiryOptions } from './expiry.js'

export type Durability = 'sync' | 'buffered' | 'memory'

export interface OpenOptions {
  /** Database directory, created when missing. Default './data'. Ignored in 'memory' mode. */
  dir?: string
  /**
   * true: open without the lock and without writing anything, next to a writer in another process
   * (or a closed database): reads serve what is durable in the log and follow what the writer
   * appends; writes reject with ISLAB_READ_ONLY. The database must exist. Default false.
   */
  readOnly?: boolean
  /**
   * Read-only opens: look for new records at least this often (they are also looked for when the
   * directory changes); false: only when db.refresh() is called. Default 100.
   */
  followMs?: number | false
  /** false: open() rejects with ISLAB_NOT_FOUND unless `dir` already holds a database. Default true. */
  createIfMissing?: boolean
  /** true: open() rejects with ISLAB_EXISTS when `dir` already holds a database. Default false. */
  errorIfExists?: boolean
  /** When a write's promise resolves; see the README's durability table. Default 'buffered'. */
  durability?: Durability
  /** Buffered mode: the WAL is written and fdatasynced at least this often. Default 100. */
  syncIntervalMs?: number
  /** A WAL segment is sealed and a new one started past this size. Default 64 MiB. */
  segmentBytes?: number
  /** Values larger than this many bytes are LZ4-compressed in binary segments. Default 1024. */
  compressThreshold?: number
  /** Entry format of new WAL segments. Default 'binary'. */
  walFormat?: WalFormat
  /** File operations; tests inject a crash-simulating layer. Default: Node's fs. */
  fileLayer?: FileLayer
  /**
   * Automatic checkpoints: every `intervalMs` (default 300000) and after `walBytes` of new WAL
   * (default 128 MiB), keeping the newest `keep` (default 3). `false` turns both triggers off;
   * db.checkpoint() still works, as does `{ auto: false }` (which keeps `keep` for manual checkpoints).
   * `onClose` (default `false`): close() writes a checkpoint when at least this many events were
   * logged since the newest one, so the next open loads it instead of replaying them. Off by
   * default: at 200k keys it made close() take ~1 s, more than the replay it saves (bench/RESULTS.md).
   */
  checkpoint?: false | { intervalMs?: number; keep?: number; walBytes?: number; auto?: boolean; onClose?: number | false }
  /**
   * Keep more WAL than checkpoints need, for change streams and time travel: at least the newest
   * `retainSegments` segments, and segments younger than `retainMs`. Default: nothing extra.
   */
  history?: { retainSegments?: number; retainMs?: number }
  /** 'strict' (default): damage before the log's tail fails open(). 'point-in-time': keep the valid prefix. */
  recovery?: RecoveryMode
  /** Told how recovery is going, often enough for a progress bar. */
  onProgress?: (p: RecoveryProgress) => void
  /**
   * The physics layer (docs/physics.md): spacetime tiers, event horizon cache, wormholes,
   * entropy monitor and Maxwell's demon. `false`: a flat in-memory map. Default on.
   */
  physics?: boolean | PhysicsOptions
  /**
   * Memory budget of the tiers, in encoded (msgpack) bytes: a total split evenly between hot and
   * warm, or `{ hotBytes, warmBytes }`. Default: an eighth of V8's heap limit.
   */
  memory?: MemoryOptions
  /** Quantum entanglement pattern rules, e.g. `[{ from: 'user:*', to: 'profile:*', strength: 0.8 }]`. */
  entanglement?: EntanglementRule[]
  /** quantumGet returns at most this many partners (1–10). Default 10. */
  maxEntangled?: number
  /**
   * Active expiry of keys written with a deadline (put's `ttlMs`/`expiresAt`): every
   * `sweepIntervalMs` (default 100) the sweeper expires due keys for at most `sweepBudgetMs`
   * (default 10). Reads never return an expired key, swept or not.
   */
  expiry?: ExpiryOptions
}

/** Every name open() accepts; a name not here is a typo and rejected (with a suggestion). */
export const OPEN_OPTION_NAMES = [
  'dir',
  'readOnly',
  'followMs',
  'createIfMissing',
  'errorIfExists',
  'durability',
  'syncIntervalMs',
  'segmentBytes',
  'compressThreshold',
  'walFormat',
  'fileLayer',
  'checkpoint',
  'history',
  'recovery',
  'onProgress',
  'physics',
  'memory',
  'entanglement',
  'maxEntangled',
  'expiry',
] as const
// Compile-time: an option added to OpenOptions but not to the list above fails here.
const allNamed: Exclude<keyof OpenOptions, (typeof OPEN_OPTION_NAMES)[number]> extends never ? true : never = true
void allNamed

const CHECKPOINT_NAMES = ['intervalMs', 'walBytes', 'keep', 'auto', 'onClose']
const HISTORY_NAMES = ['retainSegments', 'retainMs']
const MEMORY_NAMES = ['hotBytes', 'warmBytes']
const PHYSICS_NAMES = [
  'halfLifeMs',
  'escapeVelocity',
  'tickMs',
  'routeMs',
  'wormholes',
  'demon',
  'entropyWindow',
  'entropyEvery',
  'recordShare',
  'clock',
  'evaporateBelow',
  'packWrites',
]
const RULE_NAMES = ['from', 'to', 'strength']
const EXPIRY_NAMES = ['sweepIntervalMs', 'sweepBudgetMs'] as const satisfies readonly (keyof ExpiryOptions)[]

export interface ResolvedOptions {
  dir: string
  readOnly: boolean
  followMs: number | false
  createIfMissing: boolean
  errorIfExists: boolean
  durability: Durability
  syncIntervalMs: number
  segmentBytes: number
  compressThreshold: number
  walFormat: WalFormat
  fileLayer: FileLayer
  checkpoint: { intervalMs: number; walBytes: number; keep: number; auto: boolean; onClose: number | false }
  recovery: RecoveryMode
  history: { retainSegments: number; retainMs: number }
  onProgress: ((p: RecoveryProgress) => void) | undefined
  physics: PhysicsConfig | false
  entanglement: EntanglementRule[]
  maxEntangled: number
  expiry: ResolvedExpiryOptions
}

export function resolveOptions(o: OpenOptions = {}): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw new InvalidOptionError('open() takes an options object')
  checkNames(o, OPEN_OPTION_NAMES, '')
  checkNested(o)
  const createIfMissing = flag('createIfMissing', o.createIfMissing, true)
  const readOnly = flag('readOnly', o.readOnly, false)
  const followMs = o.followMs === false ? false : positiveInt('followMs', o.followMs, 100)
  if (readOnly && o.durability === 'memory') throw new InvalidOptionError("readOnly reads a database directory; durability 'memory' has none")
  if (readOnly && o.errorIfExists === true) throw new InvalidOptionError('readOnly opens an existing database; errorIfExists: true would always fail')
  const errorIfExists = flag('errorIfExists', o.errorIfExists, false)
  const durability = o.durability ?? 'buffered'
  if (!['sync', 'buffered', 'memory'].includes(durability)) {
    throw new InvalidOptionError(`durability must be 'sync', 'buffered' or 'memory', not ${JSON.stringify(durability)}`)
  }
  const walFormat = o.walFormat ?? 'binary'
  if (walFormat !== 'binary' && walFormat !== 'json') {
    throw new InvalidOptionError(`walFormat must be 'binary' or 'json', not ${JSON.stringify(walFormat)}`)
  }
  const dir = o.dir ?? './data'
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidOptionError('dir must be a non-empty path')
  const recovery = o.recovery ?? 'strict'
  if (recovery !== 'strict' && recovery !== 'point-in-time') {
    throw new InvalidOptionError(`recovery must be 'strict' or 'point-in-time', not ${JSON.stringify(recovery)}`)
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InvalidOptionError('onProgress must be a function')
  const cp = o.checkpoint === false ? {} : (o.checkpoint ?? {})
  if (typeof cp !== 'object' || cp === null) throw new InvalidOptionError('checkpoint must be false or an object')
  const entanglement = o.entanglement ?? []
  new EntanglementRules(entanglement) // validates
  const maxEntangled = o.maxEntangled ?? MAX_PARTNERS
  if (!Number.isSafeInteger(maxEntangled) || maxEntangled < 1 || maxEntangled > MAX_PARTNERS) {
    throw new InvalidOptionError(`maxEntangled must be an integer from 1 to ${MAX_PARTNERS}, not ${show(maxEntangled)}`)
  }
  const h = o.history ?? {}
  if (typeof h !== 'object' || h === null) throw new InvalidOptionError('history must be an object')
  const ex = o.expiry ?? {}
  if (typeof ex !== 'object' || ex === null) throw new InvalidOptionError('expiry must be an object')
  return {
    dir,
    readOnly,
    followMs,
    createIfMissing,
    errorIfExists,
    recovery,
    history: {
      retainSegments: positiveInt('history.retainSegments', h.retainSegments, 0, true),
      retainMs: positiveInt('history.retainMs', h.retainMs, 0, true),
    },
    onProgress: o.onProgress,
    physics: resolvePhysics(o.physics, o.memory, Math.floor(v8.getHeapStatistics().heap_size_limit / 8)),
    entanglement: [...entanglement],
    maxEntangled,
    expiry: {
      sweepIntervalMs: positiveInt('expiry.sweepIntervalMs', ex.sweepIntervalMs, 100),
      sweepBudgetMs: positiveInt('expiry.sweepBudgetMs', ex.sweepBudgetMs, 10),
    },
    checkpoint: {
      auto: o.checkpoint !== false && flag('checkpoint.auto', cp.auto, true),
      intervalMs: positiveInt('checkpoint.intervalMs', cp.intervalMs, 300_000),
      walBytes: positiveInt('checkpoint.walBytes', cp.walBytes, 128 * 1024 * 1024),
      keep: positiveInt('checkpoint.keep', cp.keep, 3),
      onClose:
        o.checkpoint === false || cp.onClose === false
          ? false
          : cp.onClose === undefined
            ? false
            : positiveInt('checkpoint.onClose', cp.onClose, 0, true),
    },
    durability,
    walFormat,
    syncIntervalMs: positiveInt('syncIntervalMs', o.syncIntervalMs, 100),
    segmentBytes: positiveInt('segmentBytes', o.segmentBytes, 64 * 1024 * 1024),
    compressThreshold: positiveInt('compressThreshold', o.compressThreshold, 1024, true),
    fileLayer: o.fileLayer ?? nodeFileLayer,
  }
}

function positiveInt(name: string, v: unknown, dflt: number, zeroOk = false): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (zeroOk ? 0 : 1)) {
    throw new InvalidOptionError(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} integer, not ${show(v)}`)
  }
  return v
}

function flag(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') throw new InvalidOptionError(`${name} must be true or false, not ${show(v)}`)
  return v
}

/** The nested option objects: checkpoint, history, memory, physics (and its wormholes, demon), rules. */
function checkNested(o: OpenOptions): void {
  const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (isObject(o.checkpoint)) checkNames(o.checkpoint, CHECKPOINT_NAMES, 'checkpoint.')
  if (isObject(o.history)) checkNames(o.history, HISTORY_NAMES, 'history.')
  if (isObject(o.expiry)) checkNames(o.expiry, EXPIRY_NAMES, 'expiry.')
  if (isObject(o.memory)) checkNames(o.memory, MEMORY_NAMES, 'memory.')
  // A resolved physics config (from db.options, for open(db.options)) is accepted as it is.
  if (isObject(o.physics) && !('budget' in o.physics)) {
    const p = o.physics as PhysicsOptions
    checkNames(p, PHYSICS_NAMES, 'physics.')
    if (isObject(p.wormholes)) checkNames(p.wormholes, Object.keys(DEFAULT_WORMHOLE_OPTIONS), 'physics.wormholes.')
    if (isObject(p.demon)) checkNames(p.demon, Object.keys(DEFAULT_DEMON_OPTIONS), 'physics.demon.')
  }
  if (Array.isArray(o.entanglement)) {
    o.entanglement.forEach((r: unknown, i) => {
      if (isObject(r)) checkNames(r, RULE_NAMES, `entanglement[${i}].`)
    })
  }
}
