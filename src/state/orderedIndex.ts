// Keys in order, for range reads: a B+ tree (sorted-btree) of key → Entry. It is built the first
// time a range is asked for and kept in step with the state from then on, so databases that never
// read ranges pay nothing on put. Snapshots are O(1) copy-on-write clones: a range read sees the
// state as of its start while writes go on. Order is JavaScript's string order (UTF-16 code units).
import btree from 'sorted-btree'
import type { Entry } from './entry.js'

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

// sorted-btree is CommonJS with its class on module.exports.default; bundlers that apply
// esModule interop hand over the class itself.
const BTree: typeof btree.default = (btree as { default?: typeof btree.default }).default ?? (btree as unknown as typeof btree.default)
const newTree = () => new BTree<string, Entry>(undefined, compare)
type Tree = ReturnType<typeof newTree>


export class OrderedIndex {
  private readonly tree: Tree

  constructor(entries: Map<string, Entry>) {
    const sorted = Array.from(entries).sort((a, b) => compare(a[0], b[0]))
    this.tree = newTree()
    // Appending in key order fills nodes left to right.
    for (const [k, e] of sorted) this.tree.set(k, e)
  }

  set(key: string, e: Entry): void {
    this.tree.set(key, e)
  }

  delete(key: string): void {
    this.tree.delete(key)
  }

  snapshot(): Tree {
    return this.tree.clone()
  }
}

export type { Tree as OrderedSnapshot }
