// Runs the real `islab` binary (dist/cli/main.js) as a child process, building dist first when
// it is missing or older than src/ (`npm install` does not build; `npm pack` does, and `npm start` transpiles into .start/ instead).
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const BIN = path.join(ROOT, 'dist/cli/main.js')

function newestIn(dir: string): number {
  let t = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newestIn(p) : fs.statSync(p).mtimeMs)
  }
  return t
}

/** Builds dist/ once for all test files (a directory made with mkdir is the lock between them). */
export function ensureBuilt(): void {
  const fresh = (): boolean => fs.existsSync(BIN) && fs.statSync(BIN).mtimeMs >= newestIn(path.join(ROOT, 'src'))
  if (fresh()) {
    // A build by test/helpers/builtDist.ts (tsc alone) may not have made the bin executable yet.
    fs.chmodSync(BIN, 0o755)
    return
  }
  const lock = path.join(os.tmpdir(), `islab-build-lock-${Buffer.from(ROOT).toString('hex').slice(-32)}`)
  try {
    fs.mkdirSync(lock)
  } catch {
    const until = Date.now() + 120_000
    while (fs.existsSync(lock) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    return
  }
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
  } finally {
    fs.rmdirSync(lock)
  }
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

const ENV = { ...process.env, ISLAB_PROGRESS: '', ISLAB_DEBUG: '', COLUMNS: '120' }

export function islab(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: opts.input, env: { ...ENV, ...opts.env }, timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Starts `islab` without waiting; `lines()` resolves once stdout has at least n lines. */
export function islabAsync(args: string[]): { child: ChildProcess; out: () => string; err: () => string; lines: (n: number, ms?: number) => Promise<string[]> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: ENV })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const lines = async (n: number, ms = 10_000): Promise<string[]> => {
    const until = Date.now() + ms
    for (;;) {
      const ls = out.split('\n').filter((l) => l !== '')
      if (ls.length >= n) return ls
      if (Date.now() > until) throw new Error(`timed out waiting for ${n} lines; got ${ls.length}:\n${out}\nstderr:\n${err}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  return { child, out: () => out, err: () => err, lines }
}

export function ndjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

export function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.wal$/.test(n))
    .sort()
    .map((n) => path.join(dir, n))
}

/** Flips one bit of a file at `offset` (negative: from the end). */
export function flipByte(file: string, offset: number): void {
  const b = fs.readFileSync(file)
  const at = offset < 0 ? b.length + offset : offset
  b[at] = b[at]! ^ 0x10
  fs.writeFileSync(file, b)
}

/** Name → size and mtime of every file: to show that a command changed nothing. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of fs.readdirSync(dir).sort()) {
    const st = fs.statSync(path.join(dir, n))
    out[n] = `${st.size}@${st.mtimeMs}`
  }
  return out
}
