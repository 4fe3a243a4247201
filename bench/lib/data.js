// Deterministic workload data: 16-byte keys, ~100-byte object values, and pre-generated
// lookup sequences (uniform and Zipfian), so the timed loops measure only the operation.

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function hex8(x) {
  return (x >>> 0).toString(16).padStart(8, '0')
}

/** 32-bit integer mix (murmur3 finalizer). */
function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

/**
 * Key i: 16 hex characters (16 bytes in UTF-8) that look random. The second half is an odd
 * multiple of i mod 2^32, a bijection, so keys are unique for any i < 2^32.
 */
const keyBuf = Buffer.alloc(16)
export function makeKey(i) {
  // Written through a buffer so the result is a flat (sequential) string: no loop pays for
  // flattening a cons-string.
  keyBuf.write(hex8(mix32(i + 1)), 0, 'latin1')
  keyBuf.write(hex8(Math.imul(i, 0x9e3779b1)), 8, 'latin1')
  return keyBuf.latin1Slice(0, 16)
}

const FIRST = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'ken', 'dennis', 'margaret', 'linus', 'donald']
const TAGS = ['alpha', 'beta', 'gamma', 'delta', 'eps']

/** Value i: a small JSON-like record, about 100 bytes as msgpack. */
export function makeValue(i) {
  const first = FIRST[i % FIRST.length]
  return {
    id: i,
    name: `${first} #${i}`,
    email: `${first}.${i}@example.com`,
    active: (i & 1) === 0,
    score: (i % 1000) / 8,
    tags: [TAGS[i % 5], TAGS[(i + 2) % 5]],
    createdAt: 1_700_000_000 + i,
  }
}

export function makeKeys(n) {
  const keys = new Array(n)
  for (let i = 0; i < n; i++) keys[i] = makeKey(i)
  return keys
}

export function makeValues(n) {
  const values = new Array(n)
  for (let i = 0; i < n; i++) values[i] = makeValue(i)
  return values
}

/** `count` keys drawn uniformly at random (with replacement) from `keys`. */
export function uniformSequence(keys, count, seed = 1) {
  const rnd = prng(seed)
  const n = keys.length
  const out = new Array(count)
  for (let i = 0; i < count; i++) out[i] = keys[Math.floor(rnd() * n)]
  return out
}

/**
 * `count` keys drawn from a Zipfian distribution over `keys` with skew `theta` (YCSB's
 * generator, Gray et al. "Quickly generating billion-record synthetic databases"). Rank r is
 * mapped to a key through a seeded permutation, so hot keys are scattered, not the first inserted.
 */
export function zipfianSequence(keys, count, theta = 0.99, seed = 2) {
  const n = keys.length
  const rnd = prng(seed)
  let zetan = 0
  for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta)
  const zeta2 = 1 + 1 / Math.pow(2, theta)
  const alpha = 1 / (1 - theta)
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan)
  const half = 1 + Math.pow(0.5, theta)
  const perm = new Uint32Array(n)
  for (let i = 0; i < n; i++) perm[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    const t = perm[i]
    perm[i] = perm[j]
    perm[j] = t
  }
  const out = new Array(count)
  for (let i = 0; i < count; i++) {
    const u = rnd()
    const uz = u * zetan
    let rank
    if (uz < 1) rank = 0
    else if (uz < half) rank = 1
    else rank = Math.min(n - 1, Math.floor(n * Math.pow(eta * u - eta + 1, alpha)))
    out[i] = keys[perm[rank]]
  }
  return out
}

/** Fraction of lookups that hit the `top` most frequent keys (to describe a sequence's skew). */
export function topShare(seq, top) {
  const counts = new Map()
  for (const k of seq) counts.set(k, (counts.get(k) ?? 0) + 1)
  const sorted = [...counts.values()].sort((a, b) => b - a)
  let s = 0
  for (let i = 0; i < Math.min(top, sorted.length); i++) s += sorted[i]
  return { share: s / seq.length, distinct: counts.size }
}

/** Target msgpack size of the large values of the peer comparison (`--values 4k`). */
export const LARGE_VALUE_BYTES = 4096

