// How `islab dump` and `islab tail` print events. NDJSON, one event per line:
//   {"seq":7,"time":1764162000000,"iso":"2025-11-26T13:00:00.000Z","type":"put","key":"k","value":<tagged JSON>}
//   {"seq":8,...,"type":"del","key":"k"}
//   {"seq":9,...,"type":"batch","ops":[{"type":"put","key":"a","value":1},{"type":"del","key":"b"}]}
// or, with --flat, each batch op on its own line with "batch":{"op":i,"ops":n}. Values use the
// reversible tagged JSON of docs/wal-format.md. Lines are built as bytes straight into the
// output buffer: this is the hot loop of `islab dump`.
import type { BatchEvent, DelEvent, EntangleEvent, Op, PutEvent, WalEvent } from '../events/types.js'
import { putAscii, putJsonString, putNumber, writeJsonString, writeTaggedJson } from '../events/taggedJsonWriter.js'
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
  // Events come many to a millisecond: the members from time to the key are made once per
  // time and type, and copied into each line.
  private headTime = NaN
  private readonly heads: Record<'put' | 'del', Uint8Array> = { put: new Uint8Array(0), del: new Uint8Array(0) }
  private lastTime = NaN
  private lastIso = ''
  private readonly scratch = new GrowBuffer(1 << 12)
  private headerDone = false
  private readonly width = terminalColumns()

  constructor(
    private readonly sink: ByteSink,
    private readonly format: EventFormat,
    private readonly sel: EventSelection,
  ) {}

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

  /** A put or delete: the hot loop of `islab dump`, one copy of the cached head and no strings made. */
  private opLine(ev: PutEvent | DelEvent): void {
    const out = this.sink.out
    if (ev.time !== this.headTime) {
      this.headTime = ev.time
      const members = `,"time":${Number.isFinite(ev.time) ? ev.time : 'null'},"iso":"${this.iso(ev.time)}","type":`
      this.heads.put = Buffer.from(`${members}"put","key":`, 'latin1')
      this.heads.del = Buffer.from(`${members}"del","key":`, 'latin1')
    }
    const head = this.heads[ev.type]
    out.ensure(head.length + ev.key.length * 6 + 48)
    const b = out.buf
    let at = putNumber(b, putAscii(b, out.pos, '{"seq":'), ev.seq)
    b.set(head, at)
    at += head.length
    const keyEnd = putJsonString(b, at, ev.key)
    if (keyEnd >= 0) out.pos = keyEnd
    else {
      out.pos = at
      writeJsonString(out, ev.key)
    }
    if (ev.type === 'put') {
      ascii(out, ',"value":')
      writeTaggedJson(out, ev.value)
    }
    ascii(out, '}\n')
    this.sink.maybeFlush()
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
}

function ascii(out: GrowBuffer, s: string): void {
  out.ensure(s.length)
  out.pos = putAscii(out.buf, out.pos, s)
}

function clip(s: string, max: number): string {
  const chars = [...s]
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`
}
