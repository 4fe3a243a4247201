// `npm start` runs the demo from tools/quickBuild.mjs's output (.start/): every source file
// transpiled alone, no type check. This checks that such a build loads and works, so the
// README's first command keeps working when a source file stops compiling in isolation.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../cli/cli.js'

describe("npm start's build", () => {
  it('transpiles src/ into .start/, and the result opens a database, writes and reads', async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'tools/quickBuild.mjs')], { cwd: ROOT, stdio: 'pipe' })
    const mod = (await import(pathToFileURL(path.join(ROOT, '.start/index.js')).href)) as typeof import('../../src/index.js')
    const db = await mod.open({ durability: 'memory' })
    await db.put('k', { v: 1 })
    expect(db.get('k')).toEqual({ v: 1 })
    await db.close()
    for (const face of ['level', 'server', 'replication']) {
      await expect(import(pathToFileURL(path.join(ROOT, `.start/${face}/index.js`)).href), face).resolves.toBeDefined()
    }
  }, 120_000)
})