let largePool
/** 4 MiB of seeded pseudo-random bytes that the large values take their bodies from. */
function pool() {
  if (largePool === undefined) {
    const rnd = prng(0x4b1d)
    largePool = Buffer.allocUnsafe(4 << 20)
    for (let j = 0; j < largePool.length; j += 4) largePool.writeUInt32LE((rnd() * 4294967296) >>> 0, j)
  }
  return largePool
}

/**
 * Value i of about 4 KiB as msgpack: the small record plus a `body` of base64 text (a slice of a
 * seeded pseudo-random pool at an offset that depends on i), so one value compresses about as well
 * as real base64/JSON text (to ~75%), not to nothing.
 */
export function makeLargeValue(i) {
  const v = makeValue(i)
  // record (~114 B) + "body" key (5 B) + str16 header (3 B)
  const len = LARGE_VALUE_BYTES - 122
  const raw = Math.ceil((len * 3) / 4)
  const p = pool()
  const at = mix32(i + 0x51ed) % (p.length - raw)
  v.body = p.toString('base64', at, at + raw).slice(0, len)
  return v
}

export function makeLargeValues(n) {
  const values = new Array(n)
  for (let i = 0; i < n; i++) values[i] = makeLargeValue(i)
  return values
}

/** A seeded shuffle of 0..n-1. */
export function shuffledIndices(n, seed = 7) {
  const rnd = prng(seed)
  const a = new Uint32Array(n)
  for (let i = 0; i < n; i++) a[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    const t = a[i]
    a[i] = a[j]
    a[j] = t
  }
  return a
}

/**
 * Indices 0..n-1 in the order of their keys (makeKey(i)), without comparing strings: a key's first
 * 8 hex characters are mix32(i + 1), a bijection, so they alone decide the order.
 */
export function sortedKeyOrder(n) {
  if (n > 2 ** 21) {
    const keys = makeKeys(n)
    return Uint32Array.from(keys.keys()).sort((a, b) => (keys[a] < keys[b] ? -1 : 1))
  }
  const packed = new Float64Array(n)
  for (let i = 0; i < n; i++) packed[i] = mix32(i + 1) * 2 ** 21 + i
  packed.sort()
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = packed[i] % 2 ** 21
  return out
}

// ---------------------------------------------------------------------------------------------
// The peer comparison's data, shaped as an application's (issue 16): a key is built by the call
// that uses it (`'user:' + id`, a fresh string each time, never one interned in a pre-built array)
// and a value is a fresh object per write (so no store can keep the caller's object for free, and
// the RSS a store adds is the memory it keeps itself).

/** Key of record `id`, built per call. */
export function userKey(id) {
  return 'user:' + id
}

/**
 * Value of record `i` as a fresh ~110-byte object (version 1: `score` + 0.5, so every rewrite
 * changes the stored bytes). `bodies` (4 KiB values): the base64 text of each record, built once
 * before timing (building 4 KiB of text per write would time the text, not the store).
 */
export function userValue(i, version = 0, bodies) {
  const first = FIRST[i % FIRST.length]
  const v = {
    id: i,
    name: `${first} #${i}`,
    email: `${first}.${i}@example.com`,
    active: (i & 1) === 0,
    score: (i % 1000) / 8 + (version ? 0.5 : 0),
    tags: [TAGS[i % 5], TAGS[(i + 2) % 5]],
    createdAt: 1_700_000_000 + i,
  }
  if (bodies !== undefined) v.body = bodies[i]
  return v
}

/** The `body` strings of the 4 KiB values (makeLargeValue's), one per record. */
export function largeBodies(n) {
  const out = new Array(n)
  for (let i = 0; i < n; i++) out[i] = makeLargeValue(i).body
  return out
}

/** Record ids 0..n-1 in the order of their keys `'user:' + id` (the sequential load's order). */
export function userKeyOrder(n) {
  const keys = new Array(n)
  for (let i = 0; i < n; i++) keys[i] = userKey(i)
  return Uint32Array.from(keys.keys()).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0))
}
