// How `islab dump` and `islab tail` print events. NDJSON, one event per line:
//   {"seq":7,"time":1764162000000,"iso":"2025-11-26T13:00:00.000Z","type":"put","key":"k","value":<tagged JSON>}
//   {"seq":8,...,"type":"del","key":"k"}            (an expiry: "expired":true after the key)
//   a put with a deadline: ...,"value":<tagged JSON>,"expiresAt":<ms since the epoch>}
//   {"seq":9,...,"type":"batch","ops":[{"type":"put","key":"a","value":1},{"type":"del","key":"b"}]}
// or, with --flat, each batch op on its own line with "batch":{"op":i,"ops":n}. Values use the
// reversible tagged JSON of docs/wal-format.md. Lines are built as bytes straight into the
// output buffer: this is the hot loop of `islab dump`.
import type { BatchEvent, DelEvent, EntangleEvent, Op, PutEvent, WalEvent } from '../events/types.js'
import { putAscii, putJsonString, putNumber, putString, writeJsonString, writeTaggedJson, writeTaggedJsonAt } from '../events/taggedJsonWriter.js'
import { GrowBuffer } from '../wal/recordCodec.js'
import type { ByteSink } from './output.js'
import { terminalColumns } from './output.js'

export type EventFormat = 'ndjson' | 'table'

export interface EventSelection {
  /** Only ops on keys starting with this (batches keep their matching ops). */
  prefix: string | undefined
  /** Print batch ops as separate lines. */
  flat: boolean
}

export class EventPrinter {
  private headTime = NaN
  /** The heads of put and delete lines for headTime, views of headBytes. */
  private readonly headBytes = new Uint8Array(2 * HEAD_DEL)
  private putHead = this.headBytes.subarray(0, 0)
  private delHead = this.putHead
  private lastTime = NaN
  private lastIso = ''
  private readonly scratch = new GrowBuffer(1 << 12)
  private headerDone = false
  private readonly width = terminalColumns()
  private readonly prefixBytes: Buffer | undefined
  private readonly prefixAscii: boolean

  constructor(
    private readonly sink: ByteSink,
    readonly format: EventFormat,
    private readonly sel: EventSelection,
  ) {
    this.prefixBytes = sel.prefix === undefined ? undefined : Buffer.from(sel.prefix, 'utf8')
    this.prefixAscii = sel.prefix !== undefined && /^[\x00-\x7f]*$/.test(sel.prefix)
  }

  /** Prints the event if it matches the selection. */
  print(ev: WalEvent): void {
    const prefix = this.sel.prefix
    if (ev.type === 'put' || ev.type === 'del') {
      if (prefix !== undefined && !ev.key.startsWith(prefix)) return
      if (this.format === 'ndjson') this.opLine(ev)
      else this.row(ev, ev, '')
      return
    }
    if (ev.type === 'entangle') {
      if (prefix !== undefined && !ev.key.startsWith(prefix)) return
      if (this.format === 'ndjson') this.entangleLine(ev)
      else this.entangleRow(ev)
      return
    }
    const ops = prefix === undefined ? ev.ops : ev.ops.filter((op) => op.key.startsWith(prefix))
    if (ops.length === 0) return
    if (this.format === 'table') {
      this.row(ev, undefined, `${ops.length} of ${ev.ops.length} ops`)
      for (const op of ops) this.row(undefined, op, '')
    } else if (this.sel.flat) {
      for (const op of ops) this.batchLine(ev, op, undefined, ev.ops.indexOf(op))
    } else {
      this.batchLine(ev, undefined, ops, 0)
    }
  }

  private iso(time: number): string {
    if (time !== this.lastTime) {
      this.lastTime = time
      const d = new Date(time)
      this.lastIso = Number.isNaN(d.getTime()) ? '' : d.toISOString()
    }
    return this.lastIso
  }

  /** `{"seq":<seq>,"time":<time>,"iso":"<iso>",` into `out`. */
  private start(out: GrowBuffer, ev: WalEvent): void {
    out.ensure(96)
    const at = putNumber(out.buf, putAscii(out.buf, out.pos, '{"seq":'), ev.seq)
    out.pos = putAscii(out.buf, at, `,"time":${Number.isFinite(ev.time) ? ev.time : 'null'},"iso":"${this.iso(ev.time)}",`)
  }

