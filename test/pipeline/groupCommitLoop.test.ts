// The sync-mode commit loop (issue 16): the next commit starts the moment the last one ends, with
// the writes that arrived meanwhile, before the last one's outcome is published; and no write
// is left behind, not even one made while an outcome is being handled.
import { describe, expect, it } from 'vitest'
import { GroupCommitter } from '../../src/pipeline/groupCommit.js'
import type { CommitOutcome } from '../../src/pipeline/groupCommit.js'
import { WriteRequest } from '../../src/pipeline/writeRequest.js'
import type { WalWriter } from '../../src/wal/walWriter.js'

/** A WalWriter whose commits end when the test says so. */
function fakeWal(): { wal: WalWriter; commits: { resolve(): void }[]; pending(): number } {
  let pending = 0
  const commits: { resolve(): void }[] = []
  const wal = {
    currentSegment: 1,
    get pendingBytes() {
      return pending
    },
    append() {
      pending += 10
      return 0
    },
    commit() {
      pending = 0
      return new Promise<void>((resolve) => commits.push({ resolve }))
    },
  }
  return { wal: wal as unknown as WalWriter, commits, pending: () => pending }
}

let seq = 0
function write(): WriteRequest {
  const req = WriteRequest.put(`k${seq}`, new Uint8Array([1]), undefined)
  req.seq = ++seq
  req.time = Date.now()
  return req
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('sync-mode commit loop', () => {
  it('starts the next commit, with the writes that arrived meanwhile, before publishing the outcome of the last', async () => {
    seq = 0
    const { wal, commits } = fakeWal()
    const gc = new GroupCommitter(wal, { sync: true, syncIntervalMs: 100, maxPendingBytes: 1 << 20 }, 0)
    const seen: { seqs: number[]; commitsStarted: number }[] = []
    gc.outcomes$.subscribe((o: CommitOutcome) => seen.push({ seqs: o.requests.map((r) => r.seq), commitsStarted: commits.length }))
    const accept = (gc as unknown as { accept(r: WriteRequest): void }).accept.bind(gc)
    accept(write())
    accept(write())
    await settle()
    expect(commits.length).toBe(1)
    // Arrive while the first commit is on its way.
    accept(write())
    commits[0]!.resolve()
    await settle()
    // The first outcome (seqs 1, 2) was published when the second commit (seq 3) had started.
    expect(seen).toEqual([{ seqs: [1, 2], commitsStarted: 2 }])
    commits[1]!.resolve()
    await settle()
    expect(seen[1]).toEqual({ seqs: [3], commitsStarted: 2 })
    expect(gc.durableSeq).toBe(3)
    gc.stop()
  })

  it('commits a write made while an outcome is being handled', async () => {
    seq = 0
    const { wal, commits } = fakeWal()
    const gc = new GroupCommitter(wal, { sync: true, syncIntervalMs: 100, maxPendingBytes: 1 << 20 }, 0)
    const accept = (gc as unknown as { accept(r: WriteRequest): void }).accept.bind(gc)
    let made = false
    const durable: number[] = []
    gc.outcomes$.subscribe((o: CommitOutcome) => {
      durable.push(o.seq)
      // A subscriber that writes synchronously, as a change-stream handler may.
      if (!made) {
        made = true
        accept(write())
      }
    })
    accept(write())
    await settle()
    commits[0]!.resolve()
    await settle()
    expect(commits.length).toBe(2)
    commits[1]!.resolve()
    await settle()
    expect(durable).toEqual([1, 2])
    expect(gc.durableSeq).toBe(2)
    gc.stop()
  })
})
