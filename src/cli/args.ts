// Command-line parsing for every `islab` command, on Node's util.parseArgs: each command
// declares its options once, and the same declaration drives parsing and its --help text.
import { parseArgs } from 'node:util'

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  /** Placeholder shown in help for string options, e.g. '<seq|time>'. */
  value?: string
  desc: string
}

export interface CommandSpec {
  name: string
  /** Positional arguments in order; a trailing '?' marks an optional one, e.g. ['dir', 'value?']. */
  args: string[]
  options: Record<string, OptionSpec>
  /** Paragraphs after the usage line: what the command does, what it prints, exit codes. */
  description: string
  examples: string[]
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/** The user typed something we cannot run: exit code 2 and a pointer to --help. */
export class UsageError extends Error {}

/** A failure to report without a stack trace: message, optional hint, exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly hint?: string,
  ) {
    super(message)
  }
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', desc: 'show this help' }

export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--')
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help')
}

export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}
  for (const [name, o] of Object.entries({ ...spec.options, help: HELP })) {
    options[name] = o.short === undefined ? { type: o.type } : { type: o.type, short: o.short }
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }))
  }
  const required = spec.args.filter((a) => !a.endsWith('?')).length
  if (parsed.positionals.length < required) {
    throw new UsageError(`missing <${spec.args[parsed.positionals.length]!.replace('?', '')}>`)
  }
  if (parsed.positionals.length > spec.args.length) {
    throw new UsageError(`unexpected argument '${parsed.positionals[spec.args.length]}'`)
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals }
}

function describeParseError(err: Error & { code?: string }): string {
  const opt = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1]
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt ?? ''}`.trim()
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(err.message) ? `option ${opt ?? ''} needs a value` : `option ${opt ?? ''} takes no value`
    default:
      return err.message
  }
}

export function usageLine(spec: CommandSpec): string {
  const args = spec.args.map((a) => (a.endsWith('?') ? `[${a.slice(0, -1)}]` : `<${a}>`)).join(' ')
  return `islab ${spec.name} ${args}${Object.keys(spec.options).length > 0 ? ' [options]' : ''}`
}

/** The command's --help; `summary` is its line in the command list (commands/index.ts). */
export function helpText(spec: CommandSpec, summary: string): string {
  const rows = Object.entries({ ...spec.options, help: HELP }).map(([name, o]) => {
    const flag = `${o.short !== undefined ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`
    return [flag, o.desc] as const
  })
  const width = Math.max(...rows.map(([f]) => f.length)) + 2
  const lines = [
    `islab ${spec.name}: ${summary}`,
    '',
    `Usage: ${usageLine(spec)}`,
    '',
    spec.description.trim(),
    '',
    'Options:',
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
    '',
    'Examples:',
    ...spec.examples.map((e) => `  ${e}`),
  ]
  return `${lines.join('\n')}\n`
}

/** A positive sequence number. */
export function parseSeq(option: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 0) {
    throw new UsageError(`${option} expects a sequence number (a whole number like 42), not '${text}'`)
  }
  return Number(text)
}

export type SeqOrTime = { seq: number; time?: undefined } | { time: number; seq?: undefined }

/** A sequence number (all digits) or a date/time (ISO 8601, e.g. 2026-11-26T13:05:00Z). */
export function parseSeqOrTime(option: string, text: string): SeqOrTime {
  if (/^\d+$/.test(text)) return { seq: parseSeq(option, text) }
  const time = /^\d{4}-\d\d/.test(text) ? Date.parse(text) : NaN
  if (!Number.isFinite(time)) {
    throw new UsageError(`${option} expects a sequence number or an ISO time like 2026-11-26T13:05:00Z, not '${text}'`)
  }
  return { time }
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name]
  return typeof v === 'string' ? v : undefined
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true
}

export function choice<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], dflt: T): T {
  const v = stringOption(args, name)
  if (v === undefined) return dflt
  if (!(allowed as readonly string[]).includes(v)) {
    throw new UsageError(`--${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, not '${v}'`)
  }
  return v as T
}
