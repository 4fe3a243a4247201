// Timing and small statistics helpers shared by the workloads.
import v8 from 'node:v8'
import vm from 'node:vm'

export const now = () => performance.now()

/**
 * Timed windows, on the monotonic clock V8's CPU profiler uses (µs), so that
 * bench/profile-summary.js --window <label> can keep only the samples taken inside them.
 */
export const windows = []
export function openWindow(label) {
  const startUs = Number(process.hrtime.bigint() / 1000n)
  return () => windows.push({ label, startUs, endUs: Number(process.hrtime.bigint() / 1000n) })
}

let gcFn
/** Full GC between workloads so one workload's garbage is not collected on another's clock. */
export function gc() {
  if (gcFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc')
      gcFn = vm.runInNewContext('gc')
    } catch {
      gcFn = null
    }
  }
  if (gcFn) gcFn()
}

export function median(xs) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** p in [0, 1], nearest-rank on a sorted copy. */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN
  const s = Float64Array.from(xs).sort()
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
}

/** Summary of per-round throughput samples (ops/s). */
export function summarize(samples) {
  let min = Infinity
  let max = -Infinity
  for (const x of samples) {
    if (x < min) min = x
    if (x > max) max = x
  }
  return { median: median(samples), min, max, samples }
}

export function fmtRate(x) {
  if (!Number.isFinite(x)) return '—'
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)}k`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  return x.toFixed(0)
}

export function fmtInt(x) {
  return Math.round(x).toLocaleString('en-US')
}

export function fmtMs(x) {
  return x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`
}

/** A progress line on stderr-free stdout, flushed as it goes. */
export function progress(msg) {
  process.stdout.write(`  · ${msg}\n`)
}
