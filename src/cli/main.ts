#!/usr/bin/env node
// `islab`: the command line of IsLabDB. Finds the command, parses its arguments, runs it, and
// turns failures into a message and an exit code: 0 success, 1 the database is damaged or the
// command failed on it (locked, history gone, ...), 2 the command could not run (bad usage,
// missing directory, I/O error). Stack traces only for bugs, and only with ISLAB_DEBUG=1.
import fs from 'node:fs'
import { IslabError } from '../errors.js'
import { CliError, UsageError, helpText, parseCommandArgs, wantsHelp } from './args.js'
import { COMMANDS } from './commands/index.js'
import type { CommandEntry } from './commands/index.js'
import { OutputClosed, say, stdout } from './output.js'

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'islab: look into and repair IsLabDB database directories',
    '',
    'Usage: islab <command> <dir> [options]      islab <command> --help',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Read-only commands (stats, dump, verify, replay, backup, tail, get) never take the lock or change',
    'the directory: they work while an application has the database open. The others open the',
    'database and need it closed.',
    '',
    'Exit codes: 0 success; 1 damaged, locked, or the command failed on the database; 2 bad usage',
    'or could not run. Documentation: docs/cli.md.',
    '',
    'Examples:',
    '  islab stats ./data',
    '  islab dump ./data --prefix user: | jq .value',
    '  islab verify ./data && echo healthy',
    '  islab tail -f ./data',
    '',
  ].join('\n')
}

function version(): string {
  const pkg = new URL('../../package.json', import.meta.url)
  return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version
}

/** Closest command name, for "did you mean". */
function suggest(name: string): CommandEntry | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: b.length + 1 }, (_, i) => i)
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0]!
      d[0] = i
      for (let j = 1; j <= b.length; j++) {
        const cur = d[j]!
        d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
        prev = cur
      }
    }
    return d[b.length]!
  }
  const best = COMMANDS.map((c) => ({ c, d: dist(name, c.name) })).sort((x, y) => x.d - y.d)[0]
  return best !== undefined && best.d <= 2 ? best.c : undefined
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined) {
    // No command is a usage error (exit 2), as for git or tar; the usage goes to stderr so that
    // `islab > out` in a script does not quietly write help text into the file.
    process.stderr.write(globalHelp())
    return 2
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined
    const entry = COMMANDS.find((c) => c.name === topic)
    if (entry !== undefined) {
      stdout.write(helpText((await entry.load()).spec, entry.summary))
      return 0
    }
    stdout.write(globalHelp())
    return topic === undefined ? 0 : 2
  }
  if (first === '--version' || first === '-V') {
    stdout.line(version())
    return 0
  }
  const entry = COMMANDS.find((c) => c.name === first)
  if (entry === undefined) {
    const near = suggest(first)
    say(`islab: unknown command '${first}'.${near !== undefined ? ` Did you mean '${near.name}'?` : ''}`)
    say(`Commands: ${COMMANDS.map((c) => c.name).join(', ')}. Run 'islab --help' for more.`)
    return 2
  }
  const mod = await entry.load()
  if (wantsHelp(rest)) {
    stdout.write(helpText(mod.spec, entry.summary))
    return 0
  }
  try {
    return await mod.run(parseCommandArgs(mod.spec, rest))
  } catch (err) {
    return report(entry.name, err)
  }
}

function report(command: string, err: unknown): number {
  const prefix = `islab ${command}:`
  if (err instanceof OutputClosed) return 0
  if (err instanceof UsageError) {
    say(`${prefix} ${err.message}`)
    say(`Run 'islab ${command} --help' for usage and examples.`)
    return 2
  }
  if (err instanceof CliError) {
    say(`${prefix} ${err.message}`)
    if (err.hint !== undefined) say(err.hint)
    return err.exitCode
  }
  if (err instanceof IslabError) {
    say(`${prefix} ${err.message}`)
    // Bad keys and values are the user's input, like bad usage; the rest is about the database.
    return /^ISLAB_(INVALID_|UNSERIALIZABLE)/.test(err.code) ? 2 : 1
  }
  const code = (err as NodeJS.ErrnoException).code
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    // A system error (EACCES, ENOSPC, EIO, ...): what failed, on which file.
    say(`${prefix} ${(err as Error).message}`)
    if (code === 'EACCES' || code === 'EPERM') say('Check the permissions of the directory and its files.')
    return 2
  }
  say(`${prefix} unexpected error: ${err instanceof Error ? err.message : String(err)}`)
  if (process.env.ISLAB_DEBUG === '1') say(err instanceof Error ? (err.stack ?? '') : '')
  else say('This is a bug in islab; run again with ISLAB_DEBUG=1 to see where it happened, and report it.')
  return 2
}

main(process.argv.slice(2)).then(
  (code) => {
    try {
      stdout.flush()
    } catch (err) {
      if (!(err instanceof OutputClosed)) throw err
    }
    process.exitCode = code
  },
  (err: unknown) => {
    process.exitCode = report('', err)
  },
)
