#!/usr/bin/env node
// The peer benchmark's own install, kept out of IsLabDB's: lmdb-js, classic-level, better-sqlite3
// (compiled from source here: about 2 minutes on 2 cores) and ioredis live in bench/package.json,
// so a developer's `npm install` at the root stays small and `npm test` needs none of them.
// `npm run bench` calls ensureBenchDeps() before a run that includes the peers; `node bench/setup.js`
// does the same by hand (and installs redis-server when it is missing, see ensureRedis).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))

/** The bench package's dependencies that `require.resolve` from bench/ cannot find. */
export function missingBenchDeps() {
  const pkg = JSON.parse(fs.readFileSync(path.join(BENCH_DIR, 'package.json'), 'utf8'))
  const req = createRequire(path.join(BENCH_DIR, 'package.json'))
  const missing = []
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    // Only bench/node_modules counts: a copy left in the root's node_modules by an older install
    // would resolve too, and then the bench would not run what bench/package-lock.json pins.
    const own = path.join(BENCH_DIR, 'node_modules', name, 'package.json')
    if (!fs.existsSync(own)) {
      missing.push(name)
      continue
    }
    try {
      req.resolve(name)
    } catch {
      missing.push(name)
    }
  }
  return missing
}

/** `npm ci` in bench/ (from its lock file) when any of its dependencies is missing. Throws if it fails. */
export function ensureBenchDeps(log = console.log) {
  const missing = missingBenchDeps()
  if (missing.length === 0) return false
  log(`bench: installing the peer benchmark's dependencies (${missing.join(', ')}) with \`npm ci\` in bench/ — better-sqlite3 compiles from source, about 2 minutes`)
  const hasLock = fs.existsSync(path.join(BENCH_DIR, 'package-lock.json'))
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const r = spawnSync(npm, [hasLock ? 'ci' : 'install', '--no-audit', '--no-fund'], { cwd: BENCH_DIR, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`npm ${hasLock ? 'ci' : 'install'} in bench/ failed (${r.status ?? r.signal})`)
  return true
}

function onPath(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() !== ''
  } catch {
    return false
  }
}

/**
 * redis-server for the Redis column, installed with bench/setup-redis.sh (apt-get) when missing.
 * BENCH_SETUP_REDIS=0 never installs; =1 installs also when that needs sudo; unset installs only
 * when it needs no password (running as root) and apt-get exists, else prints how and the run
 * skips Redis (the report says so).
 */
export function ensureRedis(log = console.log) {
  if (process.env.REDIS_SERVER || onPath('redis-server')) return
  const want = process.env.BENCH_SETUP_REDIS
  if (want === '0') return
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (want !== '1' && !(isRoot && onPath('apt-get'))) {
    log('bench: redis-server is missing; run bench/setup-redis.sh (apt-get, needs sudo) or BENCH_SETUP_REDIS=1 npm run bench; Redis is skipped this run')
    return
  }
  log('bench: redis-server is missing: running bench/setup-redis.sh (apt-get install redis-server)')
  const r = spawnSync('bash', [path.join(BENCH_DIR, 'setup-redis.sh')], { stdio: 'inherit' })
  if (r.status !== 0) log(`bench/setup-redis.sh failed (${r.status ?? r.signal}); Redis will be skipped`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (!ensureBenchDeps()) console.log('bench: the peer benchmark dependencies are installed')
    ensureRedis()
  } catch (e) {
    console.error(e.message)
    process.exitCode = 1
  }
}
