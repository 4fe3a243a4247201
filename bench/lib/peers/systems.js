// One adapter per system of the peer comparison (bench/README.md, "Peers"). Every adapter gets
// and returns the same JS objects; those whose store keeps bytes (classic-level, SQLite, Redis, the
// Map) encode them with msgpackr configured exactly as IsLabDB configures it, lmdb-js with its own
// default msgpackr encoding. Each adapter holds one store at a time:
//
//   create(dir)                   a fresh, empty store in its bulk/buffered configuration
//   load(order, chunk, key, val)  the natural bulk API over records order[i], then flush(); key(id)
//                                 and val(id) build a fresh key string and value object per call
//   flush()                       make everything written so far durable
//   get(key)                      the value (sync when syncGet, else a promise)
//   update(key, value)            one write in the buffered configuration (promise or undefined)
//   rmw(key)                      read-modify-write of one key (promise or undefined)
//   range(key, count, sink)       read `count` entries from key on, in key order; sink(value) each
//   setDurable()                  switch to the durable configuration
//   durablePut(key, value)        one write that is on disk when its promise resolves
//   close(), reopen(firstKey)     reopen is timed by the caller
//   diskBytes(), rssBytes()
//
// A capability an adapter lacks is a string saying why (`rangeUnsupported`, ...), and the report
// prints that string instead of a number.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Packr } from 'msgpackr'
import { freePort, rawPing } from '../loopback.js'

export const SYSTEMS = ['map', 'islab', 'lmdb', 'level', 'sqlite', 'redis']
export const LABELS = {
  map: 'Map',
  islab: 'IsLabDB',
  lmdb: 'lmdb-js',
  level: 'classic-level',
  sqlite: 'SQLite',
  redis: 'Redis',
}
/** Peers: the systems IsLabDB is compared with (the Map is the in-memory limit, not a peer). */
export const PEERS = ['lmdb', 'level', 'sqlite', 'redis']

function makePackr() {
  return new Packr({ useRecords: false, moreTypes: true, int64AsType: 'bigint' })
}

/** The modification of read-modify-write (YCSB F): a new object with one field changed. */
export function modify(v) {
  return { ...v, score: v.score + 1 }
}

/** Bytes allocated on disk under `dir` (st.blocks, so sparse or preallocated files count as stored). */
export function allocatedBytes(dir, skip = () => false) {
  let total = 0
  const walk = (d) => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name)
      if (skip(p)) continue
      if (ent.isDirectory()) walk(p)
      else if (ent.isFile()) total += fs.statSync(p).blocks * 512
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return total
}

/** VmRSS of a process, in bytes (Linux). */
export function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : NaN
  } catch {
    return NaN
  }
}

// ---------------------------------------------------------------------------------------------

/** The in-memory limit: a Map of { v: the object reads return, b: the msgpack bytes a store must keep }. */
class MapSystem {
  checkpointUnsupported = 'in memory only'
  name = 'map'
  syncGet = true
  rangeUnsupported = 'a Map has no key order'
  durableUnsupported = 'in memory only (the durable limit is k × the fsync rate)'
  reopenUnsupported = 'in memory only'
  diskUnsupported = 'in memory only'
  packr = makePackr()
  async create() {
    this.m = new Map()
  }
  async load(order, chunk, key, val) {
    const { m, packr } = this
    for (let i = 0; i < order.length; i++) {
      const v = val(order[i])
      m.set(key(order[i]), { v, b: packr.pack(v) })
    }
  }
  async flush() {}
  get(key) {
    return this.m.get(key).v
  }
  update(key, value) {
    this.m.set(key, { v: value, b: this.packr.pack(value) })
  }
  rmw(key) {
    const nv = modify(this.m.get(key).v)
    this.m.set(key, { v: nv, b: this.packr.pack(nv) })
  }
  async close() {
    this.m = undefined
  }
  rssBytes() {
    return process.memoryUsage().rss
  }
}

// ---------------------------------------------------------------------------------------------

