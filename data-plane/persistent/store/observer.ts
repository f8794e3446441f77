// What the event store tells an observer (the node's metrics; a benchmark): each synced batch —
// how many callers' writes it carried, its operations and bytes, how long the synced write took,
// and the events it appended per stream — and each maintenance step and call. Pushed once per
// batch or step, never per message, so an observer costs nothing on the append path.
// Observers must be cheap and must not throw (a throw is swallowed: an observer's failure must
// not turn a durable write into a reported failure).
import type { MaintenanceResult } from './maintenance.js'

/** Events and bytes (keys + values) one batch appended to one stream. */
export interface AppendedToStream {
  readonly events: number
  readonly bytes: number
}

export interface CommittedBatch {
  /** Callers' writes acknowledged by this batch (appends, deliveries, progress records…). */
  readonly items: number
  /** Storage operations written (puts and deletes, the metadata records included). */
  readonly operations: number
  /** Key and value bytes written. */
  readonly bytes: number
  /** How long the synced write took (ms): the binding's DB::Write + fsync, on the JS thread. */
  readonly syncMs: number
  /** Events appended by this batch, per stream (absent: none). */
  readonly appended: ReadonlyMap<string, AppendedToStream>
}

export interface MaintenanceStepReport {
  readonly stream: string
  /** `retention`: events deleted from the head; `ids`: id-index entries expired by log time. */
  readonly kind: 'retention' | 'ids'
  /** Events deleted (retention) or id entries expired (ids). */
  readonly entries: number
  /** Bytes of the deleted events (retention; 0 for ids). */
  readonly bytes: number
  /** From the step's first read to its synced batch and range deletes (ms, wall time). */
  readonly durationMs: number
}

export interface MaintenanceCallReport extends MaintenanceResult {
  readonly stream: string
  readonly steps: number
  readonly durationMs: number
  /** The longest single step of this call (ms). */
  readonly longestStepMs: number
}

export interface EventStoreObserver {
  committed?(batch: CommittedBatch): void
  maintenanceStep?(step: MaintenanceStepReport): void
  maintained?(call: MaintenanceCallReport): void
}

/** Calls `notify` on every observer, swallowing their errors. */
export function notifyObservers(observers: ReadonlySet<EventStoreObserver>, notify: (observer: EventStoreObserver) => void): void {
  for (const observer of observers) {
    try {
      notify(observer)
    } catch {
      // See the header: observers are told, never trusted with the write path.
    }
  }
}
