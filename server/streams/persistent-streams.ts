// Persistent streams on this node, for the region of N replicas (DESIGN §3.2):
//  - every node of a persistent stream's replica set in this node's region opens a StreamEngine
//    (data-plane/persistent/engine) with that set; the engines talk over the peer transport's
//    `data` channel (data-envelope.ts), and incoming frames are dispatched to the engine of the
//    stream they name (a frame that does not decode is counted and logged, never fatal);
//  - every node of the region subscribes (node-local) to the stream's subjects (`<name>.#`, the
//    `default` namespace) and takes the publishes of its own clients: a replica whose incarnation
//    holds an origin slot writes them itself; otherwise (a node outside the set, or a replica
//    restarted and waiting for its slot) they are forwarded to a replica (forwarder.ts) and
//    answered with that replica's ack (docs/api.md § Publishing to a persistent stream);
//  - the holder of the stream's `psc/…` designation runs its stream controller
//    (stream-controller-host.ts), which closes restarted and unreachable origins; a restarted
//    replica sends it its successor claim until it has its slot. Controller messages (`fence`,
//    `closes` from a controller) below the designation's term in this node's applied state
//    are dropped (a stale controller is fenced);
//  - `publish(key, …)` is the same path for callers in the process (consumer groups: dead
//    letters), and `isReplica(key)` says whether this node holds a replica;
//  - a stream placed in several regions runs its replica with `dedupWindowMs: 0` and cross-region
//    shipping (server/shipping: RegionDedup applies the window, consumer groups read its output,
//    shippers and receivers on the `ship` channel); a client's `Rg-Source` header is stripped.
// A set of one node keeps the single-node behaviour (the engine closes its own previous life).
import { nuid } from '@nats-io/nuid'
import type { Subscription } from 'rxjs'
import type { ClusterState, StreamSpec } from '../../control-plane/cluster/index.js'
import { defaultNamespace, streamControllerName } from '../../control-plane/cluster/index.js'
import { EventStore, PersistentRejection, decodeReplicaMessage, encodeReplicaMessage, openEventStore } from '../../data-plane/persistent/index.js'
import type { AckLevel, EventHeader, EventStoreSettings, PublishAck, ReplicaMessage, StreamReplicaTiming } from '../../data-plane/persistent/index.js'
import { StreamEngine, readEngineRecord } from '../../data-plane/persistent/engine/index.js'
import type { ErrorCode } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { Storage } from '../../shared/storage/index.js'
import type { Transport } from '../../shared/transport/index.js'
import type { LocalMessage, Router } from '../router.js'
import type { ClosePort } from './close-ledger.js'
import { RegionShipping, intakeHeaders, isMultiRegion } from '../shipping/index.js'
import type { ShippingLagView, StreamShippingInfo } from '../shipping/index.js'
import type { ClaimEnvelope, ForwardRequest } from './data-envelope.js'
import { decodeEnvelope, encodeAnswer, encodeClaim, encodeReplicaEnvelope } from './data-envelope.js'
import { Forwarder, forwardOrder } from './forwarder.js'
import { ackBytes, failureJson, parsePublish } from './publish-wire.js'
import { slotsAfter } from './stream-controller.js'
import { StreamControllerHost } from './stream-controller-host.js'

/** How often the placements are checked besides on every cluster event. */
export const reconcileIntervalMsDefault = 1_000
/** Named limit: streams with an engine or a publish subscription on one node (each subscription takes one of the router's `localSubscribersMax`). */
export const persistentStreamsPerNodeMax = 32
/** A restarted replica resends its successor claim to the stream controller this often. */
export const claimResendMsDefault = 500
/** Undecodable `data` frames logged one by one; past this, one line per 1,000. */
const malformedLoggedMax = 10
/**
 * A peer counts as reachable for the stream controllers while a `data` frame from it arrived this
 * recently (replicas send each other digests every antiEntropyIntervalMs, 200 ms by default). The
 * transport's link state is not enough: a blackholed link may be re-dialed and reported up while
 * nothing passes.
 */
