// The sync-mode write path over a WAL whose commits end (or fail) when the schedule says, while
// writes keep arriving: the next commit starts before the last one's outcome is published
// (issue 16). Whatever the order, every write settles once, a write resolves only if the commit
// that carried it succeeded, a rejected one was never durable, and memory ends up holding
// exactly the durable writes (a failed commit's writes are reverted).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChangeFeed } from '../src/changes/changeFeed.js'
import { encodeValue } from '../src/events/valueCodec.js'
import { GroupCommitter } from '../src/pipeline/groupCommit.js'
import { buildWritePipeline } from '../src/pipeline/writePipeline.js'
import { WriteRequest } from '../src/pipeline/writeRequest.js'
import { MemoryState } from '../src/state/memoryState.js'
import type { WalWriter } from '../src/wal/walWriter.js'

const FUZZ = process.env.FUZZ === '1'

type Step = { t: 'write'; key: number; ifSeq: boolean } | { t: 'ok' } | { t: 'fail' } | { t: 'tick' }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('write' as const), key: fc.integer({ min: 0, max: 3 }), ifSeq: fc.boolean() }), weight: 5 },
  { arbitrary: fc.constant({ t: 'ok' as const }), weight: 3 },
  { arbitrary: fc.constant({ t: 'fail' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'tick' as const }), weight: 3 },
)

interface Commit {
  seqs: number[]
  resolve(): void
  reject(e: unknown): void
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('sync-mode group commit under any schedule of commit ends and failures', () => {
  it('settles every write once and truthfully, and memory holds exactly the durable writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 60 }), async (steps) => {
        const appended: number[] = []
        const open: Commit[] = []
        const wal = {
          currentSegment: 1,
          get pendingBytes() {
            return appended.length
          },
          append(req: WriteRequest) {
            appended.push(req.seq)
            return 0
          },
          commit() {
            const seqs = appended.splice(0)
            return new Promise<void>((resolve, reject) => open.push({ seqs, resolve, reject }))
          },
        } as unknown as WalWriter
        const state = new MemoryState()
        const feed = new ChangeFeed(0, false)
        const committer = new GroupCommitter(wal, { sync: true, syncIntervalMs: 100, maxPendingBytes: 1 << 20 }, 0)
        const pipeline = buildWritePipeline(state, 0, committer, feed, true, () => undefined)
        const durable = new Set<number>()
        const failed = new Set<number>()
        const outcomes = new Map<WriteRequest, { ok: number; err: number }>()
        const writes: { req: WriteRequest; key: string }[] = []
        const endOne = (ok: boolean): void => {
          const c = open.shift()
          if (c === undefined) return
          for (const s of c.seqs) (ok ? durable : failed).add(s)
          if (ok) c.resolve()
          else c.reject(Object.assign(new Error('EIO'), { code: 'EIO' }))
        }
        for (const step of steps) {
          if (step.t === 'write') {
            const key = `k${step.key}`
            const req = WriteRequest.put(key, encodeValue({ n: writes.length }), step.ifSeq ? state.seqOf(key) : undefined)
            const o = { ok: 0, err: 0 }
            outcomes.set(req, o)
            writes.push({ req, key })
            pipeline.requests.next(req)
            req.promise().then(
              () => o.ok++,
              () => o.err++,
            )
          } else if (step.t === 'ok') endOne(true)
          else if (step.t === 'fail') endOne(false)
          else await tick()
        }
        // Let everything still in flight end well.
        for (let i = 0; i < 200 && (open.length > 0 || i < 3); i++) {
          endOne(true)
          await tick()
        }
        expect(open).toEqual([])
        for (const { req } of writes) {
          const o = outcomes.get(req)!
          // Settled exactly once.
          expect(o.ok + o.err).toBe(1)
          if (req.seq === 0) continue // refused before it was sequenced (not in the log)
          if (o.ok === 1) expect(durable.has(req.seq)).toBe(true)
          else expect(durable.has(req.seq)).toBe(false)
        }
        // Memory: for each key, the newest durable write to it.
        const newest = new Map<string, number>()
        for (const { req, key } of writes) if (req.seq !== 0 && durable.has(req.seq)) newest.set(key, req.seq)
        for (let k = 0; k < 4; k++) expect(state.get(`k${k}`)?.seq).toBe(newest.get(`k${k}`))
        committer.stop()
        for (const s of pipeline.subscriptions) s.unsubscribe()
      }),
      { numRuns: FUZZ ? 3000 : 300 },
    )
  })
})
