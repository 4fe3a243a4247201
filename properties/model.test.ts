// Model-based test: random put/delete/batch/ifSeq/close-reopen sequences against a plain Map,
// in all three durability modes. After every command the database must agree with the model.
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { BatchOp, Database, Durability } from '../src/index.js'
import { tmpDir } from '../test/helpers/tmpdir.js'

interface Model {
  entries: Map<string, { value: unknown; seq: number }>
  seq: number
}
interface Real {
  db: Database
}

const FUZZ = process.env.ISLAB_FUZZ === '1'
const keyArb = fc.constantFrom('a', 'b', 'c', 'user:1', 'ключ', '🔑')
const leaf = fc.oneof(
  fc.integer(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
)
const valueArb = fc.oneof(leaf, fc.array(leaf, { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 4 }), leaf, { maxKeys: 4, noNullPrototype: true }))
/** undefined: unconditional; 'current': the key's seq at run time (holds); a number: probably conflicts. */
const ifSeqArb = fc.option(fc.oneof(fc.constant('current' as const), fc.nat(30)), { nil: undefined })

function resolveIfSeq(m: Model, key: string, ifSeq: 'current' | number | undefined): number | undefined {
  return ifSeq === 'current' ? (m.entries.get(key)?.seq ?? 0) : ifSeq
}

function holds(m: Model, key: string, ifSeq: number | undefined): boolean {
  return ifSeq === undefined || (m.entries.get(key)?.seq ?? 0) === ifSeq
}

async function expectAgreement(m: Model, r: Real): Promise<void> {
  expect(r.db.seq).toBe(m.seq)
  expect(r.db.size).toBe(m.entries.size)
  for (const [k, e] of m.entries) {
    const got = r.db.getEntry(k)
    expect(got?.seq).toBe(e.seq)
    expect(isDeepStrictEqual(got?.value, e.value)).toBe(true)
  }
}

class PutCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly ifSeq: 'current' | number | undefined,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const ifSeq = resolveIfSeq(m, this.key, this.ifSeq)
    const p = r.db.put(this.key, this.value, { ifSeq })
    if (holds(m, this.key, ifSeq)) {
      m.seq++
      m.entries.set(this.key, { value: this.value, seq: m.seq })
      expect(await p).toEqual({ seq: m.seq })
    } else {
      await expect(p).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    }
    await expectAgreement(m, r)
  }
  toString = () => `put(${this.key}, ${fc.stringify(this.value)}, ${String(this.ifSeq)})`
}

class DelCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly ifSeq: 'current' | number | undefined,
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const ifSeq = resolveIfSeq(m, this.key, this.ifSeq)
    const p = r.db.delete(this.key, { ifSeq })
    if (holds(m, this.key, ifSeq)) {
      m.seq++
      m.entries.delete(this.key)
      expect(await p).toEqual({ seq: m.seq })
    } else {
      await expect(p).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    }
    await expectAgreement(m, r)
  }
  toString = () => `del(${this.key}, ${String(this.ifSeq)})`
}

class BatchCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ops: { del: boolean; key: string; value: unknown; ifSeq: 'current' | number | undefined }[]) {}
  check = () => true
  async run(m: Model, r: Real) {
    const ops: BatchOp[] = this.ops.map((o) => {
      const ifSeq = resolveIfSeq(m, o.key, o.ifSeq)
      return o.del ? { type: 'del', key: o.key, ifSeq } : { type: 'put', key: o.key, value: o.value, ifSeq }
    })
    const p = r.db.batch(ops)
    if (ops.every((op) => holds(m, op.key, op.ifSeq))) {
      m.seq++
      for (const op of ops) {
        if (op.type === 'del') m.entries.delete(op.key)
        else m.entries.set(op.key, { value: op.value, seq: m.seq })
      }
      expect(await p).toEqual({ seq: m.seq })
    } else {
      await expect(p).rejects.toMatchObject({ code: 'ISLAB_CONFLICT' })
    }
    await expectAgreement(m, r)
  }
  toString = () => `batch(${fc.stringify(this.ops)})`
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly durability: Durability) {}
  check = () => true
  async run(m: Model, r: Real) {
    await r.db.close()
    r.db = await open(r.db.options)
    if (this.durability === 'memory') {
      m.entries.clear()
      m.seq = 0
    }
    await expectAgreement(m, r)
  }
  toString = () => 'reopen'
}

function commandsFor(durability: Durability) {
  return fc.commands(
    [
      fc.tuple(keyArb, valueArb, ifSeqArb).map(([k, v, s]) => new PutCmd(k, v, s)),
      fc.tuple(keyArb, ifSeqArb).map(([k, s]) => new DelCmd(k, s)),
      fc
        .array(fc.record({ del: fc.boolean(), key: keyArb, value: valueArb, ifSeq: ifSeqArb }), { minLength: 1, maxLength: 4 })
        .map((ops) => new BatchCmd(ops)),
      fc.constant(new ReopenCmd(durability)),
    ],
    { maxCommands: 40 },
  )
}

describe.each(['sync', 'buffered', 'memory'] as const)('model: %s', (durability) => {
  it('agrees with a Map after any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(commandsFor(durability), fc.boolean(), async (cmds, json) => {
        const real: Real = { db: await open({ dir: tmpDir(), durability, walFormat: json ? 'json' : 'binary', segmentBytes: 512 }) }
        try {
          await fc.asyncModelRun(() => ({ model: { entries: new Map(), seq: 0 }, real }), cmds)
        } finally {
          await real.db.close()
        }
      }),
      { numRuns: FUZZ ? 1000 : 60 },
    )
  })
})
