// Expiry deadlines: which keys' current versions expire, and when. A side table beside the
// entries (entries themselves stay as small as they were) plus a min-heap on the deadline, so the
// sweeper pops what is due instead of sampling (Redis samples its expires dict; a heap knows).
//
// A record belongs to one version of its key: { key, seq, at }. It holds only while the key's
// current seq is `seq`. A write without a deadline or a delete clears the key's record (else a
// deleted key's record would be held, and every read kept off the no-deadline fast path, until
// its deadline passed); a record that still went stale (an undo, recovery) is ignored by readers
// and dropped when the sweeper meets it. One record per key at most (a newer deadline replaces it
// in the table; a replaced or cleared record's heap item is skipped when popped, and the heap is
// rebuilt once skipped items dominate).

/** One version's deadline (ms since the epoch). */
export interface Deadline {
  readonly key: string
  readonly seq: number
  readonly at: number
}

/** The name under which checkpoints keep the deadlines (docs/checkpoint-format.md). */
export const EXPIRY_EXTENSION = 'islab.expiry'

export class Deadlines {
  private readonly table = new Map<string, Deadline>()
  private heap: Deadline[] = []

  /** Keys with a record (stale ones included): 0 means no read needs to look here. */
  get size(): number {
    return this.table.size
  }

  /** Version `seq` of `key` expires at `at`. Returns the record it replaces (undo and snapshots keep it). */
  set(key: string, seq: number, at: number): Deadline | undefined {
    const was = this.table.get(key)
    const d: Deadline = { key, seq, at }
    this.table.set(key, d)
    this.push(d)
    this.trim()
    return was
  }

  /**
   * Forgets `key`'s record: its version was deleted or overwritten without a deadline. Returns
   * it (undo and snapshots keep it). Its heap item is skipped when popped.
   */
  clear(key: string): Deadline | undefined {
    const d = this.table.get(key)
    if (d === undefined) return undefined
    this.table.delete(key)
    this.trim()
    return d
  }

  /** Makes `d`, a record set() replaced, its key's record again (a reverted write's undo). */
  restore(d: Deadline): void {
    this.table.set(d.key, d)
    // Its heap item may be gone (popped as stale): a second one is skipped once the first is met.
    this.push(d)
  }

  /** The deadline of version `seq` of `key`, or undefined when it has none. */
  of(key: string, seq: number): number | undefined {
    const d = this.table.get(key)
    return d !== undefined && d.seq === seq ? d.at : undefined
  }

  /** The record of `key` (current or stale: compare its seq). */
  get(key: string): Deadline | undefined {
    return this.table.get(key)
  }

  /** Forgets `d` if it is still `key`'s record (its version is gone: expired or overwritten). */
  drop(d: Deadline): void {
    if (this.table.get(d.key) === d) this.table.delete(d.key)
  }

  /**
   * Removes and returns the earliest record due at `now` (at ≤ now) that is still its key's
   * record; undefined when none is due. The caller checks it against the state's seq.
   */
  nextDue(now: number): Deadline | undefined {
    const h = this.heap
    while (h.length > 0 && h[0]!.at <= now) {
      const d = this.pop()
      if (this.table.get(d.key) === d) return d
    }
    return undefined
  }

  /**
   * Puts back `d`, which nextDue() returned but which could not be expired yet (the database
   * refuses writes): it is due again at the next sweep.
   */
  requeue(d: Deadline): void {
    if (this.table.get(d.key) === d) this.push(d)
  }

  /** Every record (for a checkpoint: the caller keeps the current ones). */
  values(): IterableIterator<Deadline> {
    return this.table.values()
  }

  /**
   * Checkpoint form: u32 count, then per record u16 key length, key UTF-8, u64 seq, f64 at
   * (little-endian; docs/checkpoint-format.md). `keep` chooses the records (the current ones).
   */
  encode(keep: (d: Deadline) => boolean): Uint8Array {
    const list: Deadline[] = []
    let bytes = 4
    for (const d of this.table.values()) {
      if (!keep(d)) continue
      list.push(d)
      bytes += 18 + Buffer.byteLength(d.key, 'utf8')
    }
    const b = Buffer.allocUnsafe(bytes)
    b.writeUInt32LE(list.length, 0)
    let p = 4
    for (const d of list) {
      const n = b.write(d.key, p + 2, 'utf8')
      b.writeUInt16LE(n, p)
      p += 2 + n
      b.writeBigUInt64LE(BigInt(d.seq), p)
      b.writeDoubleLE(d.at, p + 8)
      p += 16
    }
    return b
  }

  /** Adds the records of encode()'s bytes; throws on bytes that do not decode. */
  load(data: Uint8Array): void {
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    if (b.length < 4) throw new Error('expiry extension shorter than its count')
    const count = b.readUInt32LE(0)
    let p = 4
    for (let i = 0; i < count; i++) {
      if (p + 2 > b.length) throw new Error('expiry record runs past the extension')
      const n = b.readUInt16LE(p)
      if (n === 0 || p + 2 + n + 16 > b.length) throw new Error('expiry record runs past the extension')
      const key = b.toString('utf8', p + 2, p + 2 + n)
      p += 2 + n
      this.set(key, Number(b.readBigUInt64LE(p)), b.readDoubleLE(p + 8))
      p += 16
    }
    if (p !== b.length) throw new Error('expiry extension has trailing bytes')
  }

  private push(d: Deadline): void {
    const h = this.heap
    let i = h.length
    h.push(d)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (h[parent]!.at <= d.at) break
      h[i] = h[parent]!
      i = parent
    }
    h[i] = d
  }

  private pop(): Deadline {
    const h = this.heap
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) this.sift(last, 0)
    return top
  }

  private sift(d: Deadline, from: number): void {
    const h = this.heap
    const n = h.length
    let i = from
    for (;;) {
      let c = 2 * i + 1
      if (c >= n) break
      if (c + 1 < n && h[c + 1]!.at < h[c]!.at) c++
      if (h[c]!.at >= d.at) break
      h[i] = h[c]!
      i = c
    }
    h[i] = d
  }

  /** Rebuilds the heap once skipped items dominate: amortised O(1) per set or clear. */
  private trim(): void {
    if (this.heap.length > 1024 && this.heap.length > 2 * this.table.size) this.rebuild()
  }

  /** Drops heap items that are no longer their key's record. */
  private rebuild(): void {
    const h = Array.from(this.table.values())
    this.heap = h
    for (let i = (h.length >> 1) - 1; i >= 0; i--) this.sift(h[i]!, i)
  }
}
