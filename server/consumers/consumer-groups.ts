// Consumer groups on this node (DESIGN §3.2.6, docs/api.md § Consuming):
//  - runs a GroupHost (group-host.ts) for every group whose controller designation
//    `scc/<ns>/<stream>/<group>/<region>` this node holds, at the designation's term, once the
//    stream's engine is open here; stops it (fenced) when the designation moves or its term goes
//    up, and when the group goes (its progress copy is removed);
//  - keeps this node's copy of the progress of groups controlled elsewhere (the stream's replicas
//    in the region): `progress` frames on the transport channel `consumer` are merged into it
//    (the higher term wins; a stale sender is told `stale`), saved in the GroupStore, and handed
//    to a new controller that `gather`s;
//  - moves dead letters to `<stream>-dlq` (ensured through the control plane on first need, same
//    regions and replicas as the source), published with `Rg-Msg-Id: <ns>/<stream>/<group>/<id>`
//    so a move redone after a failover is a duplicate.
import { filter } from 'rxjs'
import type { Subscription } from 'rxjs'
import type { ApplyResult, ClusterState, Command, GroupSpec, StreamSpec } from '../../control-plane/cluster/index.js'
import { groupControllerName } from '../../control-plane/cluster/index.js'
import { ProgressState } from '../../data-plane/persistent/consumer/index.js'
import type { ControllerSnapshot, DeadLetterOrder, GroupSettings } from '../../data-plane/persistent/consumer/index.js'
import type { EventHeader, StreamEvent } from '../../data-plane/persistent/index.js'
import { GroupStore } from '../../data-plane/persistent/store/group-store.js'
import { apiDefaults } from '../../shared/api/index.js'
import { consumerWireDefaults, dlqMsgId, dlqStreamName } from '../../shared/api/consumer-wire.js'
import type { Logger } from '../../shared/log.js'
import type { Storage } from '../../shared/storage/index.js'
import type { Transport } from '../../shared/transport/index.js'
import type { Router } from '../router.js'
import { GroupHost, groupHostTimingDefaults } from './group-host.js'
import type { ConsumerEnginePort, GroupHostTiming } from './group-host.js'
import { controlledGroupsPerNodeMax, reconcileIntervalMsDefault, replicaCopiesCachedMax } from './limits.js'
import { decodeConsumerFrame, encodeConsumerFrame } from './peer-frames.js'
import type { ConsumerFrame } from './peer-frames.js'
import { deadLetterHeaders } from './wire-out.js'

/** A publish into a persistent stream from inside the node (the dead letters). */
export interface ConsumerStreamPublish {
  readonly id?: string
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
  readonly ackLevel: 'write' | 'majority' | 'all'
}

/** What consumer groups need of server/streams (PersistentStreams fits it). */
export interface ConsumerStreamsPort {
  engine(key: string): ConsumerEnginePort | undefined
  readonly store: { indexAtOrAfter(stream: string, hlc: { readonly wallMs: number; readonly logical: number }): Promise<number> }
  /** Publishes into a stream of this region through whichever node holds it; never rejects. */
  publish(key: string, request: ConsumerStreamPublish): Promise<{ readonly ok: boolean }>
}

export interface ConsumerGroupsOptions {
  readonly router: Router
  readonly streams: ConsumerStreamsPort
  /** The cluster state as applied here. */
  readonly state: () => ClusterState
  /** Called on every cluster event; returns the unsubscribe. */
  readonly onChange?: (listener: () => void) => () => void
  readonly nodeId: string
  readonly region: string
  readonly storage: Storage
  /** The peer transport (ClusterRuntime.peerLink()); without it progress is not replicated. */
  readonly peerLink?: Transport
  /** Proposes a cluster command (the dead-letter stream's ensureStream). */
  readonly ensure?: (command: Command) => Promise<ApplyResult>
  readonly logger: Logger
  readonly nowMs?: () => number
  readonly reconcileIntervalMs?: number
  readonly timing?: Partial<GroupHostTiming>
}

