// The README's promises, interleaved: writes, change-stream subscribe/drain/unsubscribe,
// checkpoints that prune the log, getAt/history, and close/reopen, against a model that keeps the
// whole event log and knows what a checkpoint may have pruned. Streams must deliver exactly the
// changes after their `since` (no `since`: from db.seq at the call); unsubscribing settles at once;
// time travel is exact at or after the oldest kept checkpoint and is either exact or
// ISLAB_HISTORY_GONE before it.
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { Change, Database, Durability } from '../src/index.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

const FUZZ = process.env.ISLAB_FUZZ === '1'

interface Op {
  key: string
  del: boolean
  value: unknown
}
interface Stream {
  it: AsyncIterator<Change>
  since: number
  prefix: string | undefined
  /** Changes received so far, as [seq, key, del, value]. */
  got: number
  /** Its since is before the oldest kept checkpoint: ISLAB_HISTORY_GONE is an allowed answer. */
  mayBeGone: boolean
}
interface Model {
  seq: number
  /** Every event ever acknowledged, by seq - 1. */
  log: Op[][]
  /** Seqs at or after this are always answerable by time travel (the oldest kept checkpoint). */
  floor: number
  streams: Stream[]
}
interface Real {
  db: Database
}

const keyArb = fc.constantFrom('a', 'b', 'user:1', 'user:2', 'ключ')
const valueArb = fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.array(fc.integer(), { maxLength: 30 }), fc.constant(null))
const prefixArb = fc.option(fc.constantFrom('user:', 'a', 'x'), { nil: undefined })

async function settles<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function valueAt(m: Model, key: string, seq: number): unknown {
  let v: unknown
  for (let s = 1; s <= seq; s++) for (const op of m.log[s - 1]!) if (op.key === key) v = op.del ? undefined : op.value
  return v
}

/** The changes a stream should deliver, flattened in order, after `since`. */
function expected(m: Model, s: Stream): { seq: number; op: Op }[] {
  const out: { seq: number; op: Op }[] = []
  for (let seq = s.since + 1; seq <= m.seq; seq++) {
    for (const op of m.log[seq - 1]!) if (s.prefix === undefined || op.key.startsWith(s.prefix)) out.push({ seq, op })
  }
  return out
}

async function agree(m: Model, r: Real): Promise<void> {
  expect(r.db.seq).toBe(m.seq)
  for (const key of ['a', 'b', 'user:1', 'user:2', 'ключ']) {
    expect(isDeepStrictEqual(r.db.get(key), valueAt(m, key, m.seq))).toBe(true)
  }
}

async function write(m: Model, r: Real, ops: Op[]): Promise<void> {
  const p =
    ops.length === 1
      ? ops[0]!.del
        ? r.db.delete(ops[0]!.key)
        : r.db.put(ops[0]!.key, ops[0]!.value)
      : r.db.batch(ops.map((o) => (o.del ? { type: 'del' as const, key: o.key } : { type: 'put' as const, key: o.key, value: o.value })))
  m.log.push(ops)
  m.seq++
  expect(await p).toEqual({ seq: m.seq })
  await agree(m, r)
}

class WriteCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ops: Op[]) {}
  check = () => true
  run = (m: Model, r: Real) => write(m, r, this.ops)
  toString = () => `write(${fc.stringify(this.ops)})`
}

class SubscribeCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly back: number | undefined,
    readonly prefix: string | undefined,
  ) {}
  check = (m: Readonly<Model>) => m.streams.length < 4
  async run(m: Model, r: Real) {
    const since = this.back === undefined ? m.seq : Math.max(0, m.seq - this.back)
    const stream = r.db.changes(this.back === undefined ? { prefix: this.prefix } : { since, prefix: this.prefix })
    // No `since` means from db.seq at this call, not at the first next(): a write in between is delivered.
    m.streams.push({ it: stream[Symbol.asyncIterator](), since, prefix: this.prefix, got: 0, mayBeGone: since < m.floor })
  }
  toString = () => `subscribe(${String(this.back)}, ${String(this.prefix)})`
}

class FutureSinceCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ahead: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const since = m.seq + 1 + this.ahead
    let err: unknown
    try {
      await settles(r.db.changes({ since })[Symbol.asyncIterator]().next(), 'a stream from a future seq')
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'ISLAB_INVALID_OPTION' })
  }
  toString = () => `changes(since: seq + ${this.ahead + 1})`
}

class DrainCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.streams.length > 0
  async run(m: Model, _r: Real) {
    const i = this.pick % m.streams.length
    const s = m.streams[i]!
    const want = expected(m, s)
    while (s.got < want.length) {
      let res: IteratorResult<Change>
      try {
        res = await settles(s.it.next(), `stream since ${s.since} waiting for change ${s.got + 1} of ${want.length}`)
      } catch (err) {
        if (s.mayBeGone && s.got === 0 && (err as { code?: string }).code === 'ISLAB_HISTORY_GONE') {
          m.streams.splice(i, 1)
          return
        }
        throw err
      }
      expect(res.done).toBe(false)
      const w = want[s.got]!
      const ch = res.value as Change
      expect({ seq: ch.seq, key: ch.key, type: ch.type }).toEqual({ seq: w.seq, key: w.op.key, type: w.op.del ? 'del' : 'put' })
      if (!w.op.del) expect(isDeepStrictEqual(ch.value, w.op.value)).toBe(true)
      s.got++
    }
  }
  toString = () => `drain(${this.pick})`
}

class UnsubscribeCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.streams.length > 0
  async run(m: Model, _r: Real) {
    const [s] = m.streams.splice(this.pick % m.streams.length, 1)
    // Also while it waits for a change that may never come.
    const waiting = s!.it.next().catch(() => undefined)
    await settles(Promise.resolve(s!.it.return?.(undefined)), 'return() of a waiting stream')
    await settles(waiting, 'the pending next() after return()')
  }
  toString = () => `unsubscribe(${this.pick})`
}

class CheckpointCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true
  async run(m: Model, r: Real) {
    await r.db.checkpoint()
    // keep: 1 — segments wholly before this checkpoint may be gone from now on.
    m.floor = m.seq
    await agree(m, r)
  }
  toString = () => 'checkpoint'
}

class GetAtCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly back: number,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const seq = Math.max(0, m.seq - this.back)
    const want = valueAt(m, this.key, seq)
    let got: unknown
    try {
      got = await settles(r.db.getAt(this.key, { seq }), 'getAt')
    } catch (err) {
      if (seq < m.floor && (err as { code?: string }).code === 'ISLAB_HISTORY_GONE') return
      throw err
    }
    expect(isDeepStrictEqual(got, want)).toBe(true)
  }
  toString = () => `getAt(${this.key}, seq - ${this.back})`
}

class HistoryCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = () => true
  async run(m: Model, r: Real) {
    const versions: { seq: number; del: boolean; value: unknown }[] = []
    for (let seq = 1; seq <= m.seq; seq++) {
      const ops = m.log[seq - 1]!.filter((o) => o.key === this.key)
      const last = ops[ops.length - 1]
      if (last !== undefined) versions.push({ seq, del: last.del, value: last.value })
    }
    const got: { seq: number; del: boolean; value: unknown }[] = []
    for await (const v of r.db.history(this.key)) got.push({ seq: v.seq, del: v.type === 'del', value: v.type === 'del' ? undefined : v.value })
    // A suffix of the versions, holding at least every version after the oldest kept checkpoint.
    const tail = versions.slice(versions.length - got.length)
    expect(got.length).toBeGreaterThanOrEqual(versions.filter((v) => v.seq > m.floor).length)
    expect(got.map((v) => v.seq)).toEqual(tail.map((v) => v.seq))
    for (let i = 0; i < got.length; i++) {
      expect(got[i]!.del).toBe(tail[i]!.del)
      if (!got[i]!.del) expect(isDeepStrictEqual(got[i]!.value, tail[i]!.value)).toBe(true)
    }
  }
  toString = () => `history(${this.key})`
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true
  async run(m: Model, r: Real) {
    for (const s of m.streams.splice(0)) await settles(Promise.resolve(s.it.return?.(undefined)), 'return() before close')
    await settles(r.db.close(), 'close()')
    r.db = await open(r.db.options)
    await agree(m, r)
  }
  toString = () => 'reopen'
}

const opArb = fc.record({ key: keyArb, del: fc.boolean(), value: valueArb }).map((o) => (o.del ? { ...o, value: undefined } : o))

const commands = fc.commands(
  [
    fc.array(opArb, { minLength: 1, maxLength: 3 }).map((ops) => new WriteCmd(ops)),
    fc.array(opArb, { minLength: 1, maxLength: 1 }).map((ops) => new WriteCmd(ops)),
    fc.tuple(fc.option(fc.nat(12), { nil: undefined }), prefixArb).map(([b, p]) => new SubscribeCmd(b, p)),
    fc.nat(3).map((n) => new FutureSinceCmd(n)),
    fc.nat().map((n) => new DrainCmd(n)),
    fc.nat().map((n) => new UnsubscribeCmd(n)),
    fc.constant(new CheckpointCmd()),
    fc.tuple(keyArb, fc.nat(15)).map(([k, b]) => new GetAtCmd(k, b)),
    keyArb.map((k) => new HistoryCmd(k)),
    fc.constant(new ReopenCmd()),
  ],
  { maxCommands: FUZZ ? 80 : 40 },
)

describe.each(['sync', 'buffered'] as Durability[])('the README promises, interleaved: %s', (durability) => {
  it('streams, checkpoints with pruning, time travel and reopen agree with the model', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const real: Real = {
          db: await open({ dir: tmpDir(), durability, segmentBytes: 256, checkpoint: { keep: 1, intervalMs: 3_600_000 }, physics: false }),
        }
        const model: Model = { seq: 0, log: [], floor: 0, streams: [] }
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds)
        } finally {
          for (const s of model.streams.splice(0)) await Promise.resolve(s.it.return?.(undefined)).catch(() => undefined)
          await real.db.close()
        }
      }),
      { numRuns: FUZZ ? 500 : 25 },
    )
  })
})
