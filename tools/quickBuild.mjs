// `npm start`'s build: src/**/*.ts transpiled file by file to .start/ (JavaScript only, no type
// check, no declarations), so a fresh clone runs the demo seconds after `npm install`. The
// package's build (`npm run build`, tsc with types and declarations, into dist/) and the type
// check in `npm test` are unchanged; the sources are written to compile one file at a time
// (tsc --isolatedModules reports nothing). A file is transpiled again only when it changed.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const src = path.join(root, 'src')
const out = path.join(root, '.start')
const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, isolatedModules: true, esModuleInterop: true }

let transpiled = 0
function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walk(p)
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const target = path.join(out, path.relative(src, p)).replace(/\.ts$/, '.js')
      if (fs.existsSync(target) && fs.statSync(target).mtimeMs >= fs.statSync(p).mtimeMs) continue
      const { outputText, diagnostics } = ts.transpileModule(fs.readFileSync(p, 'utf8'), { compilerOptions: options, fileName: p, reportDiagnostics: true })
      if (diagnostics?.length) {
        console.error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }))
        process.exit(1)
      }
      fs.mkdirSync(path.dirname(target), { recursive: true })
      fs.writeFileSync(target, outputText)
      transpiled++
    }
  }
}
walk(src)
if (transpiled > 0) console.log(`transpiled ${transpiled} files to .start/`)
