// Numbers, sizes, times and tables for people (the --json forms print raw numbers instead).

/** 1234567 → "1,234,567" (without Intl, whose first use costs ~10 ms of a command's startup). */
export function fmtInt(n: number): string {
  const r = Math.round(n)
  if (!Number.isFinite(r)) return String(r)
  const digits = String(Math.abs(r))
  let out = ''
  for (let i = digits.length; i > 0; i -= 3) out = (i > 3 ? ',' : '') + digits.slice(Math.max(0, i - 3), i) + out
  return r < 0 ? `-${out}` : out
}

/** 1234567 → "1.23M"; for rates. */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return '?'
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`
  return fmtInt(n)
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?'
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`
}

/** "3 min ago", "2 days ago". */
export function fmtAge(time: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - time) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${(s / 3600).toFixed(1)} h ago`
  return `${(s / 86400).toFixed(1)} days ago`
}

export function fmtTime(time: number | undefined): string {
  if (time === undefined) return '-'
  const d = new Date(time)
  return Number.isNaN(d.getTime()) ? String(time) : d.toISOString()
}

export function seqRange(first: number, last: number): string {
  if (last < first) return 'no records'
  return first === last ? `seq ${fmtInt(first)}` : `seqs ${fmtInt(first)}–${fmtInt(last)}`
}

/** Left-aligned columns; `right` lists the columns to align right (numbers). */
export function table(rows: string[][], right: number[] = []): string[] {
  const widths: number[] = []
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)))
  return rows.map((r) =>
    r
      .map((c, i) => {
        const pad = widths[i]! - [...c].length
        if (i === r.length - 1 && !right.includes(i)) return c
        return right.includes(i) ? ' '.repeat(pad) + c : c + ' '.repeat(pad)
      })
      .join('  ')
      .trimEnd(),
  )
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${fmtInt(n)} ${n === 1 ? one : many}`
}