  /** A put or delete event (see putRecord for the records of binary segments). */
  private opLine(ev: PutEvent | DelEvent): void {
    const out = this.sink.out
    this.opHead(ev.type, ev.seq, ev.time, ev.key.length * 6 + 2)
    const keyEnd = putJsonString(out.buf, out.pos, ev.key)
    if (keyEnd >= 0) out.pos = keyEnd
    else writeJsonString(out, ev.key)
    if (ev.type === 'put') {
      ascii(out, ',"value":')
      writeTaggedJson(out, ev.value)
    }
    writeDeadline(out, ev)
    ascii(out, '}\n')
    this.sink.maybeFlush()
  }

  /**
   * The line of a put record, straight from its bytes: the hot loop of `islab dump`. The key is
   * UTF-8 (kb[kOff, kOff + kLen)), the value msgpack; neither becomes a string or a view. No
   * flush: the caller flushes between records (see RecordPrinter).
   */
  putRecord(seq: number, time: number, kb: Buffer, kOff: number, kLen: number, vb: Buffer, vOff: number, vLen: number): void {
    if (this.prefixBytes !== undefined && !this.keyMatches(kb, kOff, kLen)) return
    const out = this.sink.out
    this.opHead('put', seq, time, kLen * 6 + 12)
    this.recordKey(out, kb, kOff, kLen)
    ascii(out, ',"value":')
    writeTaggedJsonAt(out, vb, vOff, vOff + vLen)
    out.ensure(2)
    out.buf[out.pos++] = 0x7d // }
    out.buf[out.pos++] = 0x0a
  }

  /** The line of a delete record, straight from its bytes (see putRecord). */
  delRecord(seq: number, time: number, kb: Buffer, kOff: number, kLen: number): void {
    if (this.prefixBytes !== undefined && !this.keyMatches(kb, kOff, kLen)) return
    const out = this.sink.out
    this.opHead('del', seq, time, kLen * 6 + 4)
    this.recordKey(out, kb, kOff, kLen)
    out.ensure(2)
    out.buf[out.pos++] = 0x7d // }
    out.buf[out.pos++] = 0x0a
  }

  /**
   * `{"seq":<seq>,"time":<time>,"iso":"<iso>","type":"<type>","key":` into the output, with room
   * for `extra` more bytes after it. Events come many to a millisecond: all from time to the
   * key is made once per time, and copied into each line.
   */
  private opHead(type: 'put' | 'del', seq: number, time: number, extra: number): void {
    if (time !== this.headTime) {
      this.headTime = time
      const members = `,"time":${Number.isFinite(time) ? time : 'null'},"iso":"${this.iso(time)}","type":`
      const b = this.headBytes
      this.putHead = b.subarray(0, putAscii(b, 0, `${members}"put","key":`))
      this.delHead = b.subarray(HEAD_DEL, putAscii(b, HEAD_DEL, `${members}"del","key":`))
    }
    const head = type === 'put' ? this.putHead : this.delHead
    const out = this.sink.out
    out.ensure(head.length + extra + 32)
    const b = out.buf
    const at = putNumber(b, putAscii(b, out.pos, '{"seq":'), seq)
    b.set(head, at)
    out.pos = at + head.length
  }

  /** A key's UTF-8 bytes as a JSON string; invalid UTF-8 is decoded first, as the event path does. */
  private recordKey(out: GrowBuffer, kb: Buffer, kOff: number, kLen: number): void {
    const end = putString(kb, kOff, kLen, out.buf, out.pos)
    if (end >= 0) out.pos = end
    else writeJsonString(out, kb.toString('utf8', kOff, kOff + kLen))
  }

  /**
   * Does the key start with the prefix? Compared as bytes when the prefix is ASCII: an ASCII
   * prefix begins the decoded key exactly when its bytes begin the key's bytes.
   */
  private keyMatches(kb: Buffer, kOff: number, kLen: number): boolean {
    const p = this.prefixBytes!
    if (!this.prefixAscii) return kb.toString('utf8', kOff, kOff + kLen).startsWith(this.sel.prefix!)
    if (kLen < p.length) return false
    for (let i = 0; i < p.length; i++) if (kb[kOff + i] !== p[i]) return false
    return true
  }

  /** A whole batch (ops), or one op of a batch (--flat). */
  private batchLine(ev: BatchEvent, op: Op | undefined, ops: readonly Op[] | undefined, index: number): void {
    const out = this.sink.out
    this.start(out, ev)
    if (op !== undefined) {
      writeOp(out, op)
      ascii(out, `,"batch":{"op":${index},"ops":${ev.ops.length}}`)
    } else {
      ascii(out, '"type":"batch","ops":[')
      ops!.forEach((o, i) => {
        ascii(out, i === 0 ? '{' : ',{')
        writeOp(out, o)
        ascii(out, '}')
      })
      ascii(out, ']')
    }
    ascii(out, '}\n')
    this.sink.maybeFlush()
  }