export interface ConsumerGroupView extends ControllerSnapshot {
  /** `namespace/stream/group`. */
  readonly group: string
}

export interface ConsumerGroupsCounters {
  /** Controllers started here. */
  started: number
  /** Controllers stopped because a newer term exists. */
  fenced: number
  /** Progress frames merged into a replica copy. */
  copiesMerged: number
  /** Progress frames refused (older term than the copy). */
  staleRefused: number
  /** Peer frames that did not decode. */
  malformedFrames: number
  /** Dead letters stored in a `-dlq` stream. */
  deadLettersMoved: number
}

export interface ConsumerGroups {
  /** Live view of every group controlled here. */
  snapshots(): ConsumerGroupView[]
  snapshot(group: string): ConsumerGroupView | undefined
  readonly counters: ConsumerGroupsCounters
  /** Saves and stops every controller, then closes the store (before the storage closes). */
  close(): Promise<void>
}

function settingsOf(group: GroupSpec, stream: StreamSpec): GroupSettings {
  return {
    mode: group.mode,
    maxInFlight: group.maxInFlight,
    ackWaitMs: group.ackWaitMs,
    // The group's maxDeliveries wins when set; 0 = the stream's default (0 = unlimited).
    maxDeliveries: group.maxDeliveries > 0 ? group.maxDeliveries : stream.deadLetter.maxDeliveries,
    maxLag: stream.deadLetter.maxLag,
    heartbeatMsDefault: consumerWireDefaults.heartbeatMs,
    missedHeartbeatsMax: consumerWireDefaults.missedHeartbeatsMax,
    fetchExpiresMsDefault: consumerWireDefaults.fetchExpiresMs,
    fetchIdleMs: consumerWireDefaults.fetchIdleMs,
    deadLetterRetryMs: 1_000,
  }
}

/**
 * A group's progress is named by its key and the index of the entry that created it: a group
 * deleted and created again (or one a node missed the deletion of) starts from nothing, never
 * from an old life's head.
 */
export function progressKey(namespace: string, stream: string, group: string, createdIndex: number): string {
  return `${namespace}/${stream}/${group}#${createdIndex}`
}

const sameSettings = (a: GroupSettings, b: GroupSettings): boolean => JSON.stringify(a) === JSON.stringify(b)

