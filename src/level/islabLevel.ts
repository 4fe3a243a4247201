// islabdb/level: an abstract-level 3 database over IsLabDB's public API, so sublevels,
// level-read-stream and the libraries written against abstract-level run on IsLabDB. Keys map
// one-to-one onto native keys (keys.ts), values are stored as abstract-level encoded them
// (values.ts), reads are synchronous from memory, and snapshots are the core's db.snapshot().
import { AbstractLevel, AbstractSnapshot } from 'abstract-level'
import type { AbstractDatabaseOptions } from 'abstract-level'
// nearest: the core's option-name suggestion (a helper, no database access), so a misspelt option
// is refused here with the same suggestion as open() gives.
import { nearest } from '../db/optionNames.js'
import { OPEN_OPTION_NAMES } from '../db/options.js'
import { ClosedError, Database, InvalidOptionError, open } from '../index.js'
import type { BatchOp, OpenOptions, PutOptions, Snapshot, WriteResult } from '../index.js'
import { Cursor, IslabIterator, IslabKeyIterator, IslabValueIterator } from './iterator.js'
import type { LevelIteratorOptions } from './iterator.js'
import { toNativeKey } from './keys.js'
import type { KeyFormat } from './keys.js'
import { fromStored, toStored } from './values.js'
import type { ValueFormat } from './values.js'

type LevelKey = string | Uint8Array

/**
 * A Database the face can share: one whose values may be strings and bytes (what the face
 * writes), so Database<unknown>, not a Database<User>. (`put` as a function-typed property:
 * a method's parameters are compared both ways, and Database<User> would pass.)
 */
export type LevelDatabase = Database & {
  readonly put: (key: string, value: string | Uint8Array, opts?: PutOptions) => Promise<WriteResult>
}

/** IsLabDB's open() options that make sense under the level face (the directory is the location). */
export type IslabOpenOptions = Omit<OpenOptions, 'dir' | 'createIfMissing' | 'errorIfExists'>

export type IslabLevelOptions<K, V> = AbstractDatabaseOptions<K, V> & IslabOpenOptions

/** open()'s option names, less the three the location and abstract-level decide. */
const OPEN_OPTIONS = OPEN_OPTION_NAMES.filter(
  (n): n is Exclude<(typeof OPEN_OPTION_NAMES)[number], 'dir' | 'createIfMissing' | 'errorIfExists'> =>
    n !== 'dir' && n !== 'createIfMissing' && n !== 'errorIfExists',
)
/** abstract-level's own constructor options (it forwards createIfMissing/errorIfExists/passive to open()). */
const LEVEL_OPTIONS = ['keyEncoding', 'valueEncoding', 'createIfMissing', 'errorIfExists', 'passive'] as const
const KNOWN_OPTIONS: readonly string[] = [...LEVEL_OPTIONS, ...OPEN_OPTIONS]

interface KeyOptions {
  keyEncoding: KeyFormat
}
interface ReadOptions extends KeyOptions {
  valueEncoding: ValueFormat
  snapshot?: IslabSnapshot | null
}
interface LevelOp {
  type: 'put' | 'del'
  key: LevelKey
  value?: string | Uint8Array
  keyEncoding: KeyFormat
}
interface ClearOptions extends KeyOptions, Omit<LevelIteratorOptions, 'keyEncoding' | 'valueEncoding' | 'snapshot'> {
  snapshot?: IslabSnapshot | null
}

/**
 * Refuses a misspelt option (`durabilty`): it would be silently ignored (README). A name close to
 * no known one is the user's own: abstract-level hands constructor options to open() and its
 * postopen hooks (its test suite checks that a `userland` option gets there).
 */