  /** {"seq":…,"type":"entangle","key":"k","partners":["p",…],"strength":0.5} (docs/wal-format.md). */
  private entangleLine(ev: EntangleEvent): void {
    const out = this.sink.out
    this.start(out, ev)
    writeEntangleMembers(out, ev)
    ascii(out, '}\n')
    this.sink.maybeFlush()
  }

  private headerRow(): void {
    if (this.headerDone) return
    this.headerDone = true
    this.sink.line(`${'SEQ'.padStart(9)}  ${'TIME'.padEnd(24)}  ${'TYPE'.padEnd(TYPE_WIDTH)}  ${'KEY'.padEnd(24)}  VALUE`)
  }

  private row(ev: WalEvent | undefined, op: Op | undefined, note: string): void {
    const type = op === undefined ? 'batch' : ev === undefined ? `↳${op.type}` : op.type
    let value = note
    if (op?.type === 'put') {
      this.scratch.reset()
      writeTaggedJson(this.scratch, op.value)
      value = this.scratch.view().toString('utf8')
      if (op.expiresAt !== undefined) value += ` (expires ${this.iso(op.expiresAt) || op.expiresAt})`
    } else if (op?.type === 'del' && op.expired === true) {
      value = '(expired)'
    }
    this.tableRow(ev, type, op?.key, value)
  }

  /** The partners and the strength in the VALUE column: `0.5 → ["b","c"]` (strength 0 removes them). */
  private entangleRow(ev: EntangleEvent): void {
    this.tableRow(ev, 'entangle', ev.key, `${ev.strength} → ${JSON.stringify(ev.partners)}`)
  }

  private tableRow(ev: WalEvent | undefined, type: string, key: string | undefined, value: string): void {
    this.headerRow()
    const seq = ev === undefined ? '' : String(ev.seq)
    const time = ev === undefined ? '' : this.iso(ev.time)
    let text = `${seq.padStart(9)}  ${time.padEnd(24)}  ${type.padEnd(TYPE_WIDTH)}  `
    if (key === undefined) text += value
    else text += `${clip(key, 24).padEnd(24)}  ${clip(value, Math.max(10, this.width - [...text].length - 26))}`
    this.sink.line(text.trimEnd())
  }
}

/** Room for a line's head from time to key (the time may be any double: 24 characters at most). */
const HEAD_DEL = 128

/** The TYPE column fits 'entangle'. */
const TYPE_WIDTH = 8

/** `"type":"entangle","key":…,"partners":[…],"strength":…` (also what `islab replay --export` writes). */
export function writeEntangleMembers(out: GrowBuffer, ev: Pick<EntangleEvent, 'key' | 'partners' | 'strength'>): void {
  ascii(out, '"type":"entangle","key":')
  writeJsonString(out, ev.key)
  ascii(out, ',"partners":[')
  ev.partners.forEach((p, i) => {
    if (i > 0) ascii(out, ',')
    writeJsonString(out, p)
  })
  ascii(out, `],"strength":${JSON.stringify(ev.strength)}`)
}

function writeOp(out: GrowBuffer, op: Op): void {
  out.ensure(32)
  out.pos = putAscii(out.buf, out.pos, op.type === 'put' ? '"type":"put","key":' : '"type":"del","key":')
  writeJsonString(out, op.key)
  if (op.type === 'put') {
    out.ensure(16)
    out.pos = putAscii(out.buf, out.pos, ',"value":')
    writeTaggedJson(out, op.value)
  }
  writeDeadline(out, op)
}

/** `,"expiresAt":<ms>` of a put with a deadline, `,"expired":true` of an expiry (docs/wal-format.md). */
function writeDeadline(out: GrowBuffer, op: Op): void {
  if (op.type === 'put') {
    if (op.expiresAt !== undefined) ascii(out, `,"expiresAt":${Number.isFinite(op.expiresAt) ? op.expiresAt : 'null'}`)
  } else if (op.expired === true) {
    ascii(out, ',"expired":true')
  }
}

function ascii(out: GrowBuffer, s: string): void {
  out.ensure(s.length)
  out.pos = putAscii(out.buf, out.pos, s)
}

function clip(s: string, max: number): string {
  const chars = [...s]
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`
}
