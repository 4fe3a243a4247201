// Keys in order, for range reads: a B+ tree (sorted-btree) of key → Entry. It is built the first
// time a range is asked for and kept in step with the state from then on, so databases that never
// read ranges pay nothing on put. Snapshots are O(1) copy-on-write clones: a range read sees the
// state as of its start while writes go on. Order is JavaScript's string order (UTF-16 code units).
//
// The build does not stall the process (issue 15, finding 10: sorting 300k keys in one go took
// 0.2–1.2 s). The state's keys and entries are captured in one synchronous step when the index is
// asked for (the Map's as two arrays, the base table's as a view: both O(n) copies of references,
// no strings or objects made), then collected, merge-sorted and bulk-loaded in time slices.
// Writes made meanwhile are logged (`later`) and applied once the tree is loaded; a snapshot asked
// for during the build records how much of that log it may see, so it is exactly "as of the call".
// A caller that needs the snapshot synchronously (RangeRead.entries()) finishes the build at once.
import btree from 'sorted-btree'
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js'
import { TimeSlice } from '../io/timeSlice.js'
import type { BaseView } from './baseTable.js'
import type { Entry } from './entry.js'

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

// sorted-btree is CommonJS with its class on module.exports.default; bundlers that apply
// esModule interop hand over the class itself.
const BTree: typeof btree.default = (btree as { default?: typeof btree.default }).default ?? (btree as unknown as typeof btree.default)
const newTree = () => new BTree<string, Entry>(undefined, compare)
type Tree = ReturnType<typeof newTree>

/** Units of work (keys collected, elements moved) between checks of the time slice. */
const CHECK_EVERY = 1024
/** Runs sorted by insertion before the merge passes. */
const RUN = 16

/** The index as of one moment: ready at once, or when the build reaches that moment. */
export class IndexSnapshot {
  private waiters: { resolve: (t: Tree) => void; reject: (err: unknown) => void }[] = []
  private error: unknown

  constructor(
    private readonly index: OrderedIndex,
    /** How many of the index's logged writes this snapshot sees. */
    readonly mark: number,
    /** Set once the snapshot exists. */
    public tree: Tree | undefined,
  ) {}

  /** The snapshot now: finishes the index's build synchronously if it is still running. */
  now(): Tree {
    if (this.tree === undefined && this.error === undefined) this.index.finishNow()
    if (this.error !== undefined) throw this.error
    return this.tree!
  }

  /** The snapshot, without stalling: the build goes on in time slices until it gets here. */
  wait(): Promise<Tree> {
    if (this.tree !== undefined) return Promise.resolve(this.tree)
    if (this.error !== undefined) return Promise.reject(this.error)
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  /** @internal */
  settle(tree: Tree | undefined, error?: unknown): void {
    this.tree = tree
    this.error = error
    for (const w of this.waiters.splice(0)) if (tree !== undefined) w.resolve(tree)
    else w.reject(error)
  }
}

export class OrderedIndex {
  /** The live tree; undefined while the build runs. */
  private tree: Tree | undefined
  private build: Generator<undefined, void> | undefined
  /** Writes made while the tree is built, in order: key, then the entry (undefined: deleted). */
  private later: (string | Entry | undefined)[] = []
  /** Snapshots asked for during the build, in the order asked. */
  private pending: IndexSnapshot[] = []
  private driving = false

  /** Starts building the index of `keys`/`entries` (the state's Map) and the live rows of `base`. */
  constructor(keys: string[], entries: Entry[], base: BaseView | undefined) {
    this.build = this.steps(keys, entries, base)
    this.drive()
  }

  set(key: string, e: Entry): void {
    if (this.tree !== undefined) this.tree.set(key, e)
    else this.later.push(key, e)
  }

  delete(key: string): void {
    if (this.tree !== undefined) this.tree.delete(key)
    else this.later.push(key, undefined)
  }

  /** Whether the build is over (the index is live). */
  get ready(): boolean {
    return this.tree !== undefined
  }

  /** The index as of this call; during the build, it is ready when the build gets there. */
  snapshotAsOfNow(): IndexSnapshot {
    if (this.tree !== undefined) return new IndexSnapshot(this, 0, this.tree.clone())
    const s = new IndexSnapshot(this, this.later.length >> 1, undefined)
    this.pending.push(s)
    return s
  }

  /** The index as of this call, synchronously (finishing the build now if it is still running). */
  snapshot(): Tree {
    return this.snapshotAsOfNow().now()
  }

