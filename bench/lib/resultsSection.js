// A workload that keeps its own results (bench/serve.js, bench/replication.js): its JSON in
// bench/results/, and its section of RESULTS.md between `<!-- name:start -->` and `<!-- name:end -->`
// (added at the end the first time), unless the run was partial.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

export function writeSectionResults(benchDir, name, doc, markdown, { partial = false } = {}) {
  const dir = path.join(benchDir, 'results')
  fs.mkdirSync(dir, { recursive: true })
  const json = path.join(dir, partial ? `${name}-partial.json` : `${name}.json`)
  fs.writeFileSync(json, JSON.stringify(doc, null, 2))
  const written = [json]
  if (!partial) {
    const md = path.join(benchDir, 'RESULTS.md')
    let text = fs.existsSync(md) ? fs.readFileSync(md, 'utf8') : ''
    const section = markdown(doc)
    const re = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`)
    text = re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`
    fs.writeFileSync(md, text)
    written.push(md)
  }
  return written
}

/** The commit measured, and whether src/ had uncommitted changes. */
export function gitDescribe(repoDir) {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoDir, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoDir, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${sha} + uncommitted src changes` : sha
  } catch {
    return '?'
  }
}

export function pick(o, keys) {
  return Object.fromEntries(keys.map((k) => [k, o[k]]))
}
