// The built dist/ for tests that run the engine in a child process (a real SIGKILL needs a real
// process), here and in properties/realCrash.test.ts: rebuild dist/ when src/ is newer,
// then hand out a private copy, checked to import, so a rebuild by someone else meanwhile
// cannot break a child's imports.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { tmpDir } from './tmpdir.js'

const root = path.resolve(new URL('../..', import.meta.url).pathname)

function newestTs(dir: string): number {
  let t = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newestTs(p) : e.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0)
  }
  return t
}

function ensureBuilt(): void {
  const built = path.join(root, 'dist/index.js')
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestTs(path.join(root, 'src'))) return
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' })
  } catch (err) {
    // tsc emits despite type errors (someone mid-edit); only a missing build is fatal.
    if (!fs.existsSync(built)) throw err
  }
  // As npm run build's postbuild does: whichever test builds dist/ first, the bin is executable
  // (test/package/contents.test.ts checks the packed mode).
  const bin = path.join(root, 'dist/cli/main.js')
  if (fs.existsSync(bin)) fs.chmodSync(bin, 0o755)
}

/** The path of index.js in a fresh, importable copy of the current build. */
export function builtDistCopy(): string {
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    ensureBuilt()
    const dir = tmpDir('islab-dist-')
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n')
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
    const entry = path.join(dir, 'dist', 'index.js')
    try {
      execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(entry).href)}); if (typeof m.open !== 'function') process.exit(1)`], {
        stdio: 'pipe',
      })
      return entry
    } catch (err) {
      lastError = err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000)
    }
  }
  throw new Error(`could not get an importable copy of dist/: ${String(lastError)}`)
}