  /**
   * The live tree, finishing the build now if it still runs. It changes with every write: read
   * it in one synchronous step (snapshot ranges do, see rangeAsOf.ts).
   */
  liveNow(): Tree {
    this.finishNow()
    if (this.tree === undefined) throw new Error('the ordered index failed to build (see the error of the range read that started it)')
    return this.tree
  }

  /** Resolves once the build is over (the live tree exists), without stalling meanwhile. */
  async whenLive(): Promise<void> {
    if (this.tree === undefined) await this.snapshotAsOfNow().wait()
  }

  /** Runs what is left of the build without yielding. */
  finishNow(): void {
    const build = this.build
    if (build === undefined) return
    try {
      while (!build.next().done);
    } catch (err) {
      this.fail(err)
    }
  }

  /** Runs the build a slice at a time, with a turn of the event loop between slices. */
  private drive(): void {
    if (this.driving) return
    this.driving = true
    const slice = new TimeSlice()
    const step = (): void => {
      const build = this.build
      if (build === undefined) return
      try {
        do if (build.next().done) return
        while (!slice.due())
      } catch (err) {
        this.fail(err)
        return
      }
      void slice.turn().then(step)
    }
    step()
  }

  private fail(err: unknown): void {
    this.build = undefined
    for (const s of this.pending.splice(0)) s.settle(undefined, err)
  }

  /** The build, as steps: yields every CHECK_EVERY units of work. */
  private *steps(keys: string[], entries: Entry[], base: BaseView | undefined): Generator<undefined, void> {
    if (base !== undefined) {
      for (let row = 0; row < base.rows; row++) {
        if (base.isLive(row)) {
          keys.push(base.keyAt(row))
          entries.push(base.entryAt(row))
        }
        if (row % CHECK_EVERY === 0) yield
      }
    }
    const sorted = yield* mergeSort(keys, entries)
    const tree = bulkLoad(sorted.keys, sorted.values, newTree().maxNodeSize, compare) as Tree
    yield
    // Catch up with the writes made meanwhile (the log may grow while this runs), handing each
    // snapshot asked for during the build the tree as of its call.
    const later = this.later
    let at = 0
    for (;;) {
      while (this.pending.length > 0 && this.pending[0]!.mark === at >> 1) this.pending.shift()!.settle(tree.clone())
      if (at === later.length) break
      const key = later[at] as string
      const e = later[at + 1] as Entry | undefined
      if (e === undefined) tree.delete(key)
      else tree.set(key, e)
      at += 2
      if (at % CHECK_EVERY === 0) yield
    }
    this.later = []
    this.tree = tree
    this.build = undefined
  }
}

/**
 * Sorts `keys` (and `values` alongside) by key: insertion-sorted runs, then bottom-up merge
 * passes between two pairs of arrays. A generator, so it can stop after any CHECK_EVERY moves;
 * a single Array.prototype.sort of 300k strings is 150–300 ms that cannot be cut.
 */
function* mergeSort(keys: string[], values: Entry[]): Generator<undefined, { keys: string[]; values: Entry[] }> {
  const n = keys.length
  for (let s = 0; s < n; s += RUN) {
    const e = Math.min(s + RUN, n)
    for (let x = s + 1; x < e; x++) {
      const k = keys[x]!
      const v = values[x]!
      let y = x - 1
      while (y >= s && keys[y]! > k) {
        keys[y + 1] = keys[y]!
        values[y + 1] = values[y]!
        y--
      }
      keys[y + 1] = k
      values[y + 1] = v
    }
    if (s % (RUN * 64) === 0) yield
  }
  let src = keys
  let srcV = values
  let dst = new Array<string>(n)
  let dstV = new Array<Entry>(n)
  let work = 0
  for (let w = RUN; w < n; w *= 2) {
    for (let lo = 0; lo < n; lo += 2 * w) {
      const mid = Math.min(lo + w, n)
      const hi = Math.min(lo + 2 * w, n)
      let i = lo
      let j = mid
      let k = lo
      while (i < mid && j < hi) {
        if (src[j]! < src[i]!) {
          dst[k] = src[j]!
          dstV[k++] = srcV[j++]!
        } else {
          dst[k] = src[i]!
          dstV[k++] = srcV[i++]!
        }
        if (++work % CHECK_EVERY === 0) yield
      }
      while (i < mid) {
        dst[k] = src[i]!
        dstV[k++] = srcV[i++]!
      }
      while (j < hi) {
        dst[k] = src[j]!
        dstV[k++] = srcV[j++]!
      }
    }
    ;[src, dst] = [dst, src]
    ;[srcV, dstV] = [dstV, srcV]
  }
  return { keys: src, values: srcV }
}

export type { Tree as OrderedSnapshot }
