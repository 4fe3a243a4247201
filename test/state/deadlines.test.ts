// Deadline records follow their key's current version: a delete or a put without a deadline
// clears the record (nothing is held for a key that no longer expires), and undoing that write
// puts the record back, as undoing a put that replaced one does.
import { describe, expect, it } from 'vitest'
import { MemoryState } from '../../src/state/memoryState.js'
import type { DeadlineUndo } from '../../src/state/memoryState.js'
import type { WalEvent } from '../../src/events/types.js'
import { encodeValue } from '../../src/events/valueCodec.js'

const put = (seq: number, key: string, expiresAt?: number): WalEvent =>
  expiresAt === undefined ? { type: 'put', seq, time: seq, key, value: encodeValue(seq) } : { type: 'put', seq, time: seq, key, value: encodeValue(seq), expiresAt }

describe('deadline records of the state', () => {
  it('a delete, a put without a deadline and a batch clear the record; replay does too', () => {
    for (const replay of [false, true]) {
      const s = new MemoryState()
      const apply = (ev: WalEvent): void => (replay ? s.replay(ev) : void s.apply(ev))
      apply(put(1, 'a', 100))
      apply(put(2, 'b', 100))
      apply(put(3, 'c', 100))
      apply(put(4, 'd', 100))
      expect(s.deadlines.size).toBe(4)
      apply({ type: 'del', seq: 5, time: 5, key: 'a' })
      apply(put(6, 'b'))
      apply({ type: 'batch', seq: 7, time: 7, ops: [{ type: 'del', key: 'c' }, { type: 'put', key: 'd', value: encodeValue(0) }] })
      expect(s.deadlines.size).toBe(0)
    }
  })

  it('undoing the write that cleared a record puts the record back', () => {
    const s = new MemoryState()
    s.apply(put(1, 'a', 100))
    s.apply(put(2, 'b', 200))
    const del: WalEvent = { type: 'del', seq: 3, time: 3, key: 'a' }
    const k1: DeadlineUndo = { displaced: undefined }
    const u1 = s.apply(del, k1)
    const batch: WalEvent = { type: 'batch', seq: 4, time: 4, ops: [{ type: 'put', key: 'b', value: encodeValue(1) }, { type: 'del', key: 'b' }] }
    const k2: DeadlineUndo = { displaced: undefined }
    const u2 = s.apply(batch, k2)
    expect(s.deadlines.size).toBe(0)
    s.revert(batch, u2, k2.displaced)
    s.revert(del, u1, k1.displaced)
    expect(s.deadlines.of('a', 1)).toBe(100)
    expect(s.deadlines.of('b', 2)).toBe(200)
    expect(s.seqOf('a')).toBe(1)
    expect(s.seqOf('b')).toBe(2)
  })
})