class IslabSystem {
  name = 'islab'
  syncGet = true
  conflicts = 0
  async init() {
    this.open = (await import('../../../dist/index.js')).open
  }
  get rangeUnsupported() {
    return typeof this.db?.range === 'function' ? undefined : 'not implemented (no db.range in this build)'
  }
  async create(dir) {
    this.dir = dir
    this.db = await this.open({ dir, durability: 'buffered' })
  }
  /** Bulk load as the existing bench does: chunks of puts without awaiting each, Promise.all per chunk. */
  async load(order, chunk, key, val) {
    const db = this.db
    for (let i = 0; i < order.length; i += chunk) {
      const end = Math.min(order.length, i + chunk)
      const ps = new Array(end - i)
      for (let j = i; j < end; j++) ps[j - i] = db.put(key(order[j]), val(order[j]))
      await Promise.all(ps)
    }
    await this.flush()
  }
  flush() {
    return this.db.flush()
  }
  get(key) {
    return this.db.get(key)
  }
  update(key, value) {
    return this.db.put(key, value)
  }
  /** getEntry + put with ifSeq; on a conflict (another client wrote the key meanwhile) re-read and retry. */
  async rmw(key) {
    const db = this.db
    for (;;) {
      const e = db.getEntry(key)
      try {
        await db.put(key, modify(e.value), { ifSeq: e.seq })
        return
      } catch (err) {
        if (err?.code !== 'ISLAB_CONFLICT') throw err
        this.conflicts++
      }
    }
  }
  /** db.range({ gte, limit }).entries(): a synchronous walk of an in-memory ordered snapshot. */
  range(key, count, sink) {
    let c = 0
    for (const e of this.db.range({ gte: key, limit: count }).entries()) {
      sink(e[1])
      c++
    }
    return c
  }
  async setDurable() {
    await this.db.close()
    this.db = await this.open({ dir: this.dir, durability: 'sync' })
  }
  durablePut(key, value) {
    return this.db.put(key, value)
  }
  async close() {
    await this.db?.close()
    this.db = undefined
  }
  async reopen(firstKey) {
    this.db = await this.open({ dir: this.dir, durability: 'buffered' })
    this.db.get(firstKey)
    const r = this.db.stats().recovery
    return { recovery: r }
  }
  async checkpoint() {
    return this.db.checkpoint()
  }
  diskBytes() {
    return allocatedBytes(this.dir)
  }
  rssBytes() {
    return process.memoryUsage().rss
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * lmdb-js with its defaults (msgpack encoding, overlappingSync): a put's promise resolves when its
 * batch transaction has committed, `db.flushed` when that commit is on disk.
 */
class LmdbSystem {
  checkpointUnsupported = 'no separate checkpoint: every commit updates the B+ tree in place'
  name = 'lmdb'
  syncGet = true
  async init() {
    this.lmdbOpen = (await import('lmdb')).open
  }
  async create(dir) {
    this.dir = dir
    this.db = this.lmdbOpen({ path: dir })
  }
  /** Every put issued without awaiting (lmdb-js batches them into transactions), then the last and flushed. */
  async load(order, chunk, key, val) {
    const db = this.db
    let last
    for (let i = 0; i < order.length; i++) last = db.put(key(order[i]), val(order[i]))
    await last
    await this.flush()
  }
  async flush() {
    await this.db.flushed
  }
  get(key) {
    return this.db.get(key)
  }
  update(key, value) {
    return this.db.put(key, value)
  }
  /** An asynchronous transaction callback: runs atomically inside the next batch transaction. */
  rmw(key) {
    const db = this.db
    return db.transaction(() => {
      db.put(key, modify(db.get(key)))
    })
  }
  range(key, count, sink) {
    let c = 0
    for (const { value } of this.db.getRange({ start: key, limit: count })) {
      sink(value)
      c++
    }
    return c
  }
  async setDurable() {}
  /** Durable: await the commit, then db.flushed (the fdatasync of that commit, shared by the batch). */
  async durablePut(key, value) {
    await this.db.put(key, value)
    await this.db.flushed
  }
  async close() {
    await this.db?.close()
    this.db = undefined
  }
  async reopen(firstKey) {
    this.db = this.lmdbOpen({ path: this.dir })
    this.db.get(firstKey)
    return {}
  }
  diskBytes() {
    return allocatedBytes(this.dir, (p) => p.endsWith('-lock') || p.endsWith('lock.mdb'))
  }
  rssBytes() {
    return process.memoryUsage().rss
  }
}

// ---------------------------------------------------------------------------------------------

/** classic-level (LevelDB) with utf8 keys and a msgpack value encoding; its defaults otherwise. */
class LevelSystem {
  checkpointUnsupported = 'no separate checkpoint: LevelDB compacts its log into tables by itself'
  name = 'level'
  syncGet = true
  rmwNote = 'getSync + put: LevelDB has no transactions, so not atomic'
  async init() {
    this.ClassicLevel = (await import('classic-level')).ClassicLevel
    const packr = makePackr()
    this.encoding = {
      name: 'islab-bench-msgpack',
      format: 'buffer',
      encode: (v) => packr.pack(v),
      decode: (b) => packr.unpack(b),
    }
  }
  async openDb() {
    const db = new this.ClassicLevel(this.dir, { keyEncoding: 'utf8', valueEncoding: this.encoding })
    await db.open()
    return db
  }
  async create(dir) {
    this.dir = dir
    this.db = await this.openDb()
  }
  /** db.batch() of `chunk` puts at a time, each awaited. */
  async load(order, chunk, key, val) {
    const db = this.db
    for (let i = 0; i < order.length; i += chunk) {
      const end = Math.min(order.length, i + chunk)
      const ops = new Array(end - i)
      for (let j = i; j < end; j++) ops[j - i] = { type: 'put', key: key(order[j]), value: val(order[j]) }
      await db.batch(ops)
    }
    this.lastKey = key(order[order.length - 1])
    this.lastValue = val(order[order.length - 1])
    await this.flush()
  }
  /** LevelDB has no flush call: one write with { sync: true } fsyncs its log, and with it every write before. */
  flush() {
    return this.db.put(this.lastKey, this.lastValue, { sync: true })
  }
  /** getSync: abstract-level 3's synchronous read ("can be significantly faster than db.get()"). */
  get(key) {
    return this.db.getSync(key)
  }
  update(key, value) {
    return this.db.put(key, value)
  }
  rmw(key) {
    return this.db.put(key, modify(this.db.getSync(key)))
  }
  async range(key, count, sink) {
    const it = this.db.iterator({ gte: key, limit: count })
    try {
      const entries = await it.nextv(count)
      for (let i = 0; i < entries.length; i++) sink(entries[i][1])
      return entries.length
    } finally {
      await it.close()
    }
  }
  async setDurable() {}
  durablePut(key, value) {
    return this.db.put(key, value, { sync: true })
  }
  async close() {
    await this.db?.close()
    this.db = undefined
  }
  async reopen(firstKey) {
    this.db = await this.openDb()
    this.db.getSync(firstKey)
    return {}
  }
  diskBytes() {
    return allocatedBytes(this.dir, (p) => path.basename(p) === 'LOCK')
  }
  rssBytes() {
    return process.memoryUsage().rss
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * better-sqlite3: one table `kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID`, WAL journal,
 * synchronous=NORMAL when buffered (commits are not fsynced; WAL checkpoints are) and FULL when
 * durable (every commit fsyncs the WAL). better-sqlite3 is synchronous: one writer at a time,
 * and a write blocks the event loop for its fsync.
 */
class SqliteSystem {
  checkpointUnsupported = 'no separate checkpoint call measured (a WAL checkpoint runs by itself every 1000 pages)'
  name = 'sqlite'
  syncGet = true
  durableNote = 'synchronous API: one commit (one fsync) at a time whatever the number of writers'
  async init() {
    this.Database = (await import('better-sqlite3')).default
    this.packr = makePackr()
  }
  openDb(synchronous) {
    const db = new this.Database(path.join(this.dir, 'kv.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    db.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID')
    this.getStmt = db.prepare('SELECT v FROM kv WHERE k = ?').pluck()
    this.putStmt = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)')
    this.rangeStmt = db.prepare('SELECT v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').pluck()
    const packr = this.packr
    const { getStmt, putStmt } = this
    this.loadTx = db.transaction((order, from, to, key, val) => {
      for (let i = from; i < to; i++) putStmt.run(key(order[i]), packr.pack(val(order[i])))
    })
    this.rmwTx = db.transaction((key) => {
      putStmt.run(key, packr.pack(modify(packr.unpack(getStmt.get(key)))))
    })
    return db
  }
  async create(dir) {
    this.dir = dir
    fs.mkdirSync(dir, { recursive: true })
    this.db = this.openDb('NORMAL')
  }
  /** One transaction of `chunk` prepared inserts at a time. */
  async load(order, chunk, key, val) {
    for (let i = 0; i < order.length; i += chunk) this.loadTx(order, i, Math.min(order.length, i + chunk), key, val)
    this.lastKey = key(order[order.length - 1])
    this.lastValue = val(order[order.length - 1])
    await this.flush()
  }
  /** One commit with synchronous=FULL fsyncs the WAL, and with it every commit before. */
  async flush() {
    this.db.pragma('synchronous = FULL')
    this.putStmt.run(this.lastKey, this.packr.pack(this.lastValue))
    this.db.pragma('synchronous = NORMAL')
  }
  get(key) {
    return this.packr.unpack(this.getStmt.get(key))
  }
  update(key, value) {
    this.putStmt.run(key, this.packr.pack(value))
  }
  rmw(key) {
    this.rmwTx(key)
  }
  range(key, count, sink) {
    const rows = this.rangeStmt.all(key, count)
    for (let i = 0; i < rows.length; i++) sink(this.packr.unpack(rows[i]))
    return rows.length
  }
  async setDurable() {
    this.db.pragma('synchronous = FULL')
  }
  durablePut(key, value) {
    this.putStmt.run(key, this.packr.pack(value))
  }
  async close() {
    this.db?.close()
    this.db = undefined
  }
  async reopen(firstKey) {
    this.db = this.openDb('NORMAL')
    this.get(firstKey)
    return {}
  }
  diskBytes() {
    return allocatedBytes(this.dir)
  }
  rssBytes() {
    return process.memoryUsage().rss
  }
}

// ---------------------------------------------------------------------------------------------


export function redisServerPath() {
  if (process.env.REDIS_SERVER) return fs.existsSync(process.env.REDIS_SERVER) ? process.env.REDIS_SERVER : undefined
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Redis with the append-only file: its own redis-server on 127.0.0.1 and a random port, in a temp
 * dir, `appendonly yes`, `appendfsync everysec` (buffered) or `always` (durable), no RDB
 * snapshots, no automatic AOF rewrite (so reopening replays the log of the same writes). One
 * ioredis connection with auto-pipelining: commands issued in one event-loop turn go out in one
 * write.
 */
class RedisSystem {
  checkpointUnsupported = 'not measured (its equivalent, BGREWRITEAOF, is not run)'
  name = 'redis'
  syncGet = false
  rangeUnsupported = 'no ordered key iteration (SCAN is unordered; sorted sets are another data model)'
  /** Reopen restarts redis-server: a fresh process already, so the child times it itself. */
  reopenInProcess = true
  rmwNote = 'GET + SET, not atomic (WATCH needs a connection per client)'
  constructor(notify) {
    this.notify = notify
  }
  async init() {
    this.bin = redisServerPath()
    if (this.bin === undefined) throw new Error('redis-server not found')
    this.Redis = (await import('ioredis')).Redis
    this.packr = makePackr()
    this.version = execFileSync(this.bin, ['--version'], { encoding: 'utf8' }).trim()
  }
  async startServer() {
    const logDir = `${this.dir}-log`
    fs.mkdirSync(this.dir, { recursive: true })
    fs.mkdirSync(logDir, { recursive: true })
    this.logFile = path.join(logDir, 'redis.log')
    fs.writeFileSync(this.logFile, '')
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--auto-aof-rewrite-percentage', '0',
      '--daemonize', 'no',
      '--logfile', this.logFile,
    ]
    const t0 = performance.now()
    const proc = spawn(this.bin, args, { stdio: 'ignore' })
    this.proc = proc
    this.exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.once('error', () => {})
    this.notify({ type: 'pid', pid: proc.pid })
    // Ready = answers PING with +PONG on a fresh connection (while it loads the AOF: -LOADING).
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${fs.readFileSync(this.logFile, 'utf8').slice(-500)}`)
      if ((await rawPing(this.port)) === '+PONG') break
      await sleep(1)
      if (performance.now() - t0 > 60_000) throw new Error('redis-server did not become ready in 60 s')
    }
    const readyMs = performance.now() - t0
    // No reconnecting: the server only goes away when we shut it down.
    this.client = new this.Redis({ host: '127.0.0.1', port: this.port, enableAutoPipelining: true, retryStrategy: () => null })
    this.client.on('error', () => {})
    await this.client.ping()
    return readyMs
  }
  async create(dir) {
    this.dir = dir
    this.port = await freePort()
    await this.startServer()
  }
  /** A pipeline of `chunk` SETs at a time, each awaited. */
  async load(order, chunk, key, val) {
    const { client, packr } = this
    for (let i = 0; i < order.length; i += chunk) {
      const end = Math.min(order.length, i + chunk)
      const p = client.pipeline()
      for (let j = i; j < end; j++) p.set(key(order[j]), packr.pack(val(order[j])))
      const res = await p.exec()
      for (const [err] of res) if (err) throw err
    }
    this.lastKey = key(order[order.length - 1])
    this.lastValue = val(order[order.length - 1])
    await this.flush()
  }
  /** No fsync command: one SET under appendfsync always fsyncs the AOF, and with it every write before. */
  async flush() {
    await this.client.config('SET', 'appendfsync', 'always')
    await this.client.set(this.lastKey, this.packr.pack(this.lastValue))
    await this.client.config('SET', 'appendfsync', 'everysec')
  }
  get(key) {
    return this.client.getBuffer(key).then((b) => this.packr.unpack(b))
  }
  /** Untimed reads of many keys (the warm pass): one MGET. */
  async getMany(keys) {
    const bufs = await this.client.mgetBuffer(keys)
    return bufs.map((b) => this.packr.unpack(b))
  }
  update(key, value) {
    return this.client.set(key, this.packr.pack(value))
  }
  async rmw(key) {
    const v = this.packr.unpack(await this.client.getBuffer(key))
    await this.client.set(key, this.packr.pack(modify(v)))
  }
  async setDurable() {
    await this.client.config('SET', 'appendfsync', 'always')
  }
  durablePut(key, value) {
    return this.client.set(key, this.packr.pack(value))
  }
  async close() {
    if (this.proc === undefined) return
    try {
      // SHUTDOWN fsyncs the AOF and exits; the connection drops, so its promise rejects.
      await this.client.call('SHUTDOWN').catch(() => {})
    } finally {
      this.client.disconnect()
      await Promise.race([this.exited, sleep(10_000)])
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL')
      this.proc = undefined
    }
  }
  /** Restart on the same dir and port: ready when it answers PING after loading the AOF. */
  async reopen(firstKey) {
    const readyMs = await this.startServer()
    await this.get(firstKey)
    const m = /DB loaded from append only file: ([\d.]+) seconds/.exec(fs.readFileSync(this.logFile, 'utf8'))
    return { serverReadyMs: readyMs, aofLoadMs: m ? Number(m[1]) * 1000 : undefined }
  }
  diskBytes() {
    return allocatedBytes(this.dir)
  }
  rssBytes() {
    return this.proc ? rssOf(this.proc.pid) : NaN
  }
  kill() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL')
  }
}

export function makeSystem(name, notify) {
  switch (name) {
    case 'map':
      return new MapSystem()
    case 'islab':
      return new IslabSystem()
    case 'lmdb':
      return new LmdbSystem()
    case 'level':
      return new LevelSystem()
    case 'sqlite':
      return new SqliteSystem()
    case 'redis':
      return new RedisSystem(notify)
    default:
      throw new Error(`unknown system ${name}`)
  }
}
