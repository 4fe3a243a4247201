// islabdb is ESM-only. From CommonJS, `await import('islabdb')` always works; `require('islabdb')`
// loads the ES module where Node can require() one (the "module-sync" condition, Node >= 20.19
// and >= 22.12), and elsewhere throws ERR_REQUIRE_ESM saying what to write instead of npm's
// ERR_PACKAGE_PATH_NOT_EXPORTED. The package is reached by name through node_modules/islabdb,
// a link to this checkout, as a consumer's project would reach it.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT, ensureBuilt } from '../cli/cli.js'
import { tmpDir } from '../helpers/tmpdir.js'

let project = ''

beforeAll(() => {
  ensureBuilt()
  project = tmpDir('islab-cjs-')
  fs.mkdirSync(path.join(project, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(project, 'node_modules/islabdb'), 'dir')
  fs.writeFileSync(path.join(project, 'package.json'), '{ "name": "consumer", "private": true }\n')
}, 180_000)

function cjs(code: string, flags: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const file = path.join(project, `script-${Math.random().toString(36).slice(2)}.cjs`)
  fs.writeFileSync(file, code)
  const r = spawnSync(process.execPath, [...flags, file], { cwd: project, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const canRequireEsm = (process.features as { require_module?: boolean }).require_module === true

describe('islabdb from CommonJS', () => {
  it('loads with await import() (the form the README shows)', () => {
    const r = cjs(`(async () => { const { open } = await import('islabdb'); const db = await open({ durability: 'memory' }); await db.put('k', 1); console.log(db.get('k')); await db.close() })()`)
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('1\n')
  })

  it("require() without require(esm) throws ERR_REQUIRE_ESM showing await import('islabdb')", () => {
    const r = cjs(
      `try { require('islabdb'); console.log('loaded') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`,
      canRequireEsm ? ['--no-experimental-require-module'] : [],
    )
    const err = JSON.parse(r.stdout) as { code: string; message: string }
    expect(err.code).toBe('ERR_REQUIRE_ESM')
    expect(err.message).toContain("await import('islabdb')")
    expect(err.message).toMatch(/islabdb is an ES module/)
  })

  it('require() where Node can require an ES module gives the module itself, the one import gives', () => {
    const r = cjs(
      `let m; try { m = require('islabdb') } catch (e) { console.log(JSON.stringify({ code: e.code })); return }
       import('islabdb').then((i) => console.log(JSON.stringify({ open: typeof m.open, same: m.open === i.open })))`,
    )
    expect(JSON.parse(r.stdout)).toEqual(canRequireEsm ? { open: 'function', same: true } : { code: 'ERR_REQUIRE_ESM' })
  })
})
