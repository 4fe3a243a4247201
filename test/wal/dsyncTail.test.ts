// Review of issue 15: sync mode appends with O_DSYNC, which makes durable only the bytes each write
// covers. A tail a killed process left unsynced in the page cache must be made durable at open,
// before commits after it are marked as following durable bytes.
import { expect, it } from 'vitest'
import { forgetLockForCrashTest } from '../../src/io/dirLock.js'
import { open } from '../../src/index.js'
import { RangeLayer } from '../helpers/rangeLayer.js'

const DIR = '/sim/dsync'
const opts = { dir: DIR, checkpoint: false as const, physics: false, compressThreshold: 1 << 30 }

it('keeps sync-mode writes acknowledged after reopening over an unsynced tail through a power loss', async () => {
  const layer = new RangeLayer()
  const a = await open({ ...opts, fileLayer: layer, durability: 'buffered' })
  for (let i = 0; i < 5; i++) await a.put(`a${i}`, 'x'.repeat(3000))
  await a.flush()
  // Killed between a commit's write() and its fdatasync: those bytes sit in the page cache.
  layer.hangDatasync = true
  for (let i = 0; i < 5; i++) await a.put(`b${i}`, 'y'.repeat(3000))
  void a.flush().catch(() => undefined)
  await new Promise((r) => setTimeout(r, 50))
  forgetLockForCrashTest(DIR)
  layer.hangDatasync = false
  // Restarted in sync mode on the same machine (page cache intact): acknowledged writes.
  const b = await open({ ...opts, fileLayer: layer, durability: 'sync' })
  for (let i = 0; i < 3; i++) await b.put(`c${i}`, 'z'.repeat(3000))
  forgetLockForCrashTest(DIR)
  // Power loss, then a strict open.
  const c = await open({ ...opts, fileLayer: layer.crash(), durability: 'sync' })
  for (let i = 0; i < 3; i++) expect(c.get(`c${i}`)).toBe('z'.repeat(3000))
  for (let i = 0; i < 5; i++) expect(c.get(`b${i}`)).toBe('y'.repeat(3000))
  await c.close()
})
