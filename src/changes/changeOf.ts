// Turns logged events into the changes a stream delivers. The key filter runs first: a value is
// decoded (msgpack → object) only for a change that is delivered, `prev` included.
import type { Op, WalEvent } from '../events/types.js'
import { decodeValue } from '../events/valueCodec.js'
import type { Entry } from '../state/entry.js'
import type { Change, ChangesOptions } from './changeStream.js'

export type KeyFilter = ((key: string) => boolean) | undefined

/** The prefix/keys filter of the options; undefined when every key passes. */
export function keyFilter(opts: ChangesOptions): KeyFilter {
  const prefix = opts.prefix
  const keys = opts.keys === undefined ? undefined : new Set(opts.keys)
  if (prefix === undefined && keys === undefined) return undefined
  return (key) => (prefix === undefined || key.startsWith(prefix)) && (keys === undefined || keys.has(key))
}

/**
 * The changes of one event that pass the filter. A batch arrives as its member changes, in
 * order, all with the batch's seq. Entangle events change no value: none.
 * `undo`: what the event replaced (a live event's WriteRequest.undo), for `prev`.
 */
export function changesOf<V>(ev: WalEvent, undo: unknown, pass: KeyFilter): Change<V>[] {
  if (ev.type === 'entangle') return NONE
  if (ev.type !== 'batch') {
    if (pass !== undefined && !pass(ev.key)) return NONE
    return [change<V>(ev.seq, ev.time, ev, undo as Entry | undefined)]
  }
  const prev = undo as (Entry | undefined)[] | undefined
  const out: Change<V>[] = []
  for (let i = 0; i < ev.ops.length; i++) {
    const op = ev.ops[i]!
    if (pass === undefined || pass(op.key)) out.push(change<V>(ev.seq, ev.time, op, prev?.[i]))
  }
  return out
}

const NONE: never[] = []

function change<V>(seq: number, time: number, op: Op, prev: Entry | undefined): Change<V> {
  const ch: Change<V> = { seq, time, type: op.type, key: op.key }
  if (op.type === 'put') {
    ch.value = decodeValue(op.value) as V
    if (op.expiresAt !== undefined) ch.expiresAt = op.expiresAt
  } else if (op.expired === true) {
    ch.expired = true
  }
  if (prev !== undefined) ch.prev = decodeValue(prev.bytes) as V
  return ch
}