export async function attachConsumerGroups(options: ConsumerGroupsOptions): Promise<ConsumerGroups> {
  const { router, streams, logger, nodeId, region } = options
  const nowMs = options.nowMs ?? Date.now
  const timing: GroupHostTiming = { ...groupHostTimingDefaults, ...options.timing }
  const store = GroupStore.open(options.storage)
  const hosts = new Map<string, GroupHost>()
  const hostSettings = new Map<string, GroupSettings>()
  const copies = new Map<string, ProgressState>()
  /** Per group: serializes loads and saves of the replica copy. */
  const copyChains = new Map<string, Promise<void>>()
  const ensuring = new Map<string, Promise<void>>()
  const warned = new Set<string>()
  const counters: ConsumerGroupsCounters = { started: 0, fenced: 0, copiesMerged: 0, staleRefused: 0, malformedFrames: 0, deadLettersMoved: 0 }
  let closed = false

  const warnOnce = (key: string, fields: Record<string, unknown>, message: string): void => {
    if (warned.has(key)) return
    warned.add(key)
    logger.warn(fields, message)
  }

  const peersOf = (streamKey: string): string[] => {
    const placed = options.state().placements.get(streamKey)?.get(region)
    if (placed === undefined) return []
    return [...new Set([...placed.replicas, ...placed.pending, ...placed.retiring])].filter((id) => id !== nodeId).sort()
  }

  const sendFrame = (to: string, frame: ConsumerFrame): boolean => {
    const link = options.peerLink
    if (link === undefined) return false
    const bytes = encodeConsumerFrame(frame)
    if (bytes === undefined) return false
    return link.send(to, 'consumer', bytes)
  }

  const broadcastFrame = (to: readonly string[], frame: ConsumerFrame): number => {
    const link = options.peerLink
    if (link === undefined) return 0
    const bytes = encodeConsumerFrame(frame)
    if (bytes === undefined) return -1
    let taken = 0
    for (const peer of to) if (link.send(peer, 'consumer', bytes)) taken += 1
    return taken
  }

  const withCopy = (group: string, work: (copy: ProgressState | undefined) => Promise<void> | void): Promise<void> => {
    const previous = copyChains.get(group) ?? Promise.resolve()
    const next = previous.then(async () => {
      let copy = copies.get(group)
      if (copy === undefined) {
        copy = await store.load(group)
        if (copy !== undefined && copies.size < replicaCopiesCachedMax) copies.set(group, copy)
      }
      await work(copy)
    })
    const settled = next.catch((error: unknown) => logger.error({ group, err: (error as Error).message }, 'consumer group: replica copy update failed'))
    copyChains.set(group, settled)
    void settled.then(() => {
      if (copyChains.get(group) === settled) copyChains.delete(group)
    })
    return next
  }

  // ---- dead letters ---------------------------------------------------------------------------

  const ensureDeadLetterStream = (namespace: string, stream: string): Promise<void> => {
    const dlqKey = `${namespace}/${dlqStreamName(stream)}`
    if (options.state().streams.has(dlqKey)) return Promise.resolve()
    const pending = ensuring.get(dlqKey)
    if (pending !== undefined) return pending
    const source = options.state().streams.get(`${namespace}/${stream}`)?.spec
    if (source === undefined || options.ensure === undefined) return Promise.reject(new Error(`dead-letter stream ${dlqKey}: cannot be created here`))
    const command: Command = {
      type: 'ensureStream',
      namespace,
      name: dlqStreamName(stream),
      kind: 'persistent',
      regions: [...source.regions],
      replicasPerRegion: source.replicasPerRegion,
      // A move redone after a failover must be a duplicate: dedup on, whatever the source has.
      dedupWindowMs: source.dedupWindowMs > 0 ? source.dedupWindowMs : apiDefaults.dedupWindowMs,
      retention: { ...source.retention },
      ackDefault: source.ackDefault,
      deadLetter: { maxDeliveries: 0, maxLag: 0 },
    }
    const ensured = options.ensure(command).then((result) => {
      // A conflict means it exists (with another spec): fine for dead letters.
      if (!result.ok && result.code !== 'RG_ERR_CONFLICT') throw new Error(`${result.code}: ${result.message}`)
      logger.info({ stream: dlqKey }, 'consumer group: dead-letter stream ensured')
    })
    ensuring.set(dlqKey, ensured)
    void ensured.then(
      () => ensuring.delete(dlqKey),
      (error: unknown) => {
        ensuring.delete(dlqKey)
        warnOnce(`ensure:${dlqKey}`, { stream: dlqKey, err: (error as Error).message }, 'consumer group: the dead-letter stream could not be created (moves are retried)')
      },
    )
    return ensured
  }

  const moveDeadLetter = async (namespace: string, stream: string, group: string, order: DeadLetterOrder, event: StreamEvent): Promise<boolean> => {
    await ensureDeadLetterStream(namespace, stream)
    const dlqKey = `${namespace}/${dlqStreamName(stream)}`
    const request: ConsumerStreamPublish = {
      id: dlqMsgId(namespace, stream, group, event.id),
      headers: deadLetterHeaders({ namespace, stream, group }, order, event),
      payload: event.payload,
      ackLevel: 'majority',
    }
    const ack = await streams.publish(dlqKey, request)
    if (ack.ok) counters.deadLettersMoved += 1
    else warnOnce(`publish:${dlqKey}`, { stream: dlqKey }, 'consumer group: a dead-letter publish was refused (retried)')
    return ack.ok
  }

  // ---- controllers ----------------------------------------------------------------------------

  const stopHost = (key: string, fenceTerm: number | undefined): void => {
    const host = hosts.get(key)
    if (host === undefined) return
    hosts.delete(key)
    hostSettings.delete(key)
    if (fenceTerm !== undefined) counters.fenced += 1
    host.stop(fenceTerm === undefined ? {} : { fenceTerm })
    logger.info({ group: host.key, term: host.term, ...(fenceTerm === undefined ? {} : { newerTerm: fenceTerm }) }, 'consumer group controller stopped on this node')
  }

  /** Hosts and copies are keyed by progress key (`progressKey`): the name in the store and on the wire. */
  const startHost = (spec: GroupSpec, key: string, term: number, settings: GroupSettings): void => {
    const streamKey = `${spec.namespace}/${spec.stream}`
    const address = { namespace: spec.namespace, stream: spec.stream, group: spec.name }
    const host = new GroupHost(
      {
        router,
        store,
        logger,
        nodeId,
        nowMs,
        timing,
        engine: () => streams.engine(streamKey),
        indexAtTime: (timeMs) => streams.store.indexAtOrAfter(streamKey, { wallMs: timeMs, logical: 0 }),
        ownCopy: async () => {
          // The cached or stored copy; from now on the host's progress is this node's copy.
          await (copyChains.get(key) ?? Promise.resolve())
          const copy = copies.get(key) ?? (await store.load(key))
          copies.delete(key)
          return copy
        },
        peers: () => peersOf(streamKey),
        sendFrame,
        broadcastFrame,
        moveDeadLetter: (order, event) => moveDeadLetter(spec.namespace, spec.stream, spec.name, order, event),
        region,
        streamRegions: () => options.state().streams.get(streamKey)?.spec.regions ?? [],
        regionOfNode: (id) => options.state().nodes.get(id)?.region,
      },
      address,
      key,
      term,
      settings,
      spec.start,
    )
    hosts.set(key, host)
    hostSettings.set(key, settings)
    counters.started += 1
    host.start().catch((error: unknown) => {
      logger.error({ group: host.key, err: (error as Error).message }, 'consumer group controller failed to start')
      if (hosts.get(key) === host) stopHost(key, undefined)
    })
  }

  const reconcile = (): void => {
    if (closed) return
    const state = options.state()
    const wanted = new Set<string>()
    const existing = new Set<string>()
    for (const record of state.groups.values()) {
      const spec = record.spec
      const key = progressKey(spec.namespace, spec.stream, spec.name, record.createdIndex)
      existing.add(key)
      const streamKey = `${spec.namespace}/${spec.stream}`
      const streamSpec = state.streams.get(streamKey)?.spec
      const designation = state.designations.get(groupControllerName(spec.namespace, spec.stream, spec.name, region))
      const host = hosts.get(key)
      if (designation === undefined || designation.holder !== nodeId || streamSpec === undefined) {
        if (host !== undefined) stopHost(key, designation === undefined || designation.controllerTerm <= host.term ? undefined : designation.controllerTerm)
        continue
      }
      wanted.add(key)
      const term = designation.controllerTerm
      if (host !== undefined && host.term !== term) stopHost(key, Math.max(term, host.term + 1))
      const settings = settingsOf(spec, streamSpec)
      const running = hosts.get(key)
      if (running !== undefined && streams.engine(streamKey) === undefined) {
        // The stream's engine closed here (moved, reopening): stop; started again when it is back.
        stopHost(key, undefined)
        continue
      }
      if (running !== undefined) {
        if (!sameSettings(hostSettings.get(key) as GroupSettings, settings)) {
          hostSettings.set(key, settings)
          running.update(settings)
        }
        continue
      }
      if (streams.engine(streamKey) === undefined) continue // not open here yet: the next pass
      if (hosts.size >= controlledGroupsPerNodeMax) {
        warnOnce(`limit:${key}`, { group: key, limit: controlledGroupsPerNodeMax }, 'consumer group not started: controlledGroupsPerNodeMax reached')
        continue
      }
      startHost(spec, key, term, settings)
    }
    for (const key of [...hosts.keys()]) {
      if (wanted.has(key)) continue
      stopHost(key, undefined)
      // A deleted group's progress goes with it.
      if (!existing.has(key)) void store.remove(key).catch(() => undefined)
    }
    // Copies of groups that no longer exist are removed.
    for (const key of [...copies.keys()]) {
      if (existing.has(key)) continue
      copies.delete(key)
      void store.remove(key).catch(() => undefined)
    }
  }

  // ---- the consumer channel -------------------------------------------------------------------

  const onFrame = (from: string, frame: ConsumerFrame): void => {
    const host = hosts.get(frame.group)
    switch (frame.kind) {
      case 'gathered':
        host?.onGathered(from, frame)
        return
      case 'stale':
        if (host !== undefined && frame.term > host.term) stopHost(frame.group, frame.term)
        return
      case 'gather': {
        if (host !== undefined && host.state !== 'stopped') {
          if (frame.term > host.term) {
            // A newer controller takes over: hand it the live state, stop here.
            const live = host.progress?.clone()
            stopHost(frame.group, frame.term)
            sendFrame(from, { kind: 'gathered', group: frame.group, term: frame.term, requestId: frame.requestId, state: live })
            if (live !== undefined) void store.save(frame.group, live).catch(() => undefined)
            return
          }
          sendFrame(from, { kind: 'stale', group: frame.group, term: host.term })
          return
        }
        void withCopy(frame.group, (copy) => {
          sendFrame(from, { kind: 'gathered', group: frame.group, term: frame.term, requestId: frame.requestId, state: copy?.clone() })
        })
        return
      }
      case 'progress': {
        if (host !== undefined && host.state !== 'stopped') {
          if (frame.term > host.term) stopHost(frame.group, frame.term)
          else {
            if (frame.term < host.term) sendFrame(from, { kind: 'stale', group: frame.group, term: host.term })
            return
          }
        }
        void withCopy(frame.group, async (existing) => {
          let copy = existing
          if (copy === undefined) {
            copy = new ProgressState(0)
            if (copies.size < replicaCopiesCachedMax) copies.set(frame.group, copy)
          }
          const outcome = copy.merge(frame.state)
          if (outcome === 'ignored-stale-term') {
            counters.staleRefused += 1
            sendFrame(from, { kind: 'stale', group: frame.group, term: copy.term })
            return
          }
          counters.copiesMerged += 1
          if (copy.isDirty) await store.save(frame.group, copy)
        })
        return
      }
    }
  }

  let frames: Subscription | undefined
  if (options.peerLink !== undefined) {
    frames = options.peerLink.frames$.pipe(filter((frame) => frame.channel === 'consumer')).subscribe((frame) => {
      if (closed) return
      const decoded = decodeConsumerFrame(frame.payload)
      if (decoded === undefined) {
        counters.malformedFrames += 1
        return
      }
      onFrame(frame.from, decoded)
    })
  }

  const unsubscribeChanges = options.onChange?.(reconcile)
  const timer = setInterval(reconcile, options.reconcileIntervalMs ?? reconcileIntervalMsDefault)
  timer.unref()
  reconcile()

  const view = (host: GroupHost): ConsumerGroupView | undefined => {
    const snapshot = host.snapshot()
    return snapshot === undefined ? undefined : { group: host.key, ...snapshot }
  }

  return {
    snapshots: () => [...hosts.values()].flatMap((host) => view(host) ?? []),
    snapshot: (group) => {
      const host = [...hosts.values()].find((candidate) => candidate.key === group && candidate.state !== 'stopped')
      return host === undefined ? undefined : view(host)
    },
    counters,
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(timer)
      unsubscribeChanges?.()
      frames?.unsubscribe()
      await Promise.all([...hosts.values()].map((host) => host.close()))
      hosts.clear()
      await Promise.all([...copyChains.values()])
      await store.close()
    },
  }
}
