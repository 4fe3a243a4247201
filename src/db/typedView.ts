// `db.typed<User>('user:')`: the keys under one prefix, with their values typed, for a database
// that holds several kinds of value (open<V>() types a database that holds one). Keys stay whole
// ('user:alice', not 'alice'); a key outside the prefix is refused, so what the view reads is
// only what its type was declared for. The type itself is a promise the compiler holds writes
// through this view to; nothing checks values at run time, and writes made through the plain
// database or another face are not checked at all.
import { InvalidKeyError, InvalidOptionError } from '../errors.js'
import type { ChangeStream, ChangesOptions } from '../changes/changeStream.js'
import type { AsOf, HistoryOptions, KeyHistory } from '../history/timeTravel.js'
import type { WriteResult } from '../pipeline/writeRequest.js'
import type { RangeOptions, RangeRead } from '../state/rangeRead.js'
import type { BatchOp, Database, Entry, PutOptions, WriteOptions } from './database.js'

export class TypedView<T> {
  constructor(
    /** The database the view reads and writes (untyped). */
    readonly db: Database,
    /** Every key of the view starts with this. */
    readonly prefix: string,
  ) {
    if (typeof prefix !== 'string') throw new InvalidOptionError(`typed: the prefix must be a string, not ${typeof prefix}`)
  }

  put(key: string, value: T, opts?: PutOptions): Promise<WriteResult> {
    const outside = this.outside(key)
    return outside === undefined ? this.db.put(key, value, opts) : Promise.reject(outside)
  }

  delete(key: string, opts?: WriteOptions): Promise<WriteResult> {
    const outside = this.outside(key)
    return outside === undefined ? this.db.delete(key, opts) : Promise.reject(outside)
  }

  /** One atomic event, as db.batch; every op's key must be under the prefix. */
  batch(ops: readonly BatchOp<T>[]): Promise<WriteResult> {
    if (Array.isArray(ops)) {
      for (const op of ops) {
        const outside = typeof op === 'object' && op !== null ? this.outside(op.key) : undefined
        if (outside !== undefined) return Promise.reject(outside)
      }
    }
    return this.db.batch(ops)
  }

  get(key: string): T | undefined {
    this.check(key)
    return this.db.get<T>(key)
  }

  getEntry(key: string): Entry<T> | undefined {
    this.check(key)
    return this.db.getEntry<T>(key)
  }

  has(key: string): boolean {
    this.check(key)
    return this.db.has(key)
  }

  getAt(key: string, at: AsOf): Promise<T | undefined> {
    const outside = this.outside(key)
    return outside === undefined ? this.db.getAt<T>(key, at) : Promise.reject(outside)
  }

  history(key: string, opts?: HistoryOptions): KeyHistory<T> {
    this.check(key)
    return this.db.history<T>(key, opts)
  }

  /** Changes of keys under the prefix (a narrower `prefix` or `keys` under it may be given). */
  changes(opts: ChangesOptions = {}): ChangeStream<T> {
    const keys = opts.keys === undefined || typeof opts.keys === 'string' ? opts.keys : [...opts.keys]
    if (Array.isArray(keys)) for (const k of keys) this.check(k)
    return this.db.changes<T>({ ...opts, keys, prefix: this.narrowed('changes', opts.prefix) })
  }

  /** Keys under the prefix in order, with their values (bounds and a narrower `prefix` as db.range). */
  range(opts: RangeOptions = {}): RangeRead<T> {
    return this.db.range<T>({ ...opts, prefix: this.narrowed('range', opts.prefix) })
  }

  private narrowed(method: string, prefix: unknown): string {
    if (prefix === undefined) return this.prefix
    if (typeof prefix === 'string' && prefix.startsWith(this.prefix)) return prefix
    throw new InvalidOptionError(
      `${method}: prefix ${JSON.stringify(prefix)} is not under this view's prefix ${JSON.stringify(this.prefix)}; use db.${method}() for keys outside it`,
    )
  }

  private check(key: string): void {
    const outside = this.outside(key)
    if (outside !== undefined) throw outside
  }

  /** The error for a key outside the prefix (a key that is no string is left to the database's own check). */
  private outside(key: unknown): InvalidKeyError | undefined {
    if (typeof key !== 'string' || key.startsWith(this.prefix)) return undefined
    return new InvalidKeyError(
      `${JSON.stringify(key)} is outside this view's prefix ${JSON.stringify(this.prefix)}; read and write it through db or a view of its own prefix`,
    )
  }
}
