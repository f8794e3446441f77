// The change feed of a CRDT KV bucket state: `watch(selector)` is a cold Observable that emits
// the current values of the selected keys, then `ready`, then every later visible change of a
// selected key, in revision order, each once (RxJS: subscribing registers a listener,
// unsubscribing removes it).
//
// Gap-free by construction: the state is synchronous, so registering the listener and reading
// the current values happen with no operation applied in between; changes that a subscriber
// causes while it receives the initial values (applying operations inside `next`) are held and
// delivered after `ready`.
//
// Resumption: `fromRevision` (a revision this replica emitted before) replays only the keys that
// changed after it — their current value, or `delete` for keys without one — then `ready`.
// Revisions are this replica's own: when `fromRevision` is older than the last purged tombstone
// (the deletes in between are gone) or newer than the state (another replica's number), the
// feed starts with `reset` ("forget what you hold for this selector") and the full current values.
import { Observable } from 'rxjs'
import type { KvEntry } from './record.js'

/** Which keys a watch follows. */
export type KvSelector = { readonly key: string } | { readonly prefix: string }

export type KvWatchEvent =
  /** A key's value: current (`initial`) or after a change. */
  | { readonly type: 'value'; readonly key: string; readonly entry: KvEntry; readonly initial: boolean }
  /** The key has no value any more (deleted, or replaced by a value not visible yet). */
  | { readonly type: 'delete'; readonly key: string; readonly revision: number; readonly initial: boolean }
  /** Resumption was not possible: drop everything held for this selector; the full state follows. */
  | { readonly type: 'reset'; readonly revision: number }
  /** The initial values are out; live changes follow. */
  | { readonly type: 'ready'; readonly revision: number }

export interface KvWatchOptions {
  /** Resume after this revision of this replica (see the header). */
  readonly fromRevision?: number
}

/** A visible change of one key, as the state records it. */
export interface KvChange {
  readonly key: string
  readonly revision: number
  /** The new entry, or undefined when the key has no value any more. */
  readonly entry: KvEntry | undefined
}

/** What `watchState` needs from the state. */
export interface WatchSource {
  readonly revision: number
  /** Revisions at or below this may have lost deletes to garbage collection. */
  readonly purgedThroughRevision: number
  /** Current entries of the selected keys, in key order. */
  entriesMatching(selector: KvSelector): KvEntry[]
  /** Keys changed after `revision`, in revision order: the entry, or the revision of the change that left no value. */
  changedSince(selector: KvSelector, revision: number): KvChange[]
  /** Registers a listener of visible changes of selected keys; returns its removal. */
  listen(selector: KvSelector, listener: (change: KvChange) => void): () => void
}

export const selectorMatches = (selector: KvSelector, key: string): boolean => ('key' in selector ? key === selector.key : key.startsWith(selector.prefix))

const eventOf = (change: KvChange, initial: boolean): KvWatchEvent =>
  change.entry === undefined ? { type: 'delete', key: change.key, revision: change.revision, initial } : { type: 'value', key: change.key, entry: change.entry, initial }

export function watchState(source: WatchSource, selector: KvSelector, options: KvWatchOptions = {}): Observable<KvWatchEvent> {
  return new Observable<KvWatchEvent>((subscriber) => {
    /** True until the initial values and every change held meanwhile are out. */
    let initializing = true
    const held: KvChange[] = []
    const stop = source.listen(selector, (change) => {
      if (initializing) held.push(change)
      else subscriber.next(eventOf(change, false))
    })
    // Everything emitted before `ready` reflects the state at this revision (held changes come after).
    const startRevision = source.revision
    const from = options.fromRevision
    if (from !== undefined && from >= source.purgedThroughRevision && from <= source.revision) {
      for (const change of source.changedSince(selector, from)) {
        if (subscriber.closed) break
        subscriber.next(eventOf(change, true))
      }
    } else {
      if (from !== undefined) subscriber.next({ type: 'reset', revision: startRevision })
      for (const entry of source.entriesMatching(selector)) {
        if (subscriber.closed) break
        subscriber.next({ type: 'value', key: entry.key, entry, initial: true })
      }
    }
    if (!subscriber.closed) subscriber.next({ type: 'ready', revision: startRevision })
    // Changes the subscriber causes while receiving held ones join the end of `held`: order kept.
    for (let change = held.shift(); change !== undefined && !subscriber.closed; change = held.shift()) subscriber.next(eventOf(change, false))
    initializing = false
    return stop
  })
}
