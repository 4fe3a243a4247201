// The log's events themselves from a seq on, one per seq (a batch is one event, an entangle is an
// event too), caught up from the log and then live, with the change stream's hand-over: for
// faces that ship the log elsewhere (replication), where a change stream's per-key changes
// would split a batch apart.
import { InvalidOptionError } from '../errors.js'
import type { WalEvent } from '../events/types.js'
import { ChangeIterator } from './changeIterator.js'
import type { ChangeSource } from './changeStream.js'

export interface EventsOptions {
  /** Events with seq > since. Default: db.seq when events() is called. Past db.seq: the stream fails with ISLAB_INVALID_OPTION. */
  since?: number
  /** false: end once caught up. Default true. */
  live?: boolean
  /** Only events already on disk and fdatasynced. Default true. */
  durableOnly?: boolean
  /**
   * Read every event from the log, also once caught up, instead of taking live events from the
   * write path. Default false. For a consumer slower than the writes under load (a replication
   * publisher): a live stream holds each write from its commit until it is taken, long enough to
   * outlive the young GC generation, which costs the put path more than reading the log back.
   * Needs a log (not durability 'memory'). As it needs the log even when caught up, a checkpoint's
   * prune may pass it (ISLAB_HISTORY_GONE) unless its reader holds the log (db.holdLog).
   */
  fromLog?: boolean
}

/**
 * Events as the log holds them. A live event may be the write's own object: read it before the
 * next one is taken, never keep or change it (encode it, or copy what you need).
 */
export class EventStream implements AsyncIterable<WalEvent> {
  readonly since: number

  constructor(
    private readonly source: ChangeSource,
    private readonly opts: EventsOptions,
  ) {
    const seq = source.seq()
    this.since = opts.since ?? seq
    if (this.since > seq) throw new InvalidOptionError(`since is ${this.since} but the current seq is ${seq}; pass a seq up to ${seq}`)
  }

  [Symbol.asyncIterator](): AsyncIterator<WalEvent> {
    // One array reused for every event: read() iterates it before it asks for the next.
    const one: WalEvent[] = []
    const project = (ev: WalEvent): WalEvent[] => {
      one[0] = ev
      return one
    }
    return new ChangeIterator<WalEvent>(this.source, this.opts, this.since, project, { fromLog: this.opts.fromLog })
  }
}
