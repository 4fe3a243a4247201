// `islab promote`: promotes a replica that `islab serve --nats … --role replica` runs, by sending
// it REPLICAOF NO ONE over the Redis protocol. Promotion is an act of the running replica (it
// stops following the stream and starts publishing); a directory no process has open needs no
// command: open it with role 'primary' (docs/replication.md, "Failover, fenced").
import net from 'node:net'
import type { CommandSpec, ParsedArgs } from '../args.js'
import { CliError, UsageError, stringOption } from '../args.js'
import { say } from '../output.js'

export const spec: CommandSpec = {
  name: 'promote',
  args: [],
  options: {
    port: { type: 'string', short: 'p', value: '<port>', desc: 'port of the replica (default 6379)' },
    host: { type: 'string', value: '<address>', desc: 'its address (default 127.0.0.1)' },
    requirepass: { type: 'string', value: '<password>', desc: 'its password, when it was served with --requirepass' },
    timeout: { type: 'string', value: '<seconds>', desc: 'how long to wait for the promotion (default 60)' },
  },
  description: `
Promotes the replica served on <host>:<port> (islab serve <dir> --nats <servers> --stream <name>
--role replica) to the primary of its stream: it applies what the stream holds beyond it, stops
following, and takes writes; the old primary, if it still runs, is fenced at its next write.
The same as sending it REPLICAOF NO ONE (redis-cli -p <port> REPLICAOF NO ONE).

Exit codes: 0 promoted (or already the primary), 1 the replica refused (the reply says why),
2 could not run (nothing listening, bad usage).`,
  examples: ['islab promote --port 6381', 'islab promote --host 10.0.0.7 --port 6379 --requirepass "$ISLAB_PASSWORD"'],
}

export async function run(args: ParsedArgs): Promise<number> {
  const portText = stringOption(args, 'port') ?? '6379'
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) === 0 || Number(portText) > 65535) throw new UsageError(`--port must be a port number (1-65535), not '${portText}'`)
  const timeoutText = stringOption(args, 'timeout') ?? '60'
  const timeoutS = Number(timeoutText)
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a positive number of seconds, not '${timeoutText}'`)
  const host = stringOption(args, 'host') ?? '127.0.0.1'
  const password = stringOption(args, 'requirepass')
  const commands: string[][] = []
  if (password !== undefined) commands.push(['AUTH', password])
  commands.push(['REPLICAOF', 'NO', 'ONE'], ['ROLE'])
  const replies = await exchange(host, Number(portText), commands, timeoutS * 1000)
  for (const r of replies) {
    if (r.startsWith('-')) throw new CliError(`${host}:${portText} refused: ${r.slice(1)}`, 1, r.startsWith('-NOAUTH') ? 'It was served with --requirepass: pass the same --requirepass <password>.' : undefined)
  }
  // ROLE of a primary is a 3-element array (master, offset, replicas); a replica's has 5.
  if (replies.at(-1) !== '*3') throw new CliError(`${host}:${portText} answered the promotion but ROLE still says it is not the primary`, 1)
  say(`islab promote: ${host}:${portText} is the primary of its stream now`)
  return 0
}

function encode(args: string[]): Buffer {
  const parts = [`*${args.length}\r\n`]
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`)
  return Buffer.from(parts.join(''))
}

/**
 * Sends `commands` one at a time, each after the reply to the one before (the server runs a
 * pipelined command while an earlier one, like the promotion, is still being carried out), and
 * resolves with the first line of each reply (+OK, -ERR …, an array's header), stopping at the
 * first error. Each command here answers one line, except ROLE, whose header is enough.
 */
function exchange(host: string, port: number, commands: string[][], timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    const lines: string[] = []
    let buf = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new CliError(`${host}:${port} did not answer within ${timeoutMs / 1000} s`, 1))
    }, timeoutMs)
    socket.on('connect', () => socket.write(encode(commands[0]!)))
    socket.on('data', (d) => {
      buf += d.toString('utf8')
      const nl = buf.indexOf('\r\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      buf = ''
      lines.push(line)
      if (line.startsWith('-') || lines.length === commands.length) {
        clearTimeout(timer)
        socket.end()
        resolve(lines)
        return
      }
      socket.write(encode(commands[lines.length]!))
    })
    // Closed before the last reply (the server stopped, or dropped this client): no answer will come.
    socket.on('close', () => {
      if (lines.length === commands.length || lines.at(-1)?.startsWith('-') === true) return
      clearTimeout(timer)
      reject(new CliError(`${host}:${port} closed the connection before answering ${commands[lines.length]![0]}: see its output (was it stopped?), then ask ROLE`, 1))
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const why = err.code === 'ECONNREFUSED' ? `nothing listens on ${host}:${port}: start the replica with islab serve <dir> --port ${port} --nats <servers> --stream <name> --role replica` : err.message
      reject(new UsageError(why))
    })
  })
}
