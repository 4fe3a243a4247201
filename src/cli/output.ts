// Where the CLI's output goes. The log is read synchronously, so output is written
// synchronously too, in large chunks: a slow consumer (`| less`, `| jq`) then holds the reader
// back instead of piling output up in memory, and a closed pipe (`| head`) ends the command
// quietly. process.stdout is never touched: creating it would make a pipe non-blocking.
import fs from 'node:fs'
import tty from 'node:tty'
import { GrowBuffer } from '../wal/recordCodec.js'

/** The reader of our output went away (EPIPE): stop, successfully. */
export class OutputClosed extends Error {}

const FLUSH_AT = 1 << 20
const sleeper = new Int32Array(new SharedArrayBuffer(4))

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0
  while (off < b.length) {
    try {
      off += fs.writeSync(fd, b, off, b.length - off)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EAGAIN') {
        // Someone made the descriptor non-blocking: wait for the reader a little, synchronously.
        Atomics.wait(sleeper, 0, 0, 2)
        continue
      }
      if (code === 'EPIPE') throw new OutputClosed()
      throw err
    }
  }
}

/** Where formatted bytes go: append to `out`, then call maybeFlush. */
export interface ByteSink {
  readonly out: GrowBuffer
  maybeFlush(): void
  line(text?: string): void
}

/** A buffered, synchronous writer to a file descriptor. */
export class Sink implements ByteSink {
  readonly out = new GrowBuffer(FLUSH_AT + (1 << 16))

  constructor(readonly fd: number) {}

  /** Appends text; flushes when enough has gathered. */
  write(text: string): void {
    this.out.ensure(text.length * 3)
    this.out.pos += this.out.buf.write(text, this.out.pos, 'utf8')
    this.maybeFlush()
  }

  line(text = ''): void {
    this.write(`${text}\n`)
  }

  /** Call after appending to `out` directly. */
  maybeFlush(): void {
    if (this.out.pos >= FLUSH_AT) this.flush()
  }

  flush(): void {
    if (this.out.pos === 0) return
    writeAll(this.fd, this.out.view())
    this.out.reset()
  }

  /** Writes bytes formatted elsewhere (a worker), after what is buffered. */
  writeBytes(b: Uint8Array): void {
    this.flush()
    writeAll(this.fd, b)
  }
}

export const stdout = new Sink(1)

/** A message for the person at the terminal (stderr), never mixed into the data on stdout. */
export function say(text: string): void {
  progressLine.clear()
  try {
    stdout.flush() // keep the order of what was printed, when both go to the terminal
  } catch (err) {
    if (!(err instanceof OutputClosed)) throw err
  }
  try {
    writeAll(2, Buffer.from(`${text}\n`))
  } catch (err) {
    if (!(err instanceof OutputClosed)) throw err
  }
}

/** The one transient line on stderr (the progress bar), cleared before anything else is printed. */
export const progressLine = {
  shown: false,
  show(text: string): void {
    writeAll(2, Buffer.from(`\r${text}\x1b[K`))
    this.shown = true
  },
  clear(): void {
    if (!this.shown) return
    this.shown = false
    writeAll(2, Buffer.from('\r\x1b[K'))
  },
}

export function isTerminal(fd: number): boolean {
  return tty.isatty(fd)
}

/** True when stdout goes into a pipe or socket: then nothing but the data is printed. */
export function stdoutIsPipe(): boolean {
  try {
    const st = fs.fstatSync(1)
    return st.isFIFO() || st.isSocket()
  } catch {
    return false
  }
}

export function terminalColumns(): number {
  const env = Number(process.env.COLUMNS)
  if (Number.isInteger(env) && env > 20) return env
  if (isTerminal(1)) return (process.stderr.columns ?? 0) > 20 ? process.stderr.columns : 100
  return 100
}
