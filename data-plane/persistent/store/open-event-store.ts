// Opening the event store the way a node does: from the node's `streams` configuration (shared/
// config: `lingerMs`, `batchBytesMax` — issue #5's "batching, bounded by bytes and a linger time;
// both are configurable"). `config.streams` fits `EventStoreSettings` as is; the store does not
// import the config (data-plane/ depends on shared/ types only through plain shapes like this).
import type { Storage } from '../../../shared/storage/index.js'
import { EventStore } from './event-store.js'
import type { EventStoreOptions } from './event-store.js'

/** The group-commit settings a node configures (`config.streams`). */
export interface EventStoreSettings {
  /** How long the first append into an idle queue waits for company (ms; 0 = the end of the turn). */
  readonly lingerMs: number
  /** A batch is written at once when it reaches this many bytes. */
  readonly batchBytesMax: number
}

/** Store options from the node's settings; `extra` adds the rest (an observer, test bounds). */
export function eventStoreOptionsOf(settings: EventStoreSettings, extra: EventStoreOptions = {}): EventStoreOptions {
  return { ...extra, lingerMs: settings.lingerMs, batchBytesMax: settings.batchBytesMax }
}

/**
 * `EventStore.open(storage, …)` with the node's group-commit settings, e.g.
 * `openEventStore(storage, config.streams)`. The storage must hold `eventStoreKeySpaces`.
 */
export function openEventStore(storage: Storage, settings: EventStoreSettings, extra: EventStoreOptions = {}): Promise<EventStore> {
  return EventStore.open(storage, eventStoreOptionsOf(settings, extra))
}
