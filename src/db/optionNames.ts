// Option names are checked wherever options are taken, open() and the methods alike: a
// misspelt name (`durabilty`, `ifseq`, `prefx`) is an error with a suggestion, never silently
// ignored — an ignored `ifSeq` would skip the concurrency check it asked for.
import { InvalidOptionError } from '../errors.js'

/** Rejects the names of `obj` not in `known`, suggesting the nearest known one. */
export function checkNames(obj: object, known: readonly string[], where: string): void {
  for (const name of Object.keys(obj)) {
    if (known.includes(name)) continue
    const near = nearest(name, known)
    throw new InvalidOptionError(
      `unknown option '${where}${name}'${near === undefined ? '' : ` (did you mean '${where}${near}'?)`}; ` +
        `the options${where === '' ? '' : ` of ${where.slice(0, -1)}`} are ${known.join(', ')}`,
    )
  }
}

/**
 * The options object a method was given: names checked against `known` (nothing is allocated
 * for a valid one; methods on hot paths call this only when options are passed).
 */
export function checkMethodOptions(method: string, opts: unknown, known: readonly string[]): void {
  if (typeof opts !== 'object' || opts === null) throw new InvalidOptionError(`${method}: options must be an object, not ${show(opts)}`)
  for (const name in opts) {
    if (known.includes(name)) continue
    const near = nearest(name, known)
    throw new InvalidOptionError(
      `${method}: unknown option '${name}'${near === undefined ? '' : ` (did you mean '${near}'?)`}; its options are ${known.join(', ')}`,
    )
  }
}

/** A value as a message should show it: a string quoted and named, so '100' is not mistaken for 100. */
export function show(v: unknown): string {
  return typeof v === 'string' ? `${JSON.stringify(v)} (a string)` : String(v)
}

/** The known name within edit distance 2 of `name` (or a third of its length), if any. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit (Damerau). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}
