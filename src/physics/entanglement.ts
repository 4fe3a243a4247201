// Quantum entanglement: in plain words, declared links between keys, so that reading one key
// (quantumGet) also returns the keys linked to it, strongest link first.
//
// Links come from two places: explicit ones (`db.entangle`), which are events in the log and
// part of the state (src/state/entanglements.ts), and pattern rules given at open
// (`entanglement: [{ from: 'user:*', to: 'profile:*' }]`), which link every key matching `from`
// to the keys made by putting what `*` matched into `to`. This file holds the rules and the one
// function that merges both into a key's partner list; it works with physics on or off, since
// it decides what quantumGet returns. What physics adds is the pull: reading a key gives its
// partners mass, moving them toward the hot tier (physics.ts).
import { InvalidOptionError } from '../errors.js'
import { show } from '../db/optionNames.js'
import { assertValidKey } from '../events/keys.js'
import type { Entanglements } from '../state/entanglements.js'
import { MAX_PARTNERS, MIN_STRENGTH } from '../state/entanglements.js'

export { MAX_PARTNERS, MIN_STRENGTH }

export interface EntanglementRule {
  /** Keys the rule applies to: a pattern with exactly one `*`, e.g. `'user:*'`. */
  from: string
  /** Partner patterns: `*` is replaced by what it matched in `from` (e.g. `'profile:*'`); a pattern without `*` is a fixed key. */
  to: string | readonly string[]
  /** 0.1–1. Default 0.5. */
  strength?: number
}

export const DEFAULT_STRENGTH = 0.5

interface Pattern {
  prefix: string
  suffix: string
  /** No `*`: a fixed key. */
  fixed: boolean
}

interface CompiledRule {
  from: Pattern
  to: Pattern[]
  strength: number
}

function compile(p: unknown, what: string, needStar: boolean): Pattern {
  if (typeof p !== 'string' || p.length === 0) throw new InvalidOptionError(`${what} must be a non-empty string`)
  const star = p.indexOf('*')
  if (star !== p.lastIndexOf('*')) throw new InvalidOptionError(`${what} ${JSON.stringify(p)} has more than one '*'`)
  if (star < 0) {
    if (needStar) throw new InvalidOptionError(`${what} ${JSON.stringify(p)} needs a '*'`)
    assertValidKey(p)
    return { prefix: p, suffix: '', fixed: true }
  }
  return { prefix: p.slice(0, star), suffix: p.slice(star + 1), fixed: false }
}

export function checkStrength(strength: unknown, what = 'strength'): number {
  if (typeof strength !== 'number' || !(strength >= MIN_STRENGTH && strength <= 1)) {
    throw new InvalidOptionError(`${what} must be a number from ${MIN_STRENGTH} to 1, not ${show(strength)}`)
  }
  return strength
}

/** The pattern rules given at open, compiled. */
export class EntanglementRules {
  private readonly rules: CompiledRule[]

  constructor(rules: readonly EntanglementRule[] = []) {
    if (!Array.isArray(rules)) throw new InvalidOptionError('entanglement must be an array of { from, to, strength? } rules')
    this.rules = rules.map((r, i) => {
      if (typeof r !== 'object' || r === null) throw new InvalidOptionError(`entanglement[${i}] is not an object`)
      const to = typeof r.to === 'string' ? [r.to] : r.to
      if (!Array.isArray(to) || to.length === 0) throw new InvalidOptionError(`entanglement[${i}].to must be a pattern or a non-empty array of them`)
      return {
        from: compile(r.from, `entanglement[${i}].from`, true),
        to: to.map((p, j) => compile(p, `entanglement[${i}].to[${j}]`, false)),
        strength: r.strength === undefined ? DEFAULT_STRENGTH : checkStrength(r.strength, `entanglement[${i}].strength`),
      }
    })
  }

  get size(): number {
    return this.rules.length
  }

  /** Adds the partners the rules give `key` into `out` (keeping the larger strength). */
  collect(key: string, out: Map<string, number>): void {
    for (const r of this.rules) {
      const f = r.from
      if (key.length < f.prefix.length + f.suffix.length || !key.startsWith(f.prefix) || !key.endsWith(f.suffix)) continue
      const captured = key.slice(f.prefix.length, key.length - f.suffix.length)
      for (const t of r.to) {
        const partner = t.fixed ? t.prefix : t.prefix + captured + t.suffix
        if (partner === key || partner.length === 0) continue
        const had = out.get(partner)
        if (had === undefined || had < r.strength) out.set(partner, r.strength)
      }
    }
  }
}

/**
 * A key's partners — explicit links and rule links merged (the larger strength wins) — strongest
 * first, ties broken by key order, so the result is the same whatever the physics.
 */
export function partnersOf(key: string, explicit: Entanglements, rules: EntanglementRules): [string, number][] {
  const m = new Map<string, number>()
  const own = explicit.of(key)
  if (own !== undefined) for (const [p, s] of own) m.set(p, s)
  if (rules.size > 0) rules.collect(key, m)
  if (m.size === 0) return []
  return Array.from(m).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

/** Checks db.entangle's arguments; returns the partners, deduplicated, in the order given. */
export function checkEntangle(key: unknown, partners: unknown): string[] {
  assertValidKey(key)
  if (!Array.isArray(partners) || partners.length === 0) throw new InvalidOptionError('partners must be a non-empty array of keys')
  const out: string[] = []
  for (const p of partners) {
    assertValidKey(p)
    if (p === key) throw new InvalidOptionError(`a key cannot be entangled with itself (${JSON.stringify(key)})`)
    if (!out.includes(p)) out.push(p)
  }
  if (out.length > MAX_PARTNERS) throw new InvalidOptionError(`at most ${MAX_PARTNERS} partners per key, got ${out.length}`)
  return out
}
