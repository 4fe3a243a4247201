// State shared by all connections of one server: its settings (CONFIG GET/SET), the clients
// (CLIENT LIST/KILL), SCAN cursors, counters for INFO, and the time of the last SAVE.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { ClientState } from './clientState.js'
import type { KeyEvents } from './keyEvents.js'
import { Notifications } from './notifications.js'
import { PubSub } from './pubsub.js'
import { Tracking } from './tracking.js'
import { Watches } from './watches.js'
import type { ReplicationControl } from './commands/replication.js'

/** The settings CONFIG GET/SET know; the ones that mean something for this server. */
export interface ServerSettings {
  port: number
  host: string
  requirepass: string | undefined
  maxclients: number
  /** Seconds a client may be idle before it is closed; 0: never. */
  timeout: number
  /** Bytes of unsent replies after which the server stops reading a client until they drain. */
  outputLimit: number
  /** Bytes of unsent output (pushes) at which a subscriber is closed (Redis's client-output-buffer-limit pubsub). */
  pubsubOutputLimit: number
  maxBulkBytes: number
  maxInlineBytes: number
  maxArgs: number
}

/** SCAN cursors: a number standing for the last key returned (see ScanCursors). */
const MAX_CURSORS = 65536

/**
 * SCAN's cursor must be a number (go-redis and others parse it as uint64), and the keys are
 * walked in order, so a cursor stands for the last key a SCAN call returned. The server keeps
 * the newest MAX_CURSORS of them; an unknown cursor (forgotten, or from before a restart) starts
 * the walk over — still Redis's guarantee: every key present for the whole scan is returned,
 * some maybe twice.
 */
export class ScanCursors {
  private readonly byId = new Map<number, string>()
  private next = 1 + Math.floor(Math.random() * 1_000_000) * 1000

  remember(lastKey: string): number {
    const id = this.next++
    this.byId.set(id, lastKey)
    if (this.byId.size > MAX_CURSORS) this.byId.delete(this.byId.keys().next().value as number)
    return id
  }

  /** The key a cursor stands for; undefined: start at the beginning. */
  lookup(cursor: number): string | undefined {
    return this.byId.get(cursor)
  }
}

/** Only this machine can connect: a password is not required (protected mode). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1'
}

export class ServerState {
  readonly clients = new Map<number, ClientState>()
  readonly cursors = new ScanCursors()
  readonly startedAt = Date.now()
  lastSaveAt = Math.floor(Date.now() / 1000)
  totalConnections = 0
  totalCommands = 0
  rejectedConnections = 0
  /** TIME's last answer in µs (TIME never goes back). */
  lastTimeUs = 0
  /** Clients waiting in XREAD BLOCK (INFO's blocked_clients). */
  blockedClients = 0
  readonly pubsub = new PubSub()
  readonly notifications = new Notifications(this.pubsub)
  readonly tracking = new Tracking(this.clients)
  readonly watches = new Watches()
  /** Set by the server: the live writes feeding notifications and tracking (keyEvents.ts). */
  keyEvents: KeyEvents | undefined
  /** Set by the server: a replicated database's replication (ROLE, REPLICAOF, READONLY). */
  replication: ReplicationControl | undefined
  /** Set by the server: CONFIG SET timeout applies to the connections already open. */
  onTimeoutChange: ((seconds: number) => void) | undefined
  private nextClientId = 1
  private passwordHash: Buffer | undefined

  constructor(readonly settings: ServerSettings) {
    this.setPassword(settings.requirepass)
  }

  newClientId(): number {
    return this.nextClientId++
  }

  setPassword(password: string | undefined): void {
    this.settings.requirepass = password === '' ? undefined : password
    this.passwordHash = this.settings.requirepass === undefined ? undefined : hash(Buffer.from(this.settings.requirepass))
  }

  get needsAuth(): boolean {
    return this.passwordHash !== undefined
  }

  /**
   * Compares in constant time: both sides are hashed first, so neither the length nor the
   * content of the password leaks through how long the comparison takes.
   */
  checkPassword(given: Buffer): boolean {
    if (this.passwordHash === undefined) return false
    return timingSafeEqual(hash(given), this.passwordHash)
  }
}

function hash(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest()
}