export const peerHeardWindowMsDefault = 1_500

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
  /** The peer transport (`ClusterRuntime.peerLink()`): required for replica sets of several nodes and for forwarding. */
  readonly transport?: Transport
  /** The control plane (commits close decisions); required to run stream controllers. */
  readonly controlPlane?: ClosePort
  readonly nowMs?: () => number
  readonly reconcileIntervalMs?: number
  /** Engine tick (ms); default the engine's. */
  readonly tickMs?: number
  /** Replica timing (heartbeats, anti-entropy, ack timeout); default the replica's. */
  readonly timing?: Partial<StreamReplicaTiming>
  /** The stream controller closes an origin unreachable this long without a successor (default 5 s). */
  readonly deadOriginGraceMs?: number
  /** One forward attempt waits this long for a replica's answer. */
  readonly forwardAttemptTimeoutMs?: number
  /** A peer heard on the `data` channel within this window is reachable (stream controllers). */
  readonly peerHeardWindowMs?: number
  /** The event store's group commit (`streams.lingerMs`, `streams.batchBytesMax`); the store's defaults when absent. */
  readonly storeSettings?: EventStoreSettings
}

export interface PersistentStreamCounters {
  /** Publishes taken by an engine here (this node's clients, forwards, in-process callers). */
  published: number
  /** Acks sent (ok). */
  acked: number
  /** Publishes refused or failed (an error answer, or a failed fire-and-forget). */
  failed: number
  /** Publishes of this node's clients or callers forwarded to a replica. */
  forwarded: number
  /** `data` frames that did not decode (or named no stream here). */
  malformedFrames: number
  /** Controller messages dropped for a term below the designation's. */
  staleControllerMessages: number
}

/**
 * One stream's figures on this node (read by the metrics at scrape time; kept with the node's
 * role for the stream, a new role starts at zero). Publishes are counted where they entered
 * (this node's clients and in-process callers), `published` where they were written.
 */
export interface StreamCounters {
  /** Publishes taken by this node's engine (entered here, or forwarded to it). */
  published: number
  /** Publishes entered here and acked, by level (duplicates included). */
  acked: Record<AckLevel, number>
  /** Of those, acked as a duplicate of an id inside the dedup window. */
  duplicates: number
  /** Publishes entered here and refused or failed. */
  failed: number
  /** Publishes entered here and forwarded to a replica. */
  forwarded: number
}

/** A publish from a caller in this process (the same path as a client's). */
export interface StreamPublish {
  /** Producer id (`Rg-Msg-Id`): the dedup identity; a nuid when absent. */
  readonly id?: string
  readonly headers: readonly EventHeader[]
  readonly payload: Uint8Array
  readonly ackLevel: AckLevel
}

interface Entry {
  readonly key: string
  spec: StreamSpec
  /** Replica: an engine runs here; forwarder: this node forwards its clients' publishes. */
  readonly role: 'replica' | 'forwarder'
  readonly counters: StreamCounters
  engine?: StreamEngine
  /** A pending member without the stream's history: it forwards like a non-replica. */
  forwardOnly: boolean
  unsubscribe?: () => void
  removed: boolean
  lastClaimMs: number
}

export interface PersistentStreams {
  /** The engine of `namespace/name` on this node, once open. */
  engine(key: string): StreamEngine | undefined
  /** Keys of the streams with an open engine. */
  openStreams(): string[]
  /** Whether this node holds a replica of the stream in its region (per the applied cluster state). */
  isReplica(key: string): boolean
  /**
   * Publishes to a persistent stream of this region: written by the local engine when it holds
   * an origin slot, else forwarded to a replica. Resolves with the ack once the event is durable
   * at `ackLevel`, or a refusal (`RG_ERR_NOT_FOUND` no such stream here, `RG_ERR_NOT_READY` not
   * open yet or no replica reachable, …). Never rejects.
   */
  publish(key: string, request: StreamPublish): Promise<PublishAck>
  /** Stream keys whose controller runs on this node, with their terms. */
  controlled(): Array<{ readonly key: string; readonly term: number }>
  readonly counters: PersistentStreamCounters
  /** Per stream with a role on this node: its counters (live objects, read-only for callers). */
  streamCounters(): ReadonlyMap<string, Readonly<StreamCounters>>
  /**
   * Replication lag of every cross-region link this node knows (its own shippers' now, the others'
   * as their holders last reported): `{stream, from, to, events, ms, holder, term, ageMs, stale}`.
   */
  shippingLag(stream?: string): ShippingLagView[]
  /** Stream info's per-node `shipping` section of a multi-region stream (lag, digest, roles); undefined otherwise. */
  shippingInfo(key: string): StreamShippingInfo | undefined
  readonly store: EventStore
  /** Stops every engine and controller and closes the event store (before the storage closes). */
  close(): Promise<void>
}