function checkSpelling(options: object): void {
  for (const name of Object.keys(options)) {
    if (KNOWN_OPTIONS.includes(name)) continue
    const near = nearest(name, KNOWN_OPTIONS)
    if (near === undefined) continue
    throw new InvalidOptionError(
      `new IslabLevel: unknown option '${name}' (did you mean '${near}'?); its options are ${KNOWN_OPTIONS.join(', ')} ` +
        '(a name close to none of them is passed on to open() hooks, as abstract-level does)',
    )
  }
}

/** Keys deleted per batch by clear(). */
const CLEAR_CHUNK = 1000

/**
 * An abstract-level database stored in IsLabDB. `location` is the database directory (as for
 * ClassicLevel), or an open Database to share with other faces (the level face then never
 * closes it). Options are abstract-level's (keyEncoding, valueEncoding) and open()'s.
 */
export class IslabLevel<KDefault = string, VDefault = string> extends AbstractLevel<LevelKey, KDefault, VDefault> {
  readonly location: string
  private readonly shared: Database | undefined
  private readonly openOptions: IslabOpenOptions
  private db_: Database | undefined

  constructor(location: string | LevelDatabase, options?: IslabLevelOptions<KDefault, VDefault>) {
    if (options != null) checkSpelling(options)
    const forward: Record<string, unknown> = { ...options }
    const openOptions: Record<string, unknown> = {}
    for (const k of OPEN_OPTIONS) {
      if (k in forward) {
        openOptions[k] = forward[k]
        delete forward[k]
      }
    }
    const shared = location instanceof Database ? location : undefined
    const given = Object.keys(openOptions)
    if (shared !== undefined && given.length > 0) {
      // A shared Database is open already: its options were decided by the open() that made it.
      throw new InvalidOptionError(
        `new IslabLevel: ${given.map((n) => `'${n}'`).join(', ')} ${given.length === 1 ? 'is an option' : 'are options'} of IsLabDB's open(), ` +
          'and this Database is open already; pass them to the open() that made it (or give IslabLevel a directory instead)',
      )
    }
    const durability = shared?.options.durability ?? (openOptions as IslabOpenOptions).durability
    super(
      {
        encodings: { utf8: true, buffer: true, view: true },
        has: true,
        getSync: true,
        seek: true,
        implicitSnapshots: true,
        explicitSnapshots: true,
        createIfMissing: shared === undefined,
        errorIfExists: shared === undefined,
        permanence: durability !== 'memory',
        // Reads are synchronous: there is nothing to abort.
        signals: { iterators: false },
        // (level-supports' types predate getSync and friends.)
      } as ConstructorParameters<typeof AbstractLevel>[0],
      forward as AbstractDatabaseOptions<KDefault, VDefault>,
    )
    if (shared === undefined && typeof location !== 'string') throw new TypeError('IslabLevel: location must be a directory path or an open Database')
    this.location = shared === undefined ? (location as string) : shared.options.dir
    this.shared = shared
    this.openOptions = openOptions as IslabOpenOptions
  }

  /** The IsLabDB database behind the face (open while the level database is). */
  get db(): Database {
    if (this.db_ === undefined) {
      const err = new ClosedError()
      err.message = 'IslabLevel: the database is not open; await level.open() first (level.db exists while the level database is open).'
      throw err
    }
    return this.db_
  }

  async _open(options: { createIfMissing?: boolean; errorIfExists?: boolean }): Promise<void> {
    if (this.shared !== undefined) {
      this.db_ = this.shared
      return
    }
    const db = await open({
      ...this.openOptions,
      dir: this.location,
      createIfMissing: options.createIfMissing !== false,
      errorIfExists: options.errorIfExists === true,
    })
    try {
      // Iterators read the ordered index synchronously: build it now, in time slices.
      for await (const _ of db.range({ limit: 0 }));
    } catch (err) {
      await db.close()
      throw err
    }
    this.db_ = db
  }

  async _close(): Promise<void> {
    const db = this.db_
    this.db_ = undefined
    if (db !== undefined && this.shared === undefined) await db.close()
  }

