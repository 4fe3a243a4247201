// The level face beyond abstract-level's suite: how it meets the native API (keys, values,
// order, events), sublevels with level-read-stream, and what its snapshots pin.
import fs from 'node:fs'
import path from 'node:path'
import { EntryStream } from 'level-read-stream'
import { describe, expect, it, vi } from 'vitest'
import { open } from '../../src/index.js'
import type { Database } from '../../src/index.js'
import { IslabLevel } from '../../src/level/index.js'
import { setSliceMs } from '../../src/io/timeSlice.js'
import type { MemoryState } from '../../src/state/memoryState.js'
import { OrderedIndex } from '../../src/state/orderedIndex.js'
import { tmpDir } from '../helpers/tmpdir.js'

/** Versions the core keeps for open snapshots (internal: what snapshots pin). */
function retained(db: Database): number {
  return (db as unknown as { state: MemoryState }).state.retainedVersions
}

async function memoryLevel<K = string, V = string>(options: object = {}): Promise<IslabLevel<K, V>> {
  const level = new IslabLevel<K, V>(tmpDir(), { durability: 'memory', ...options })
  await level.open()
  return level
}

describe('IslabLevel', () => {
  it('opens IsLabDB in the location with open() options passed through, and reopens what it wrote', async () => {
    const dir = path.join(tmpDir(), 'db')
    const level = new IslabLevel(dir, { durability: 'sync', physics: false })
    await level.put('a', '1')
    expect(level.supports.permanence).toBe(true)
    expect(level.db.options.durability).toBe('sync')
    await level.close()
    expect(fs.readdirSync(dir).some((f) => f.endsWith('.wal'))).toBe(true)
    const again = new IslabLevel(dir)
    expect(await again.get('a')).toBe('1')
    await again.close()
    const mem = await memoryLevel()
    expect(mem.supports.permanence).toBe(false)
    await mem.close()
  })

  it('streams a sublevel with level-read-stream, in order, without the parent keys', async () => {
    const level = await memoryLevel()
    const users = level.sublevel<string, { name: string }>('users', { valueEncoding: 'json' })
    await level.put('top', 'x')
    await users.batch([
      { type: 'put', key: 'bob', value: { name: 'Bob' } },
      { type: 'put', key: 'alice', value: { name: 'Alice' } },
      { type: 'put', key: 'carol', value: { name: 'Carol' } },
    ])
    const rows: { key: string; value: { name: string } }[] = []
    for await (const row of new EntryStream(users, { gte: 'b' })) rows.push(row as { key: string; value: { name: string } })
    expect(rows).toEqual([
      { key: 'bob', value: { name: 'Bob' } },
      { key: 'carol', value: { name: 'Carol' } },
    ])
    // The sublevel's keys carry its prefix natively; its JSON values are strings there.
    expect(level.db.get('!users!alice')).toBe('{"name":"Alice"}')
    expect(await level.keys().all()).toEqual(['!users!alice', '!users!bob', '!users!carol', 'top'])
    await level.close()
  })

  it('orders keys by UTF-16 code units, as native range() does, not by UTF-8 bytes as LevelDB', async () => {
    const level = await memoryLevel()
    const keys = ['\uFFFF', '\u{10000}', 'a', '\uE000']
    for (const k of keys) await level.put(k, k)
    const order = await level.keys().all()
    // Bytes would give a, U+E000 (ee 80 80), U+FFFF (ef bf bf), U+10000 (f0 90 80 80).
    expect(order).toEqual(['a', '\u{10000}', '\uE000', '\uFFFF'])
    expect(order).toEqual([...keys].sort())
    expect(Array.from(level.db.range().entries(), ([k]) => k)).toEqual(order)
    // Buffer keys are the same keys: iterating as buffers keeps the same order.
    const asBytes = await level.keys({ keyEncoding: 'buffer' }).all()
    expect(asBytes.map((b) => Buffer.from(b as unknown as Buffer).toString('utf8'))).toEqual(order)
    await level.close()
  })

  it('maps the empty key, U+0000 and bytes that are not UTF-8 onto native keys one-to-one, keeping order', async () => {
    const level = await memoryLevel<string | Uint8Array>()
    await level.put('', 'empty')
    await level.put('\0', 'nul')
    await level.put('a\0b', 'inner nul')
    await level.put('a', 'a')
    await level.put(Buffer.from([0x61, 0x80]), 'a + 0x80', { keyEncoding: 'buffer' })
    await level.put(Buffer.from([0xc0]), '0xc0', { keyEncoding: 'buffer' })
    await level.put(Buffer.from('é'), 'e acute', { keyEncoding: 'buffer' })
    // Native keys: '' is '\0', every U+0000 is doubled, a byte outside UTF-8 is '\0' + that code.
    expect(Array.from(level.db.range().entries(), ([k]) => k)).toEqual(['\0', '\0\0', '\0\u00c0', 'a', 'a\0\0b', 'a\0\u0080', 'é'])
    expect(level.db.get('é')).toBe('e acute')
    expect(await level.get('é')).toBe('e acute')
    expect(await level.get('')).toBe('empty')
    expect(await level.get(Buffer.from([0x61, 0x80]), { keyEncoding: 'buffer' })).toBe('a + 0x80')
    const keys = await level.keys({ keyEncoding: 'buffer' }).all()
    expect(keys.map((k) => Buffer.from(k as Uint8Array).toString('hex'))).toEqual(['', '00', 'c0', '61', '610062', '6180', 'c3a9'])
    // A native key the map never makes is not a level key: the face skips it.
    await level.db.put('\0x', 'foreign')
    expect(await level.keys().all()).toHaveLength(7)
    await level.clear()
    expect(Array.from(level.db.range().entries(), ([k]) => k)).toEqual(['\0x'])
    await level.close()
  })

  it('stores utf8 values as strings, buffer values as Buffers and view values as Uint8Arrays, as native reads see them', async () => {
    const level = await memoryLevel()
    await level.put('s', 'text')
    await level.put('b', Buffer.from([0, 0x80, 0xff]) as unknown as string, { valueEncoding: 'buffer' })
    await level.put('v', Uint8Array.of(1, 2) as unknown as string, { valueEncoding: 'view' })
    await level.put('j', { a: 1 } as unknown as string, { valueEncoding: 'json' })
    expect(level.db.get('s')).toBe('text')
    expect(level.db.get('b')).toEqual(Buffer.from([0, 0x80, 0xff]))
    expect(Buffer.isBuffer(level.db.get('b'))).toBe(true)
    expect(level.db.get('v')).toEqual(Uint8Array.of(1, 2))
    expect(Buffer.isBuffer(level.db.get('v'))).toBe(false)
    expect(level.db.get('j')).toBe('{"a":1}')
    await level.close()
  })

  it('reads native values: strings and bytes as they are, anything else as its JSON text', async () => {
    const level = await memoryLevel()
    const db = level.db
    await db.put('obj', { a: [1, 'x'], d: new Date(0) })
    await db.put('num', 42)
    await db.put('str', 'plain')
    await db.put('bytes', Buffer.from('hi'))
    expect(await level.get('obj')).toBe('{"a":[1,"x"],"d":"1970-01-01T00:00:00.000Z"}')
    expect(await level.get('obj', { valueEncoding: 'json' })).toEqual({ a: [1, 'x'], d: '1970-01-01T00:00:00.000Z' })
    expect(level.getSync('num', { valueEncoding: 'json' })).toBe(42)
    expect(await level.get('str')).toBe('plain')
    expect(await level.get('bytes')).toBe('hi')
    expect(await level.get('str', { valueEncoding: 'buffer' })).toEqual(Buffer.from('plain'))
    // A native string is not JSON: the json encoding cannot decode it.
    await expect(level.get('str', { valueEncoding: 'json' })).rejects.toMatchObject({ code: 'LEVEL_DECODE_ERROR' })
    // Values JSON would change are refused, not mangled.
    await db.put('map', new Map([['k', 1]]))
    await db.put('big', { n: 10n })
    await expect(level.get('map')).rejects.toMatchObject({ code: 'ISLAB_NOT_REPRESENTABLE', key: 'map' })
    expect(() => level.getSync('big')).toThrow(expect.objectContaining({ code: 'ISLAB_NOT_REPRESENTABLE' }))
    await expect(level.iterator({ gte: 'big', lte: 'big' }).all()).rejects.toMatchObject({ code: 'ISLAB_NOT_REPRESENTABLE' })
    // Only the read of that value fails: the keys before it read fine, one next() at a time.
    const it = level.iterator({ gte: 'bytes' })
    expect(await it.next()).toEqual(['bytes', 'hi'])
    await expect(it.next()).rejects.toMatchObject({ code: 'ISLAB_NOT_REPRESENTABLE', key: 'map' })
    await it.close()
    await level.close()
  })

  it("fires 'write' for its own writes only, not for writes through the native API", async () => {
    const level = await memoryLevel()
    const seen: unknown[] = []
    level.on('write', (ops: unknown[]) => seen.push(...ops))
    await level.put('a', '1')
    await level.db.put('b', '2')
    await level.db.batch([{ type: 'del', key: 'a' }])
    await level.del('b')
    expect(seen).toEqual([
      expect.objectContaining({ type: 'put', key: 'a', value: '1' }),
      expect.objectContaining({ type: 'del', key: 'b' }),
    ])
    await level.close()
  })

  it('shares an open Database with the native API, and leaves it open when the face closes', async () => {
    const db = await open({ durability: 'memory' })
    const level = new IslabLevel(db)
    await level.put('k', 'v')
    expect(db.get('k')).toBe('v')
    await level.close()
    expect(db.isOpen).toBe(true)
    expect(db.get('k')).toBe('v')
    await db.close()
  })

  it('pins a seq for each iterator and explicit snapshot, and releases it when they close', async () => {
    const level = await memoryLevel()
    await level.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: 'b', value: '2' },
    ])
    const it = level.iterator()
    const snap = level.snapshot()
    await level.put('a', 'changed')
    await level.del('b')
    await level.db.put('c', 'native')
    expect(retained(level.db)).toBe(3)
    expect(await it.all()).toEqual([
      ['a', '1'],
      ['b', '2'],
    ])
    expect(await level.get('b', { snapshot: snap })).toBe('2')
    expect(level.getSync('a', { snapshot: snap })).toBe('1')
    expect(await level.has('c', { snapshot: snap })).toBe(false)
    expect(retained(level.db)).toBe(3)
    await snap.close()
    expect(retained(level.db)).toBe(0)
    await level.put('a', 'again')
    expect(retained(level.db)).toBe(0)
    await level.close()
  })

  it('leaves a key past its deadline out of iterators, snapshot reads and clear, as get does', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const level = await memoryLevel({ expiry: { sweepIntervalMs: 3_600_000 } })
      const T = Date.now()
      await level.db.put('a', 'x', { ttlMs: 50 })
      await level.put('b', 'y')
      await level.put('c', 'z')
      const snap = level.snapshot()
      vi.setSystemTime(T + 100)
      // No get first: nothing has written the expiry event yet.
      expect(await level.keys().all()).toEqual(['b', 'c'])
      expect(await level.iterator({ reverse: true }).all()).toEqual([
        ['c', 'z'],
        ['b', 'y'],
      ])
      expect(await level.get('a', { snapshot: snap })).toBeUndefined()
      expect(await level.has('a', { snapshot: snap })).toBe(false)
      expect(await level.values({ snapshot: snap }).all()).toEqual(['y', 'z'])
      await snap.close()
      // The first key in range is 'b': the expired one is not there to be cleared.
      await level.clear({ limit: 1 })
      expect(await level.keys().all()).toEqual(['c'])
      await level.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('waits for the ordered index in time slices before the first read over a shared Database, never building it in one go', async () => {
    // Tiny slices: the build of a few thousand keys takes many turns of the event loop.
    const before = setSliceMs(0)
    // Calls that would finish a running build synchronously (a stall of seconds at 300k keys).
    let stalls = 0
    const finishNow = OrderedIndex.prototype.finishNow
    const spy = vi.spyOn(OrderedIndex.prototype, 'finishNow').mockImplementation(function (this: OrderedIndex) {
      if (!this.ready) stalls++
      finishNow.call(this)
    })
    try {
      const fill = async (): Promise<Database> => {
        const db = await open({ durability: 'memory' })
        for (let i = 0; i < 4000; i += 500) {
          await db.batch(Array.from({ length: 500 }, (_, j) => ({ type: 'put' as const, key: `k${String((i + j) * 7919 % 4000).padStart(5, '0')}`, value: `v${i + j}` })))
        }
        return db
      }
      for (const use of ['iterator', 'keys', 'values', 'clear'] as const) {
        const db = await fill()
        const level = new IslabLevel(db)
        await level.open()
        // Turns of the event loop while the read runs (the build yields with setImmediate too).
        let turns = 0
        let reading = true
        const tick = (): void => {
          if (!reading) return
          turns++
          setImmediate(tick)
        }
        setImmediate(tick)
        if (use === 'iterator') expect(await level.iterator({ limit: 2 }).all()).toEqual([['k00000', 'v0'], ['k00001', expect.any(String)]])
        else if (use === 'keys') expect(await level.keys({ gte: 'k03998' }).all()).toEqual(['k03998', 'k03999'])
        else if (use === 'values') expect(await level.values({ reverse: true, limit: 1 }).all()).toHaveLength(1)
        else {
          await level.clear({ lt: 'k02000' })
          expect(await level.keys({ limit: 1 }).all()).toEqual(['k02000'])
        }
        reading = false
        expect({ use, stalls }).toEqual({ use, stalls: 0 })
        // The event loop ran while the index was built.
        expect(turns).toBeGreaterThan(0)
        await level.close()
        await db.close()
      }
    } finally {
      spy.mockRestore()
      setSliceMs(before)
    }
  })

  it('refuses misspelt options with a suggestion, and open() options given with a shared Database', async () => {
    expect(() => new IslabLevel(tmpDir(), { durabilty: 'sync' } as never)).toThrow(
      expect.objectContaining({ code: 'ISLAB_INVALID_OPTION', message: expect.stringContaining("did you mean 'durability'?") }),
    )
    expect(() => new IslabLevel(tmpDir(), { valueEncodng: 'json' } as never)).toThrow(
      expect.objectContaining({ code: 'ISLAB_INVALID_OPTION', message: expect.stringContaining("did you mean 'valueEncoding'?") }),
    )
    const db = await open({ durability: 'memory' })
    expect(() => new IslabLevel(db, { durability: 'sync' })).toThrow(
      expect.objectContaining({ code: 'ISLAB_INVALID_OPTION', message: expect.stringContaining("'durability' is an option of IsLabDB's open()") }),
    )
    // abstract-level's own options are fine in both forms.
    const level = new IslabLevel<string, unknown>(db, { valueEncoding: 'json', keyEncoding: 'utf8' })
    expect(() => level.db).toThrow(expect.objectContaining({ code: 'ISLAB_CLOSED', message: expect.stringContaining('await level.open()') }))
    await level.put('k', { a: 1 })
    expect(level.db.get('k')).toBe('{"a":1}')
    await level.close()
    expect(() => level.db).toThrow(expect.objectContaining({ code: 'ISLAB_CLOSED' }))
    await db.close()
    // A name close to no option is the user's, for open() hooks (abstract-level's contract).
    const own = new IslabLevel(tmpDir(), { durability: 'memory', createIfMissing: true, errorIfExists: false, passive: false, userland: 1 } as never)
    let hooked: unknown
    own.hooks.postopen.add(async (options) => {
      hooked = (options as { userland?: unknown }).userland
    })
    await own.open()
    expect(hooked).toBe(1)
    await own.close()
  })

  it('refuses native values JSON would change anywhere inside them, rather than changing them', async () => {
    const level = await memoryLevel()
    const db = level.db
    const refused: [string, unknown, string][] = [
      ['nan', { n: NaN }, 'NaN'],
      ['top', NaN, 'NaN'],
      ['inf', [1, -Infinity], '-Infinity'],
      ['undef', { u: undefined }, 'undefined'],
      ['hole', [undefined], 'undefined'],
      ['bytes', { b: Uint8Array.of(1, 2) }, 'Uint8Array'],
      ['buf', { nested: [{ buf: Buffer.from('hi') }] }, 'Buffer'],
      ['f32', new Float32Array(2), 'Float32Array'],
      ['set', { s: new Set([1]) }, 'Set'],
      ['baddate', { d: new Date(NaN) }, 'invalid Date'],
    ]
    for (const [key, value] of refused) await db.put(key, value)
    for (const [key, , what] of refused) {
      expect(() => level.getSync(key)).toThrow(expect.objectContaining({ code: 'ISLAB_NOT_REPRESENTABLE', key, message: expect.stringContaining(what) }))
    }
    // What JSON carries (and a Date, as its ISO string, documented) reads as before.
    await db.put('ok', { a: [1, 2.5, -3, 0, null, true, 'x'], o: { p: {} }, d: new Date(0) })
    expect(level.getSync('ok', { valueEncoding: 'json' })).toEqual({ a: [1, 2.5, -3, 0, null, true, 'x'], o: { p: {} }, d: '1970-01-01T00:00:00.000Z' })
    await level.close()
  })

  it('refuses a key whose mapped native key is too long, giving both lengths', async () => {
    const level = await memoryLevel()
    // 30,000 bytes that are not UTF-8: each escaped as 3 bytes, 90,000 in all.
    const binary = Buffer.alloc(30000, 0xff)
    await expect(level.put(binary, 'v', { keyEncoding: 'buffer' })).rejects.toMatchObject({
      code: 'ISLAB_INVALID_KEY',
      message: expect.stringMatching(/level key of 30000 bytes maps onto a native key of 90000 UTF-8 bytes, over 65535/),
    })
    await expect(level.batch([{ type: 'put', key: '\0'.repeat(40000), value: 'v' }])).rejects.toMatchObject({
      code: 'ISLAB_INVALID_KEY',
      message: expect.stringContaining('level key of 40000 bytes maps onto a native key of 80000'),
    })
    // A key that fits once mapped is stored, and a range bound may be any length.
    await level.put(Buffer.alloc(21845, 0xff), 'fits', { keyEncoding: 'buffer' })
    expect(await level.get(Buffer.alloc(21845, 0xff), { keyEncoding: 'buffer' })).toBe('fits')
    expect(await level.keys({ gte: 'a'.repeat(70000) }).all()).toEqual([])
    await level.close()
  })
})
