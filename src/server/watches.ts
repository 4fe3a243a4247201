// WATCH's registry: watched key → the clients watching it. Every write to a watched key marks
// its watchers dirty, and EXEC of a dirty client aborts — as Redis's touchWatchedKey does. The
// seq taken at WATCH alone cannot see a key that was absent, then written, then deleted again
// (absent has no seq): the registry sees every write in between.
//
// The server's own writes mark at commit (Keyspace), synchronously. Writes through the embedded
// API (and the database's own expiries) come through the log's live events, which are followed
// while any key is watched (keyEvents.ts): that costs the write path only between a WATCH and its
// EXEC, and without it a key absent at WATCH that the API creates and deletes again before EXEC
// would go unseen (absent before and after, no seq to compare).
import type { LogEvent } from '../index.js'
import type { ClientState } from './clientState.js'
import type { KeyEventSink } from './keyEvents.js'

export class Watches implements KeyEventSink {
  private readonly byKey = new Map<string, Set<ClientState>>()
  /** Clients watching a key. */
  private readonly clients = new Set<ClientState>()

  /** Keys watched by anyone (0: the write path does nothing). */
  get size(): number {
    return this.byKey.size
  }

  /** Set by the server: no key is watched any more (stop following events). WATCH starts them itself. */
  onActiveChange: (() => void) | undefined

  add(client: ClientState, key: string): void {
    let set = this.byKey.get(key)
    if (set === undefined) this.byKey.set(key, (set = new Set()))
    set.add(client)
    this.clients.add(client)
  }

  /** UNWATCH, EXEC, DISCARD, RESET, disconnect. */
  forget(client: ClientState, keys: Iterable<string>): void {
    this.clients.delete(client)
    for (const key of keys) {
      const set = this.byKey.get(key)
      if (set === undefined) continue
      set.delete(client)
      if (set.size === 0) this.byKey.delete(key)
    }
    if (this.byKey.size === 0) this.onActiveChange?.()
  }

  /** `key` was written: whoever watches it cannot EXEC. */
  touched(key: string): void {
    const set = this.byKey.get(key)
    if (set !== undefined) for (const c of set) c.watchDirty = true
  }

  onEvent(ev: LogEvent, notes: readonly string[] | undefined): void {
    // The server's own writes were marked at commit.
    if (notes !== undefined || this.byKey.size === 0 || ev.type === 'entangle') return
    if (ev.type === 'batch') for (const op of ev.ops) this.touched(op.key)
    else this.touched(ev.key)
  }

  /** Changes were missed: any watched key may have changed. */
  onGap(): void {
    for (const c of this.clients) c.watchDirty = true
  }
}
