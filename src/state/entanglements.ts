// Quantum entanglement, the state part: which keys are declared entangled with which, and how
// strongly. It is derived from the log ('entangle' events) like the values are, and saved in
// checkpoints under ENTANGLEMENT_EXTENSION, so it survives restarts and WAL pruning.
import { Packr } from 'msgpackr'

/** A key keeps at most this many partners: the strongest (ties: smaller key first). */
export const MAX_PARTNERS = 10
/** Strengths are 0 (remove) or in [MIN_STRENGTH, 1]. */
export const MIN_STRENGTH = 0.1
/** Checkpoint extension frame holding the entanglements (docs/checkpoint-format.md). */
export const ENTANGLEMENT_EXTENSION = 'islab.entanglement'

const packr = new Packr({ useRecords: false })

/** What an entangle event replaced: the key's previous partner map (undefined: it had none). */
export type EntangleUndo = ReadonlyMap<string, number> | undefined

export class Entanglements {
  /** key → partner → strength. Partner maps are replaced, never mutated: an old map is an undo record. */
  private readonly links = new Map<string, ReadonlyMap<string, number>>()
  private linkCount = 0

  /** Keys with at least one partner. */
  get keys(): number {
    return this.links.size
  }

  /** Partner links in all. */
  get count(): number {
    return this.linkCount
  }

  /** Partners of `key` (do not mutate). */
  of(key: string): ReadonlyMap<string, number> | undefined {
    return this.links.get(key)
  }

  /** Sets `partners` of `key` to `strength` (0: removes them). Deterministic, so replay rebuilds the same map. */
  apply(key: string, partners: readonly string[], strength: number): EntangleUndo {
    const prev = this.links.get(key)
    const next = new Map(prev)
    for (const p of partners) {
      if (p === key) continue
      if (strength === 0) next.delete(p)
      else next.set(p, strength)
    }
    this.install(key, next.size > MAX_PARTNERS ? strongest(next) : next)
    return prev
  }

  revert(key: string, undo: EntangleUndo): void {
    this.install(key, undo ?? new Map())
  }

  /** Every key with its partners, for checkpoints and the CLI. */
  *entries(): IterableIterator<[string, ReadonlyMap<string, number>]> {
    yield* this.links
  }

  /** msgpack of [[key, [partner, strength, partner, strength, …]], …]. */
  encode(): Uint8Array {
    const out: [string, (string | number)[]][] = []
    for (const [k, m] of this.links) {
      const flat: (string | number)[] = []
      for (const [p, s] of m) flat.push(p, s)
      out.push([k, flat])
    }
    return packr.pack(out)
  }

  /** Replaces everything with what encode() produced. Throws on malformed data. */
  load(data: Uint8Array): void {
    const rows = packr.unpack(data) as unknown
    if (!Array.isArray(rows)) throw new Error('entanglement data is not an array')
    this.links.clear()
    this.linkCount = 0
    for (const row of rows) {
      const [k, flat] = row as [unknown, unknown]
      if (typeof k !== 'string' || !Array.isArray(flat) || flat.length % 2 !== 0) throw new Error('malformed entanglement row')
      const m = new Map<string, number>()
      for (let i = 0; i < flat.length; i += 2) {
        const p = flat[i]
        const s = flat[i + 1]
        if (typeof p !== 'string' || typeof s !== 'number') throw new Error('malformed entanglement partner')
        m.set(p, s)
      }
      this.install(k, m)
    }
  }

  private install(key: string, m: ReadonlyMap<string, number>): void {
    this.linkCount -= this.links.get(key)?.size ?? 0
    if (m.size === 0) this.links.delete(key)
    else {
      this.links.set(key, m)
      this.linkCount += m.size
    }
  }
}

/** The MAX_PARTNERS strongest partners, strongest first (ties: smaller key first). */
export function strongest(m: ReadonlyMap<string, number>): Map<string, number> {
  const sorted = Array.from(m).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return new Map(sorted.slice(0, MAX_PARTNERS))
}
