// A read-only database next to a writer whose commit fails after the reader applied it: the
// writer cuts its log back (removing the segment the commit rotated into, truncating the one it
// started in) and, reopened, writes other events under the same seqs. The reader must stop
// following with ISLAB_CORRUPTION, not take the vanished segment for a prune and apply the new
// events on top of ones that never happened (docs/read-only.md, Durability).
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { AppendFile, Change, Database, FileLayer } from '../../src/index.js'
import { nodeFileLayer } from '../../src/io/nodeFileLayer.js'
import { tmpDir } from '../helpers/tmpdir.js'

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

const segments = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()

/**
 * The real fs, except that once armed the first fdatasync of records in a segment other than
 * `keep` fails — after `before` ran (the reader looks between the write and the failed sync).
 */
function failingSync(): { layer: FileLayer; arm(keep: string, before: () => Promise<unknown>): void } {
  let armed: { keep: string; before: () => Promise<unknown> } | undefined
  const layer: FileLayer = {
    ...nodeFileLayer,
    openAppend(p, o): AppendFile {
      const f = nodeFileLayer.openAppend(p, o)
      let written = 0
      return {
        write: async (data) => {
          written += data.length
          return f.write(data)
        },
        datasync: async () => {
          // More than a segment header: the new segment's records, not its header's own sync.
          const a = armed
          if (a !== undefined && written > 32 && path.basename(p) !== a.keep) {
            armed = undefined
            await a.before()
            throw Object.assign(new Error('EIO: simulated fdatasync failure'), { code: 'EIO' })
          }
          return f.datasync()
        },
        truncate: (n) => f.truncate(n),
        close: () => f.close(),
      }
    },
  }
  return { layer, arm: (keep, before) => (armed = { keep, before }) }
}

describe('open({ readOnly: true }) when the writer cuts back a failed commit that rotated', () => {
  for (const look of ['at once', 'only after the writer reopened and wrote'] as const) {
    it(`stops with ISLAB_CORRUPTION and never applies the reopened writer’s events on top of the undone ones (looking ${look})`, async () => {
      const dir = tmpDir()
      const { layer, arm } = failingSync()
      const w = await open({ dir, durability: 'sync', fileLayer: layer, segmentBytes: 600, checkpoint: false })
      await w.put('k0', 'x'.repeat(100))
      const ro = await open({ dir, readOnly: true, followMs: false })
      const failures: { code?: string }[] = []
      ro.on('failure', (e) => failures.push(e as { code?: string }))
      // A durableOnly stream (the default): every event the reader applies counts as durable.
      const got: Change[] = []
      const stream = ro.changes({ since: ro.seq, durableOnly: true })[Symbol.asyncIterator]()
      const reading = (async () => {
        for (;;) {
          const r = await stream.next()
          if (r.done === true) return 'done'
          got.push(r.value)
        }
      })().catch((err: { code?: string }) => err.code)

      const [first] = segments(dir)
      let seenDuring = 0
      arm(first!, async () => {
        seenDuring = await ro.refresh()
      })
      // One group commit that fills the first segment and rotates into a second, whose sync fails.
      const settled = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((i) => w.put(`k${i}`, `v${i}`.padEnd(150, 'y'))))
      expect(settled.every((r) => r.status === 'rejected')).toBe(true)
      expect(segments(dir)).toEqual([first]) // the rotated-into segment is gone, the first cut back
      expect(seenDuring).toBeGreaterThan(1) // the reader did apply the commit before it failed
      const undone = seenDuring
      const reopen = async (): Promise<Database> => {
        await w.close().catch(() => undefined)
        // The writer reopens and writes other events under the seqs the reader applied.
        const w2 = await open({ dir, durability: 'sync', segmentBytes: 600, checkpoint: false })
        expect(w2.seq).toBe(1)
        for (let i = 1; i <= 8; i++) await w2.put(`other${i}`, i)
        return w2
      }

      let w2: Database | undefined
      if (look === 'only after the writer reopened and wrote') w2 = await reopen()
      expect(await codeOf(ro.refresh())).toBe('ISLAB_CORRUPTION')
      expect(failures.map((e) => e.code)).toEqual(['ISLAB_CORRUPTION'])
      expect(ro.stats().failure?.code).toBe('ISLAB_CORRUPTION')
      expect(await reading).toBe('ISLAB_CORRUPTION')
      w2 ??= await reopen()
      expect(await codeOf(ro.refresh())).toBe('ISLAB_CORRUPTION')
      expect(ro.seq).toBe(undone)
      for (let i = 1; i <= 8; i++) expect(ro.has(`other${i}`)).toBe(false)
      // The stream stopped at the cut: nothing of the restarted writer reached it.
      expect(got.every((c) => c.key.startsWith('k'))).toBe(true)
      expect(failures).toHaveLength(1)

      // Reopened, a reader serves the log as it is.
      const fresh = await open({ dir, readOnly: true, followMs: false })
      expect(fresh.seq).toBe(9)
      expect(fresh.get('other1')).toBe(1)
      expect(fresh.has('k3')).toBe(false)
      await fresh.close()
      await ro.close()
      await w2.close()
    })
  }
})