  _getSync(key: LevelKey, options: ReadOptions): string | Uint8Array | undefined {
    const k = toNativeKey(key, options.keyEncoding)
    const snap = options.snapshot?.core
    return fromStored(snap === undefined ? this.db.get(k) : snap.get(k), options.valueEncoding, k)
  }

  async _get(key: LevelKey, options: ReadOptions): Promise<string | Uint8Array | undefined> {
    return this._getSync(key, options)
  }

  async _getMany(keys: LevelKey[], options: ReadOptions): Promise<(string | Uint8Array | undefined)[]> {
    return keys.map((key) => this._getSync(key, options))
  }

  async _has(key: LevelKey, options: ReadOptions): Promise<boolean> {
    const k = toNativeKey(key, options.keyEncoding)
    const snap = options.snapshot?.core
    return snap === undefined ? this.db.has(k) : snap.has(k)
  }

  async _hasMany(keys: LevelKey[], options: ReadOptions): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this._has(key, options)))
  }

  async _put(key: LevelKey, value: string | Uint8Array, options: KeyOptions): Promise<void> {
    await this.db.put(toNativeKey(key, options.keyEncoding), toStored(value))
  }

  async _del(key: LevelKey, options: KeyOptions): Promise<void> {
    await this.db.delete(toNativeKey(key, options.keyEncoding))
  }

  async _batch(operations: LevelOp[]): Promise<void> {
    if (operations.length === 0) return
    const ops: BatchOp[] = operations.map((op) => {
      const key = toNativeKey(op.key, op.keyEncoding)
      return op.type === 'put' ? { type: 'put', key, value: toStored(op.value!) } : { type: 'del', key }
    })
    await this.db.batch(ops)
  }

  /**
   * Deletes the keys in range as of a snapshot (the one given, or one taken now), a batch of
   * CLEAR_CHUNK keys at a time: atomic per batch, not as a whole (as LevelDB's clear).
   */
  async _clear(options: ClearOptions): Promise<void> {
    const own = options.snapshot == null
    const snap = own ? this.db.snapshot() : options.snapshot!.core
    const cursor = new Cursor(snap, own, { ...options, valueEncoding: 'utf8', snapshot: undefined })
    try {
      await cursor.whenLive()
      let left = options.limit !== undefined && options.limit >= 0 ? options.limit : Infinity
      while (left > 0) {
        const keys = cursor.nativeKeys(Math.min(CLEAR_CHUNK, left))
        if (keys.length === 0) break
        left -= keys.length
        await this.db.batch(keys.map((key) => ({ type: 'del', key })))
      }
    } finally {
      cursor.close()
    }
  }

  _iterator(options: LevelIteratorOptions): IslabIterator {
    return new IslabIterator(this as never, options, this.cursor(options))
  }

  _keys(options: LevelIteratorOptions): IslabKeyIterator {
    return new IslabKeyIterator(this as never, options, this.cursor(options))
  }

  _values(options: LevelIteratorOptions): IslabValueIterator {
    return new IslabValueIterator(this as never, options, this.cursor(options))
  }

  _snapshot(options: { owner: unknown }): IslabSnapshot {
    return new IslabSnapshot(this.db.snapshot(), options)
  }

  /** An iterator's cursor, over the explicit snapshot or one taken now (the implicit snapshot). */
  private cursor(options: LevelIteratorOptions): Cursor {
    const given = options.snapshot?.core
    return new Cursor(given ?? this.db.snapshot(), given === undefined, options)
  }
}

// abstract-level's types declare AbstractSnapshot's constructor without its options argument.
const SnapshotBase = AbstractSnapshot as unknown as new (options: { owner: unknown }) => AbstractSnapshot

/** db.snapshot() of the level face: a core Snapshot, released when closed. */
export class IslabSnapshot extends SnapshotBase {
  constructor(
    readonly core: Snapshot,
    options: { owner: unknown },
  ) {
    super(options)
  }

  async _close(): Promise<void> {
    this.core.close()
  }
}
