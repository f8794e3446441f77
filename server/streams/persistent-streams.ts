// Persistent streams on this node: one StreamEngine (data-plane/persistent/engine) per persistent
// stream whose placement in this node's region is this node, created when the definition appears
// in the cluster state and stopped when it goes; and the wire: an in-process subscriber on the
// stream's subjects (`<name>` and `<name>.<topic…>`, shared/subject/stream.ts) takes every
// publish, stores it, and answers the reply subject (if any) with the JSON ack once the event is
// synced at the requested level (docs/api.md § Publishing to a persistent stream).
//
// A stream with no engine here (unknown, ephemeral, placed elsewhere, still opening) is not
// intercepted: its publishes are routed as today. Only the `default` namespace is reachable by
// subject (connections are bound to it until they carry their own).
import type { ClusterState, StreamSpec } from '../../control-plane/cluster/index.js'
import { defaultNamespace, targetMembers } from '../../control-plane/cluster/index.js'
import { EventStore } from '../../data-plane/persistent/index.js'
import { StreamEngine } from '../../data-plane/persistent/engine/index.js'
import type { EngineAck } from '../../data-plane/persistent/engine/index.js'
import type { Logger } from '../../shared/log.js'
import type { Storage } from '../../shared/storage/index.js'
import type { LocalMessage, Router } from '../router.js'
import { ackJson, failureJson, parsePublish } from './publish-wire.js'

/** How often the placements are checked besides on every cluster event. */
export const reconcileIntervalMsDefault = 1_000
/** Named limit: engines on one node (each takes one in-process subscriber on the router). */
export const persistentStreamsPerNodeMax = 32

export interface PersistentStreamsOptions {
  readonly router: Router
  readonly storage: Storage
  readonly logger: Logger
  readonly nodeId: string
  readonly region: string
  /** The cluster state as applied here. */
  readonly state: () => ClusterState
  /** Called on every cluster event (reconcile at once); returns the unsubscribe. */
  readonly onChange?: (listener: () => void) => () => void
  readonly nowMs?: () => number
  readonly reconcileIntervalMs?: number
  /** Engine tick (ms); default the engine's. */
  readonly tickMs?: number
}

export interface PersistentStreamCounters {
  /** Publishes taken by an engine (with or without a reply subject). */
  published: number
  /** Acks sent (ok). */
  acked: number
  /** Publishes refused or failed (an error answer, or a failed fire-and-forget). */
  failed: number
}

interface Entry {
  readonly key: string
  readonly name: string
  spec: StreamSpec
  engine?: StreamEngine
  unsubscribe?: () => void
  removed: boolean
}

export interface PersistentStreams {
  /** The engine of `namespace/name` on this node, once open. */
  engine(key: string): StreamEngine | undefined
  /** Keys of the streams with an open engine. */
  openStreams(): string[]
  readonly counters: PersistentStreamCounters
  readonly store: EventStore
  /** Stops every engine and closes the event store (before the storage closes). */
  close(): Promise<void>
}

const encoder = new TextEncoder()

/** The persistent streams this node should drive: key → spec. */
function wanted(state: ClusterState, nodeId: string, region: string): Map<string, StreamSpec> {
  const result = new Map<string, StreamSpec>()
  for (const [key, record] of state.streams) {
    if (record.spec.kind !== 'persistent' || record.spec.namespace !== defaultNamespace) continue
    const placement = state.placements.get(key)?.get(region)
    if (placement === undefined) continue
    const members = targetMembers(placement)
    if (members.length === 1 && members[0] === nodeId) result.set(key, record.spec)
  }
  return result
}

export async function attachPersistentStreams(options: PersistentStreamsOptions): Promise<PersistentStreams> {
  const { router, storage, logger } = options
  const store = await EventStore.open(storage)
  const entries = new Map<string, Entry>()
  const counters: PersistentStreamCounters = { published: 0, acked: 0, failed: 0 }
  let closed = false

  const reply = (replyTo: string | undefined, body: Record<string, unknown>): void => {
    if (replyTo === undefined || replyTo.length === 0) return
    router.publishLocal(replyTo, undefined, undefined, encoder.encode(JSON.stringify(body)))
  }

  const onPublish = (entry: Entry, message: LocalMessage): void => {
    const engine = entry.engine
    if (engine === undefined) return
    const parsed = parsePublish(message.subject, message.headerBlock, entry.spec.ackDefault)
    if (!parsed.ok) {
      counters.failed += 1
      reply(message.replyTo, failureJson(parsed.code, parsed.message))
      return
    }
    counters.published += 1
    const { id, ackLevel, headers } = parsed.value
    void engine.publish({ ...(id === undefined ? {} : { id }), headers, payload: message.payload, ackLevel }).then((ack: EngineAck) => {
      if (ack.ok) counters.acked += 1
      else counters.failed += 1
      reply(message.replyTo, ackJson(entry.key, ack))
    })
  }

  const open = async (entry: Entry): Promise<void> => {
    try {
      const engine = await StreamEngine.open({
        store,
        storage,
        stream: entry.key,
        node: options.nodeId,
        replicas: [options.nodeId],
        dedupWindowMs: entry.spec.dedupWindowMs,
        retention: { maxAgeMs: entry.spec.retention.maxAgeMs, maxBytes: entry.spec.retention.maxBytes, maxCount: entry.spec.retention.maxEvents },
        ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
        ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
        onNotice: (kind, detail) => logger.warn({ stream: entry.key, kind }, `persistent stream: ${detail}`),
      })
      if (entry.removed || closed) {
        engine.stop()
        return
      }
      entry.engine = engine
      // `name.#` matches `name` and every topic under it.
      entry.unsubscribe = router.subscribeLocal(`${entry.name}.#`, (message) => onPublish(entry, message))
      logger.info({ stream: entry.key, incarnation: engine.incarnation }, 'persistent stream open on this node')
    } catch (error) {
      entries.delete(entry.key)
      logger.error({ stream: entry.key, err: (error as Error).message }, 'persistent stream failed to open')
    }
  }

  const stopEntry = (entry: Entry): void => {
    entry.removed = true
    entry.unsubscribe?.()
    entry.engine?.stop()
    entries.delete(entry.key)
  }

  const reconcile = (): void => {
    if (closed) return
    const want = wanted(options.state(), options.nodeId, options.region)
    for (const entry of [...entries.values()]) {
      if (!want.has(entry.key)) {
        stopEntry(entry)
        logger.info({ stream: entry.key }, 'persistent stream stopped on this node')
      }
    }
    for (const [key, spec] of want) {
      const existing = entries.get(key)
      if (existing !== undefined) {
        existing.spec = spec
        continue
      }
      if (entries.size >= persistentStreamsPerNodeMax) {
        logger.warn({ stream: key, limit: persistentStreamsPerNodeMax }, 'persistent stream not opened: persistentStreamsPerNodeMax reached')
        continue
      }
      const entry: Entry = { key, name: spec.name, spec, removed: false }
      entries.set(key, entry)
      void open(entry)
    }
  }

  const unsubscribeChanges = options.onChange?.(reconcile)
  const timer = setInterval(reconcile, options.reconcileIntervalMs ?? reconcileIntervalMsDefault)
  timer.unref()
  reconcile()

  return {
    engine: (key) => entries.get(key)?.engine,
    openStreams: () => [...entries.values()].filter((entry) => entry.engine !== undefined).map((entry) => entry.key),
    counters,
    store,
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(timer)
      unsubscribeChanges?.()
      for (const entry of [...entries.values()]) stopEntry(entry)
      await store.close()
    },
  }
}
