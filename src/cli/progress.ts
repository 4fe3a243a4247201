// The progress bar of long commands: one line on stderr, redrawn at most ten times a second,
// with the share done, the rate and an ETA. Shown only when stderr is a terminal and stdout is
// not a pipe (`islab dump d | jq` must show jq's output alone); otherwise every call is a no-op.
import { fmtBytes, fmtCount, fmtDuration } from './format.js'
import { isTerminal, progressLine, say, stdoutIsPipe } from './output.js'

export function progressWanted(): boolean {
  if (process.env.ISLAB_PROGRESS === '0') return false
  if (process.env.ISLAB_PROGRESS === '1') return true
  return isTerminal(2) && !stdoutIsPipe() && process.env.TERM !== 'dumb'
}

export interface ProgressOptions {
  label: string
  /** Total bytes of work, when known (a stream from stdin has none). */
  totalBytes: number | undefined
  /** What `items` counts, for the rate: 'events', 'lines', 'keys'. */
  itemName: string
}

export class Progress {
  private readonly started = performance.now()
  private lastDraw = 0
  private bytes = 0
  private items = 0

  private constructor(private readonly o: ProgressOptions) {}

  /** A bar, or a silent stand-in when no bar is wanted. */
  static start(o: ProgressOptions): Progress {
    return progressWanted() ? new Progress(o) : SILENT
  }

  /** Reports work done so far; cheap enough to call every few thousand items. */
  update(bytes: number, items: number): void {
    this.bytes = bytes
    this.items = items
    const now = performance.now()
    if (now - this.lastDraw < 100) return
    this.lastDraw = now
    this.draw(now)
  }

  /**
   * Removes the bar; with `summary`, a bar that was shown leaves that line in its place (with
   * the time taken), so a long command on a terminal ends saying what it did.
   */
  finish(summary?: string): void {
    const shown = progressLine.shown
    progressLine.clear()
    if (shown && summary !== undefined) say(`${summary} in ${((performance.now() - this.started) / 1000).toFixed(1)} s`)
  }

  private draw(now: number): void {
    const secs = (now - this.started) / 1000
    if (secs < 0.3) return // quick commands never flash a bar
    const total = this.o.totalBytes
    const rate = `${fmtCount(this.items / secs)} ${this.o.itemName}/s`
    let text: string
    if (total !== undefined && total > 0) {
      const share = Math.min(1, this.bytes / total)
      const width = 24
      const full = Math.round(share * width)
      const bar = `${'█'.repeat(full)}${'░'.repeat(width - full)}`
      const eta = share > 0 ? fmtDuration((secs / share) * (1 - share) * 1000) : '?'
      text = `${this.o.label} ${bar} ${(share * 100).toFixed(0).padStart(3)}%  ${fmtBytes(this.bytes)}/${fmtBytes(total)}  ${rate}  ETA ${eta}`
    } else {
      text = `${this.o.label} ${fmtCount(this.items)} ${this.o.itemName}, ${fmtBytes(this.bytes)}  ${rate}`
    }
    progressLine.show(text)
  }
}

const SILENT = Object.assign(Object.create(Progress.prototype) as Progress, {
  update: () => undefined,
  finish: () => undefined,
})
