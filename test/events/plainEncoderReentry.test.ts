// A value whose encoding runs application code (a getter, a Proxy trap) that writes to the
// database: the encoder is entered again while a value is half written into its slab.
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { tmpDir } from '../helpers/tmpdir.js'

describe('plain value encoder entered again from a getter', () => {
  it('keeps both values as written, in memory and after a reopen', async () => {
    const dir = tmpDir()
    const db = await open({ dir, durability: 'buffered', checkpoint: false })
    const inner = { a: 1, b: 'inner value', c: [1, 2, 3] }
    const outer = {
      first: 'x',
      get second() {
        void db.put('inner', inner)
        return 'y'
      },
      third: { n: 42 },
    }
    await db.put('outer', outer)
    const want = { first: 'x', second: 'y', third: { n: 42 } }
    expect(db.get('inner')).toEqual(inner)
    expect(db.get('outer')).toEqual(want)
    await db.close()
    const again = await open({ dir, checkpoint: false })
    expect(again.get('inner')).toEqual(inner)
    expect(again.get('outer')).toEqual(want)
    await again.close()
  })
})
