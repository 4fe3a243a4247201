// The `replication` option of openReplicated(): which NATS servers, which stream and subject,
// this database's role, and when a primary's writes are acknowledged.
import { InvalidOptionError } from '../index.js'

export interface ReplicationOptions {
  /** NATS server URLs ('127.0.0.1:4222', 'nats://host:4222'), one or several of one cluster. */
  servers: string | string[]
  /** The JetStream stream holding this database's events; the primary creates it when missing. */
  stream: string
  /** The subject the events are published to. Default `<stream>.events`. */
  subject?: string
  /** 'primary' publishes its writes; 'replica' applies the stream's events and takes no writes of its own. */
  role: 'primary' | 'replica'
  /**
   * Primary: 'local' (default) acknowledges a write as the local durability mode does and
   * publishes it behind the WAL; 'replicated' resolves it only once the stream has stored it.
   */
  ack?: 'local' | 'replicated'
  /** Events published and not yet acknowledged by the stream, at most. Default 256. */
  window?: number
  /** How long a publish waits for the stream's acknowledgement before it is retried. Default 5000 ms. */
  ackTimeoutMs?: number
  /** The stream's dedup window (the primary sets it when it creates the stream). Default 120000 ms. */
  duplicateWindowMs?: number
  /**
   * Snapshots in a JetStream Object Store bucket (docs/replication.md): the primary ships each
   * checkpoint there once the stream holds its seq, and trims the stream below it; a new replica,
   * or one behind the stream's first message, starts from the newest. `false` turns them off.
   */
  snapshots?: false | SnapshotOptions
}

export interface SnapshotOptions {
  /** The Object Store bucket. Default `<stream>-snapshots`. */
  bucket?: string
  /** Snapshots kept in the bucket. Default 2. */
  keep?: number
  /** The stream keeps at least this many of its newest messages when trimmed below a snapshot. Default 100000. */
  keepEvents?: number
}

export interface ResolvedReplication {
  servers: string[]
  stream: string
  subject: string
  role: 'primary' | 'replica'
  ack: 'local' | 'replicated'
  window: number
  ackTimeoutMs: number
  duplicateWindowMs: number
  snapshots: { enabled: boolean; bucket: string; keep: number; keepEvents: number }
}

const NAMES = ['servers', 'stream', 'subject', 'role', 'ack', 'window', 'ackTimeoutMs', 'duplicateWindowMs', 'snapshots']
const SNAPSHOT_NAMES = ['bucket', 'keep', 'keepEvents']

/** A known name the given one is a near miss of (a letter's case, a plural, a prefix); undefined otherwise. */
function nearMiss(name: string, known: readonly string[]): string | undefined {
  const n = name.toLowerCase()
  return known.find((k) => {
    const l = k.toLowerCase()
    return l === n || (n.length >= 4 && (l.startsWith(n) || n.startsWith(l)))
  })
}

/** `options` are the whole open options: a misspelt `replication` key is named in the error. */
export function resolveReplication(o: unknown, options: object = {}): ResolvedReplication {
  if (typeof o !== 'object' || o === null) {
    const misspelt = Object.keys(options).find((k) => k !== 'replication' && /^rep+l/i.test(k))
    throw new InvalidOptionError(`replication must be an object: { servers, stream, role }${misspelt === undefined ? '' : ` (found '${misspelt}': did you mean 'replication'?)`}`)
  }
  const r = o as Record<string, unknown>
  for (const k of Object.keys(r)) {
    if (NAMES.includes(k)) continue
    const near = nearMiss(k, NAMES)
    throw new InvalidOptionError(`replication.${k} is not an option${near === undefined ? '' : ` (did you mean replication.${near}?)`}; the options are ${NAMES.join(', ')}`)
  }
  const servers = typeof r.servers === 'string' ? [r.servers] : r.servers
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s !== '')) {
    throw new InvalidOptionError('replication.servers must be a NATS server URL or a non-empty array of them')
  }
  // Stream names may not hold '.', '*', '>' or whitespace (JetStream's rule).
  if (typeof r.stream !== 'string' || !/^[A-Za-z0-9_-]+$/.test(r.stream)) {
    throw new InvalidOptionError('replication.stream must be a stream name of letters, digits, _ and -')
  }
  const subject = r.subject ?? `${r.stream}.events`
  // No empty token either ('a..b'): the server refuses such a subject, which the publisher would retry for ever.
  if (typeof subject !== 'string' || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subject)) {
    throw new InvalidOptionError('replication.subject must be a plain subject (tokens of letters, digits, _ and - joined by dots, no wildcards)')
  }
  if (r.role !== 'primary' && r.role !== 'replica') throw new InvalidOptionError(`replication.role must be 'primary' or 'replica'`)
  const ack = r.ack ?? 'local'
  if (ack !== 'local' && ack !== 'replicated') throw new InvalidOptionError(`replication.ack must be 'local' or 'replicated'`)
  return {
    servers: servers as string[],
    stream: r.stream,
    subject,
    role: r.role,
    ack,
    window: positive('window', r.window, 256),
    ackTimeoutMs: positive('ackTimeoutMs', r.ackTimeoutMs, 5000),
    duplicateWindowMs: positive('duplicateWindowMs', r.duplicateWindowMs, 120_000),
    snapshots: resolveSnapshots(r.snapshots, r.stream),
  }
}

function resolveSnapshots(v: unknown, stream: string): ResolvedReplication['snapshots'] {
  const dflt = { enabled: true, bucket: `${stream}-snapshots`, keep: 2, keepEvents: 100_000 }
  if (v === undefined) return dflt
  if (v === false) return { ...dflt, enabled: false }
  if (typeof v !== 'object' || v === null) throw new InvalidOptionError('replication.snapshots must be false or { bucket, keep, keepEvents }')
  const s = v as Record<string, unknown>
  for (const k of Object.keys(s)) {
    if (!SNAPSHOT_NAMES.includes(k)) throw new InvalidOptionError(`replication.snapshots.${k} is not an option; the options are ${SNAPSHOT_NAMES.join(', ')}`)
  }
  const bucket = s.bucket ?? dflt.bucket
  if (typeof bucket !== 'string' || !/^[A-Za-z0-9_-]+$/.test(bucket)) throw new InvalidOptionError('replication.snapshots.bucket must be a bucket name of letters, digits, _ and -')
  const keepEvents = s.keepEvents ?? dflt.keepEvents
  if (typeof keepEvents !== 'number' || !Number.isSafeInteger(keepEvents) || keepEvents < 0) throw new InvalidOptionError('replication.snapshots.keepEvents must be an integer ≥ 0')
  return { enabled: true, bucket, keep: positive('snapshots.keep', s.keep, dflt.keep), keepEvents }
}

function positive(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidOptionError(`replication.${name} must be a positive integer`)
  return v
}
