// How `islab dump` and `islab tail` print events. NDJSON, one event per line:
//   {"seq":7,"time":1764162000000,"iso":"2025-11-26T13:00:00.000Z","type":"put","key":"k","value":<tagged JSON>}
//   {"seq":8,...,"type":"del","key":"k"}
//   {"seq":9,...,"type":"batch","ops":[{"type":"put","key":"a","value":1},{"type":"del","key":"b"}]}
// or, with --flat, each batch op on its own line with "batch":{"op":i,"ops":n}. Values use the
// reversible tagged JSON of docs/wal-format.md. Lines are built as bytes straight into the
// output buffer: this is the hot loop of `islab dump`.
import type { Op, WalEvent } from '../events/types.js'
import { toTaggedJson } from '../events/taggedJson.js'
import { putAscii, putNumber, writeJsonString, writeTaggedJson } from '../events/taggedJsonWriter.js'
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
  private timeOf = NaN
  private timeBytes: Uint8Array = new Uint8Array(0)
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
    if (ev.type !== 'put' && ev.type !== 'del' && ev.type !== 'batch') {
      this.other(ev as unknown as OtherEvent)
      return
    }
    if (ev.type !== 'batch') {
      if (prefix !== undefined && !ev.key.startsWith(prefix)) return
      if (this.format === 'ndjson') this.line(ev, ev, undefined, 0)
      else this.row(ev, ev, '')
      return
    }
    const ops = prefix === undefined ? ev.ops : ev.ops.filter((op) => op.key.startsWith(prefix))
    if (ops.length === 0) return
    if (this.format === 'table') {
      this.row(ev, undefined, `${ops.length} of ${ev.ops.length} ops`)
      for (const op of ops) this.row(undefined, op, '')
    } else if (this.sel.flat) {
      for (const op of ops) {
        this.line(ev, op, undefined, ev.ops.indexOf(op))
      }
    } else {
      this.line(ev, undefined, ops, 0)
    }
  }

  /**
   * An event of a type added after this printer (physics events, ...): its members as tagged
   * JSON after seq, time and iso. It has a key when it names one, for --prefix.
   */
  private other(ev: OtherEvent): void {
    const { seq, time, ...rest } = ev
    const key = typeof rest.key === 'string' ? rest.key : undefined
    if (this.sel.prefix !== undefined && key !== undefined && !key.startsWith(this.sel.prefix)) return
    const members = JSON.stringify(toTaggedJson(rest))
    if (this.format === 'ndjson') {
      this.sink.line(`{"seq":${seq},"time":${time},"iso":"${this.iso(time)}",${members.slice(1)}`)
    } else {
      const { type, ...more } = rest
      this.headerRow()
      this.sink.line(`${String(seq).padStart(9)}  ${this.iso(time).padEnd(24)}  ${String(type).padEnd(5)}  ${clip(key ?? '', 24).padEnd(24)}  ${clip(JSON.stringify(toTaggedJson(more)), Math.max(10, this.width - 70))}`)
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

  /** One NDJSON line: a put/del (op), a whole batch (ops), or one op of a batch (--flat). */
  private line(ev: WalEvent, op: Op | undefined, ops: readonly Op[] | undefined, index: number): void {
    const out = this.sink.out
    out.ensure(128)
    const b = out.buf
    let at = putAscii(b, out.pos, '{"seq":')
    at = putNumber(b, at, ev.seq)
    // Events come many to a millisecond: the time and iso members are made once per time.
    if (ev.time !== this.timeOf) {
      this.timeOf = ev.time
      this.timeBytes = Buffer.from(`,"time":${Number.isFinite(ev.time) ? ev.time : 'null'},"iso":"${this.iso(ev.time)}",`, 'latin1')
    }
    b.set(this.timeBytes, at)
    out.pos = at + this.timeBytes.length
    if (op !== undefined) {
      writeOp(out, op)
      if (ev.type === 'batch') ascii(out, `,"batch":{"op":${index},"ops":${ev.ops.length}}`)
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

  private headerRow(): void {
    if (this.headerDone) return
    this.headerDone = true
    this.sink.line(`${'SEQ'.padStart(9)}  ${'TIME'.padEnd(24)}  TYPE   ${'KEY'.padEnd(24)}  VALUE`)
  }

  private row(ev: WalEvent | undefined, op: Op | undefined, note: string): void {
    this.headerRow()
    const seq = ev === undefined ? '' : String(ev.seq)
    const time = ev === undefined ? '' : this.iso(ev.time)
    const type = op === undefined ? 'batch' : ev === undefined ? `↳${op.type}` : op.type
    let text = `${seq.padStart(9)}  ${time.padEnd(24)}  ${type.padEnd(5)}  `
    if (op === undefined) {
      text += note
    } else {
      text += `${clip(op.key, 24).padEnd(24)}  `
      if (op.type === 'put') {
        this.scratch.reset()
        writeTaggedJson(this.scratch, op.value)
        text += clip(this.scratch.view().toString('utf8'), Math.max(10, this.width - [...text].length))
      }
    }
    this.sink.line(text.trimEnd())
  }
}

type OtherEvent = { type: string; seq: number; time: number; key?: unknown } & Record<string, unknown>

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