const encoder = new TextEncoder()

type Role = { readonly spec: StreamSpec; readonly role: 'replica' | 'forwarder'; readonly replicas: readonly string[] }

/** What this node does for each persistent stream placed in its region. */
function roles(state: ClusterState, nodeId: string, region: string): Map<string, Role> {
  const result = new Map<string, Role>()
  for (const [key, record] of state.streams) {
    if (record.spec.kind !== 'persistent') continue
    const placed = state.placements.get(key)?.get(region)
    if (placed === undefined || placed.replicas.length === 0) continue
    // A pending member (e.g. a holder that was dead and came back) runs its replica if it holds
    // the stream's history (open() checks the engine record); replica-set changes are not driven yet.
    if (placed.replicas.includes(nodeId) || placed.pending.includes(nodeId)) result.set(key, { spec: record.spec, role: 'replica', replicas: placed.replicas })
    else if (record.spec.namespace === defaultNamespace) result.set(key, { spec: record.spec, role: 'forwarder', replicas: placed.replicas })
  }
  return result
}

/** The event store's retention policy of a stream definition. */
function retentionOf(spec: StreamSpec): { maxAgeMs: number; maxBytes: number; maxCount: number } {
  return { maxAgeMs: spec.retention.maxAgeMs, maxBytes: spec.retention.maxBytes, maxCount: spec.retention.maxEvents }
}

function sameRetention(a: StreamSpec['retention'], b: StreamSpec['retention']): boolean {
  return a.maxAgeMs === b.maxAgeMs && a.maxBytes === b.maxBytes && a.maxEvents === b.maxEvents
}

/** The replica's own window: 0 for a multi-region stream (RegionDedup applies the stream's, in source time). */
function replicaDedupWindowMs(spec: StreamSpec): number {
  return isMultiRegion(spec) ? 0 : spec.dedupWindowMs
}

function refusal(code: ErrorCode, message: string): PublishAck {
  return { ok: false, publishId: '', error: new PersistentRejection(code, message) }
}

export async function attachPersistentStreams(options: PersistentStreamsOptions): Promise<PersistentStreams> {
  const { router, storage, logger, nodeId, transport } = options
  const store = options.storeSettings === undefined ? await EventStore.open(storage) : await openEventStore(storage, options.storeSettings)
  const entries = new Map<string, Entry>()
  const counters: PersistentStreamCounters = { published: 0, acked: 0, failed: 0, forwarded: 0, malformedFrames: 0, staleControllerMessages: 0 }
  const nowMs = options.nowMs ?? Date.now
  let closed = false
  const subscriptions: Subscription[] = []
  /** Peer → when a `data` frame from it last arrived. */
  const lastHeardMs = new Map<string, number>()
  const heardPeers = (): string[] => {
    const since = nowMs() - (options.peerHeardWindowMs ?? peerHeardWindowMsDefault)
    return [...lastHeardMs].filter(([, at]) => at >= since).map(([peer]) => peer)
  }

  /**
   * The last message encoded, with its bytes and envelope: a replica hands the same message
   * object to each peer in a row (pushes, heartbeats, digests), so it is encoded once, not once
   * per peer (the encode was ~19 % of an origin's CPU in a 3-replica publish run). Both byte
   * arrays are only read after this (the transport copies into its frames; decoders read).
   */
  let lastEncoded: { readonly message: ReplicaMessage; readonly bytes: Uint8Array; envelope: Uint8Array | undefined } | undefined
  const sendReplica = (to: string, message: ReplicaMessage): void => {
    let encoded = lastEncoded
    if (encoded?.message !== message) {
      try {
        encoded = { message, bytes: encodeReplicaMessage(message), envelope: undefined }
      } catch (error) {
        logger.warn({ stream: message.stream, kind: message.kind, err: (error as Error).message }, 'persistent stream: a replica message was not sent (encode)')
        return
      }
      lastEncoded = encoded
    }
    const { bytes } = encoded
    if (to === nodeId) {
      queueMicrotask(() => dispatchReplica(nodeId, bytes))
      return
    }
    encoded.envelope ??= encodeReplicaEnvelope(bytes)
    transport?.send(to, 'data', encoded.envelope)
  }

  const forwarder = new Forwarder({
    send: (to, bytes) => transport?.send(to, 'data', bytes) ?? false,
    ...(options.forwardAttemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: options.forwardAttemptTimeoutMs }),
  })

  const controllers =
    options.controlPlane === undefined || transport === undefined
      ? undefined
      : new StreamControllerHost({
          nodeId,
          region: options.region,
          state: options.state,
          port: options.controlPlane,
          logger,
          send: sendReplica,
          upPeers: heardPeers,
          engineReplicas: (key) => entries.get(key)?.engine?.replicas,
          ...(options.deadOriginGraceMs === undefined ? {} : { deadOriginGraceMs: options.deadOriginGraceMs }),
          ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
        })

  const shipping = new RegionShipping({ nodeId, region: options.region, state: options.state, logger, ...(transport === undefined ? {} : { transport }), ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }) })

  let malformedLogged = 0
  const malformed = (from: string, why: string): void => {
    counters.malformedFrames += 1
    if (malformedLogged < malformedLoggedMax || counters.malformedFrames % 1_000 === 0) {
      malformedLogged += 1
      logger.warn({ from, count: counters.malformedFrames }, `persistent streams: a data frame was dropped: ${why}`)
    }
  }

  /** A controller message below the designation's current term (in the state applied here) is stale. */
  const staleController = (message: ReplicaMessage): boolean => {
    if (message.kind !== 'fence' && !(message.kind === 'closes' && message.requestId > 0)) return false
    const record = options.state().streams.get(message.stream)
    if (record === undefined) return false
    const d = options.state().designations.get(streamControllerName(record.spec.namespace, record.spec.name, options.region))
    const term = message.kind === 'fence' ? message.controllerTerm : Math.min(...message.decisions.map((decision) => decision.controllerTerm))
    return d !== undefined && term < d.controllerTerm
  }

  function dispatchReplica(from: string, bytes: Uint8Array): void {
    if (closed) return
    const decoded = decodeReplicaMessage(bytes)
    if (!decoded.ok) return malformed(from, decoded.error.message)
    const message = decoded.value
    if (message.kind === 'fenced' || message.kind === 'closes-applied') {
      controllers?.onReply(from, message)
      return
    }
    const engine = entries.get(message.stream)?.engine
    if (engine === undefined) return // not open here (yet): the sender resends, anti-entropy repairs
    if (staleController(message)) {
      counters.staleControllerMessages += 1
      return
    }
    engine.step(from, message)
  }

  const answerForward = (from: string, request: ForwardRequest): void => {
    const answer = (ack: PublishAck): void => {
      const bytes = ack.ok
        ? encodeAnswer({ kind: 'answer', requestId: request.requestId, ok: true, level: ack.level, position: ack.position, duplicate: ack.duplicate, survivor: ack.survivor })
        : encodeAnswer({ kind: 'answer', requestId: request.requestId, ok: false, code: ack.error.code, message: ack.error.message })
      transport?.send(from, 'data', bytes)
    }
    const target = entries.get(request.stream)
    const engine = target?.engine
    // One hop only: a replica without a slot says so and the forwarder tries the next one.
    if (engine === undefined) return answer(refusal('RG_ERR_NOT_FOUND', `stream ${request.stream}: no replica open on ${nodeId}`))
    if (!engine.writable) return answer(refusal('RG_ERR_INVALID_STATE', `stream ${request.stream}: ${nodeId} holds no origin slot`))
    counters.published += 1
    if (target !== undefined) target.counters.published += 1
    void engine.publish({ id: request.id, headers: request.headers, payload: request.payload, ackLevel: request.ackLevel }).then(answer)
  }

  const onClaim = (claim: ClaimEnvelope): void => {
    controllers?.onClaim(claim)
  }

  if (transport !== undefined) {
    subscriptions.push(
      transport.frames$.subscribe((frame) => {
        if (frame.channel !== 'data' || closed) return
        lastHeardMs.set(frame.from, nowMs())
        const decoded = decodeEnvelope(frame.payload)
        if (!decoded.ok) return malformed(frame.from, decoded.error)
        const envelope = decoded.value
        switch (envelope.kind) {
          case 'replica':
            return dispatchReplica(frame.from, envelope.bytes)
          case 'forward':
            return answerForward(frame.from, envelope)
          case 'answer':
            return forwarder.onAnswer(frame.from, envelope)
          case 'claim':
            return onClaim(envelope)
        }
      }),
      transport.status$.subscribe((status) => {
        if (status.state === 'down') forwarder.onPeerDown(status.peer)
      }),
    )
  }

  /** The replicas to forward a publish of `key` to, best first. */
  const targetsOf = (key: string): string[] => {
    const engine = entries.get(key)?.engine
    const record = options.state().streams.get(key)
    const replicas = engine?.replicas ?? options.state().placements.get(key)?.get(options.region)?.replicas ?? []
    if (record === undefined && engine === undefined) return []
    return forwardOrder(replicas, new Set(transport?.upPeers() ?? []), nodeId, forwarder.counters.forwarded + forwarder.counters.failed + forwarder.counters.retried)
  }

  /** Counts a publish that entered here by its answer (per stream). */
  const counted = (key: string, ack: PublishAck): PublishAck => {
    const figures = entries.get(key)?.counters
    if (figures !== undefined && ack.ok) {
      figures.acked[ack.level] += 1
      if (ack.duplicate) figures.duplicates += 1
    } else if (figures !== undefined) figures.failed += 1
    return ack
  }
  const publish = async (key: string, request: StreamPublish): Promise<PublishAck> => counted(key, await publishUncounted(key, request))

  async function publishUncounted(key: string, request: StreamPublish): Promise<PublishAck> {
    if (closed) return refusal('RG_ERR_NOT_READY', `stream ${key}: this node is stopping`)
    const entry = entries.get(key)
    const record = options.state().streams.get(key)
    if (entry === undefined && (record === undefined || record.spec.kind !== 'persistent' || options.state().placements.get(key)?.get(options.region) === undefined)) {
      return refusal('RG_ERR_NOT_FOUND', `stream ${key}: no persistent stream placed in region ${options.region}`)
    }
    // Rg-Source is the provenance of shipped copies: never taken from a caller (server/shipping/intake.ts).
    const intake = intakeHeaders(key, request.headers, (record?.spec ?? entry?.spec)?.regions.length ?? 1)
    if (!intake.ok) return refusal(intake.code, intake.message)
    const headers = intake.headers
    // One id for every attempt: a retry on another replica is a duplicate, not a second event.
    const id = request.id ?? nuid.next()
    const engine = entry?.engine
    if (engine !== undefined && engine.writable) {
      counters.published += 1
      if (entry !== undefined) entry.counters.published += 1
      const ack = await engine.publish({ id, headers, payload: request.payload, ackLevel: request.ackLevel })
      // Closed while waiting (its slot was taken): the event may still be delivered; retry elsewhere with the same id.
      if (ack.ok || ack.error.code !== 'RG_ERR_INVALID_STATE' || engine.replicas.length < 2) return ack
    } else if (entry?.role === 'replica' && engine === undefined && !entry.forwardOnly) {
      return refusal('RG_ERR_NOT_READY', `stream ${key}: the replica on ${nodeId} is still opening`)
    }
    if (transport === undefined) return refusal('RG_ERR_NOT_READY', `stream ${key}: no peer transport to reach a replica`)
    counters.forwarded += 1
    if (entry !== undefined) entry.counters.forwarded += 1
    return forwarder.forward(targetsOf(key), { stream: key, id, ackLevel: request.ackLevel, headers, payload: request.payload })
  }

  const reply = (replyTo: string | undefined, body: Record<string, unknown> | Uint8Array): void => {
    if (replyTo === undefined || replyTo.length === 0) return
    router.publishLocal(replyTo, undefined, undefined, body instanceof Uint8Array ? body : encoder.encode(JSON.stringify(body)))
  }

  const onPublish = (entry: Entry, message: LocalMessage): void => {
    const parsed = parsePublish(message.subject, message.headerBlock, entry.spec.ackDefault, message.headers)
    if (!parsed.ok) {
      counters.failed += 1
      entry.counters.failed += 1
      reply(message.replyTo, failureJson(parsed.code, parsed.message))
      return
    }
    const { id, ackLevel, headers } = parsed.value
    void publish(entry.key, { ...(id === undefined ? {} : { id }), headers, payload: message.payload, ackLevel }).then((ack) => {
      if (ack.ok) counters.acked += 1
      else counters.failed += 1
      reply(message.replyTo, ackBytes(entry.key, ack))
    })
  }

  const subscribe = (entry: Entry): void => {
    // Only the `default` namespace is reachable by subject; `name.#` matches `name` and every topic under it.
    if (entry.spec.namespace !== defaultNamespace) return
    entry.unsubscribe = router.subscribeLocal(`${entry.spec.name}.#`, (message) => onPublish(entry, message))
  }

  const open = async (entry: Entry, replicas: readonly string[]): Promise<void> => {
    try {
      if (!replicas.includes(nodeId)) {
        // A pending member: a replica only if it already holds the stream (its recorded set names it).
        const record = await readEngineRecord(storage, entry.key)
        if (record?.replicas?.includes(nodeId) !== true) {
          entry.forwardOnly = true
          if (!entry.removed && !closed) subscribe(entry)
          logger.warn({ stream: entry.key }, 'persistent stream: this node is a pending replica without the stream\'s history; it forwards publishes (replica-set changes are not driven yet)')
          return
        }
      }
      if (replicas.length > 1 && transport === undefined) throw new Error('a replica set of several nodes needs the peer transport')
      const engine = await StreamEngine.open({
        store,
        storage,
        stream: entry.key,
        node: nodeId,
        replicas,
        send: sendReplica,
        dedupWindowMs: replicaDedupWindowMs(entry.spec),
        retention: retentionOf(entry.spec),
        ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
        ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
        ...(options.timing === undefined ? {} : { timing: options.timing }),
        onNotice: (kind, detail) => logger.warn({ stream: entry.key, kind }, `persistent stream: ${detail}`),
      })
      if (entry.removed || closed) {
        engine.stop()
        return
      }
      entry.engine = engine
      if (isMultiRegion(entry.spec)) shipping.open(entry.key, entry.spec, engine)
      subscribe(entry)
      controllers?.reconcile()
      logger.info({ stream: entry.key, incarnation: engine.incarnation, replicas: engine.replicas }, 'persistent stream open on this node')
    } catch (error) {
      entries.delete(entry.key)
      logger.error({ stream: entry.key, err: (error as Error).message }, 'persistent stream failed to open')
    }
  }

  const stopEntry = (entry: Entry): void => {
    entry.removed = true
    entry.unsubscribe?.()
    shipping.close(entry.key)
    entry.engine?.stop()
    entries.delete(entry.key)
  }

  /** Restarted replicas ask the stream controller for their slot (until they have it, or it was closed for good). */
  const sendClaims = (): void => {
    const state = options.state()
    for (const entry of entries.values()) {
      const engine = entry.engine
      const claim = engine?.successorClaim() ?? null
      if (engine === undefined || claim === null || engine.replicas.length < 2) continue
      if (slotsAfter(engine.replicas, engine.closes).get(nodeId)?.open === false) continue
      if (nowMs() - entry.lastClaimMs < claimResendMsDefault) continue
      entry.lastClaimMs = nowMs()
      const holder = state.designations.get(streamControllerName(entry.spec.namespace, entry.spec.name, options.region))?.holder
      if (holder === undefined || holder === null) continue
      const envelope = { stream: entry.key, origin: claim.origin, incarnation: claim.incarnation, fromHlc: claim.fromHlc }
      if (holder === nodeId) onClaim({ kind: 'claim', ...envelope })
      else transport?.send(holder, 'data', encodeClaim(envelope))
    }
  }

  /** A STREAM.ENSURE update of the retention reaches the store of an open stream (the next maintenance pass applies it). */
  const updateRetention = (entry: Entry, spec: StreamSpec): void => {
    const before = entry.spec.retention
    entry.spec = spec
    if (entry.engine === undefined || sameRetention(before, spec.retention)) return
    store
      .ensureStream(entry.key, { dedupWindowMs: replicaDedupWindowMs(spec), retention: retentionOf(spec) })
      .then(() => logger.info({ stream: entry.key, retention: spec.retention }, 'persistent stream: retention updated'))
      .catch((error: unknown) => logger.error({ stream: entry.key, err: (error as Error).message }, 'persistent stream: retention update failed'))
  }

  const reconcile = (): void => {
    if (closed) return
    const want = roles(options.state(), nodeId, options.region)
    for (const entry of [...entries.values()]) {
      const wanted = want.get(entry.key)
      if (wanted === undefined || wanted.role !== entry.role) {
        stopEntry(entry)
        logger.info({ stream: entry.key, role: entry.role }, 'persistent stream stopped on this node')
      }
    }
    for (const [key, wanted] of want) {
      const existing = entries.get(key)
      if (existing !== undefined) {
        updateRetention(existing, wanted.spec)
        continue
      }
      if (entries.size >= persistentStreamsPerNodeMax) {
        logger.warn({ stream: key, limit: persistentStreamsPerNodeMax }, 'persistent stream not opened: persistentStreamsPerNodeMax reached')
        continue
      }
      const entry: Entry = { key, spec: wanted.spec, role: wanted.role, counters: { published: 0, acked: { write: 0, majority: 0, all: 0 }, duplicates: 0, failed: 0, forwarded: 0 }, forwardOnly: false, removed: false, lastClaimMs: Number.NEGATIVE_INFINITY }
      entries.set(key, entry)
      if (wanted.role === 'replica') void open(entry, wanted.replicas)
      else subscribe(entry)
    }
    controllers?.reconcile()
    shipping.reconcile()
  }

  const unsubscribeChanges = options.onChange?.(reconcile)
  const timer = setInterval(reconcile, options.reconcileIntervalMs ?? reconcileIntervalMsDefault)
  timer.unref()
  const claimTimer = setInterval(sendClaims, claimResendMsDefault / 5)
  claimTimer.unref()
  reconcile()

  return {
    engine: (key) => entries.get(key)?.engine,
    openStreams: () => [...entries.values()].filter((entry) => entry.engine !== undefined).map((entry) => entry.key),
    isReplica: (key) => roles(options.state(), nodeId, options.region).get(key)?.role === 'replica' && entries.get(key)?.forwardOnly !== true,
    publish,
    controlled: () => controllers?.controlled() ?? [],
    counters,
    streamCounters: () => new Map([...entries].map(([key, entry]) => [key, entry.counters])),
    shippingLag: (stream) => shipping.shippingLag(stream),
    shippingInfo: (key) => shipping.info(key),
    store,
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(timer)
      clearInterval(claimTimer)
      unsubscribeChanges?.()
      for (const subscription of subscriptions) subscription.unsubscribe()
      controllers?.close()
      forwarder.close()
      shipping.stop()
      for (const entry of [...entries.values()]) stopEntry(entry)
      await store.close()
    },
  }
}
