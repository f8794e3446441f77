// attachCrdtKv: CRDT KV buckets on one node (docs/kv-crdt.md, docs/api.md § CRDT KV buckets).
//
// - Requests: an in-process, node-local subscriber on `$RG.KVC.>` takes this node's clients'
//   requests (`$RG.KVC.<bucket>.<VERB>`, JSON, shared/api/kv-crdt-wire.ts; RBAC was judged on
//   the subject by the client's connection). ENSURE / REMOVE / INFO run here (the definition goes
//   through the control plane, bucket-admin.ts). Reads, writes and watches run on this node's
//   replica of the bucket when it can take them (ready; for writes, holding an origin slot of the
//   bucket's stream), else they are forwarded to a replica of the bucket in this region
//   (forwarding.ts) — reads too: a node outside the replica set holds no state, and the client
//   sees one API wherever it is connected. A watch is served by the replica that takes it, which
//   publishes straight to the watcher's inbox (cluster routing carries it).
// - Replicas: for every bucket stream (`_kv/<bucket>`) with an open engine here (server/streams
//   opens one on each node of the placement), a `BucketReplica` follows the engine; a reopened
//   engine (restart of the stream, role change) gets a new one, rebuilt from the stream.
import { kvCrdtDeliverPrefix, kvCrdtReadVerbs, kvCrdtRequestSchemas, kvCrdtStreamNamespace, kvCrdtSubjectPrefix, kvCrdtWireDefaults, kvCrdtWireLimits, kvCrdtWriteVerbs, parseKvCrdtSubject } from '../../shared/api/index.js'
import type { KvCrdtVerb, ParsedKvCrdtRequest } from '../../shared/api/index.js'
import type { ApplyResult, ClusterState, Command } from '../../control-plane/cluster/index.js'
import { jsonPatchProblem, keyProblem } from '../../data-plane/kv-crdt/index.js'
import type { JsonObject } from '../../data-plane/kv-crdt/index.js'
import { isValidPublishSubject } from '../../shared/subject/index.js'
import type { Logger } from '../../shared/log.js'
import type { LocalMessage, Router } from '../router.js'
import { bucketDefinition, bucketNameProblem, bucketOfStreamKey, bucketStreamKey, ensureBucket, removeBucket } from './bucket-admin.js'
import { BucketReplica } from './bucket-replica.js'
import type { BucketEngine, KvWrite, WriteResult } from './bucket-replica.js'
import { RequestForwarder, internalRequestSubject, internalWildcard } from './forwarding.js'
import type { ForwardAnswer, ForwardedRequest } from './forwarding.js'
import { forwardAnswerGraceMs, forwardReadAttemptMs, requestsInFlightMax } from './limits.js'
import type { KvcFailure, KvcReply } from './replies.js'
import { failure, fromIssues } from './replies.js'
import { entryView } from './views.js'
import { WatchSessions } from './watch-sessions.js'

/** How often the replicas are checked against the open engines besides on every cluster event. */
export const reconcileIntervalMsDefault = 1_000

export interface CrdtKvServiceOptions {
  readonly router: Router
  readonly nodeId: string
  readonly region: string
  /** The cluster state as applied here. */
  readonly state: () => ClusterState
  /** Called on every cluster event; returns the unsubscribe. */
  readonly onChange?: (listener: () => void) => () => void
  /** The open engine of a persistent stream on this node (server/streams `engine(key)`). */
  readonly engineOf: (streamKey: string) => BucketEngine | undefined
  /** Proposes a cluster command (ENSURE, REMOVE). */
  readonly ensure: (command: Command) => Promise<ApplyResult>
  /** Peers whose link is up: forwarding tries their replicas first. */
  readonly upPeers?: () => readonly string[]
  readonly logger: Logger
  /** False while the node cannot serve: requests answer RG_ERR_NOT_READY. */
  readonly isReady?: () => boolean
  readonly nowMs?: () => number
  readonly reportIntervalMs?: number
  readonly watchInterestCheckMs?: number
  readonly reconcileIntervalMs?: number
}

export interface CrdtKvCounters {
  /** Requests of this node's clients (all verbs). */
  requests: number
  /** Requests forwarded to a replica on another node. */
  forwarded: number
  /** Forwarded requests served here for another node. */
  servedForPeers: number
}

export interface CrdtKvService {
  /** This node's replica of `bucket`, when its stream's engine is open here. */
  replica(bucket: string): BucketReplica | undefined
  /** Buckets with a replica here. */
  buckets(): string[]
  readonly counters: CrdtKvCounters
  readonly watches: { readonly size: number }
  close(): void
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/

/** A replica here cannot take the request (the service forwards it, or a forwarded one answers so). */
class Elsewhere {
  constructor(readonly reason: string) {}
}

type Served = KvcReply | Elsewhere

function decodeBody(payload: Uint8Array): { readonly body: unknown } | KvcReply {
  if (payload.length === 0) return { body: {} }
  let body: unknown
  try {
    body = JSON.parse(decoder.decode(payload))
  } catch (error) {
    return failure('RG_ERR_MALFORMED_COMMAND', `request: not JSON (${(error as Error).message})`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return failure('RG_ERR_MALFORMED_COMMAND', 'request: expected a JSON object')
  return { body }
}

/** The write a PUT / DELETE / MERGE / INCR asks for, or why it is refused before any replica sees it. */
function writeOf(verb: KvCrdtVerb, request: Record<string, unknown>): KvWrite | KvcFailure {
  const key = request['key'] as string
  switch (verb) {
    case 'PUT': {
      const { value, valueBase64 } = request as { value?: string; valueBase64?: string }
      if ((value === undefined) === (valueBase64 === undefined)) return failure('RG_ERR_INVALID_ARGUMENT', 'value: give exactly one of value (UTF-8 text) or valueBase64', { field: 'value' })
      if (value !== undefined) return { op: 'put', key, value: encoder.encode(value) }
      if ((valueBase64 as string).length % 4 !== 0 || !base64Pattern.test(valueBase64 as string)) return failure('RG_ERR_INVALID_ARGUMENT', 'valueBase64: not base64', { field: 'valueBase64' })
      return { op: 'put', key, value: new Uint8Array(Buffer.from(valueBase64 as string, 'base64')) }
    }
    case 'DELETE':
      return { op: 'delete', key }
    case 'MERGE':
      return { op: 'merge', key, patch: request['patch'] as JsonObject }
    case 'INCR':
      return { op: 'increment', key, delta: BigInt(request['delta'] as number | string) }
    default:
      return failure('RG_ERR_INVALID_ARGUMENT', `${verb} is not a write`)
  }
}

function answerOfWrite(bucket: string, result: WriteResult): Served {
  switch (result.status) {
    case 'acked':
      return { ok: true, bucket, key: result.ack.key, origin: result.ack.origin, hlc: { wallMs: result.ack.hlc.wallMs, logical: result.ack.hlc.logical }, level: result.ack.level, replicasHolding: result.ack.replicasHolding, replicas: result.ack.replicas }
    case 'failed':
      return failure(result.code, result.message, result.details)
    case 'elsewhere':
      return new Elsewhere(result.reason)
  }
}

export function attachCrdtKv(options: CrdtKvServiceOptions): CrdtKvService {
  const { router, nodeId, region, logger } = options
  const replicas = new Map<string, { readonly engine: BucketEngine; readonly replica: BucketReplica }>()
  const forwarder = new RequestForwarder(router, nodeId)
  const sessions = new WatchSessions({ router, nodeId, logger, ...(options.watchInterestCheckMs === undefined ? {} : { interestCheckMs: options.watchInterestCheckMs }) })
  const counters: CrdtKvCounters = { requests: 0, forwarded: 0, servedForPeers: 0 }
  let inFlight = 0
  let closed = false

  /**
   * Every node that may write the bucket, all regions — its replicas and its pending members (a
   * pending member holding the stream's history runs a replica): garbage collection waits for
   * each one's reports.
   */
  const allReplicasOf = (bucket: string) => (): readonly string[] => {
    const placement = options.state().placements.get(bucketStreamKey(bucket))
    if (placement === undefined) return []
    return [...new Set([...placement.values()].flatMap((placed) => [...placed.replicas, ...placed.pending]))].sort()
  }

  const reconcile = (): void => {
    if (closed) return
    const wanted = new Map<string, BucketEngine>()
    for (const [key, record] of options.state().streams) {
      const bucket = bucketOfStreamKey(key)
      if (bucket === undefined || record.spec.kind !== 'persistent') continue
      const engine = options.engineOf(key)
      if (engine !== undefined) wanted.set(bucket, engine)
    }
    for (const [bucket, entry] of [...replicas]) {
      if (wanted.get(bucket) === entry.engine) continue
      entry.replica.stop(wanted.has(bucket) ? 'its stream reopened' : 'no replica of its stream here any more')
      replicas.delete(bucket)
    }
    for (const [bucket, engine] of wanted) {
      if (replicas.has(bucket)) continue
      const replica = new BucketReplica({
        bucket,
        nodeId,
        engine,
        logger,
        allReplicas: allReplicasOf(bucket),
        ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
        ...(options.reportIntervalMs === undefined ? {} : { reportIntervalMs: options.reportIntervalMs }),
      })
      replicas.set(bucket, { engine, replica })
      logger.info({ bucket, replica: replica.replicaId }, 'crdt kv: bucket replica started on this node')
    }
  }

  /** The replicas of the bucket in this region to forward to, best first (`prefer`: a node the request names). */
  const targetsOf = (bucket: string, prefer: string | undefined): string[] => {
    const placed = options.state().placements.get(bucketStreamKey(bucket))?.get(region)?.replicas ?? []
    const up = new Set(options.upPeers?.() ?? [])
    const rank = (node: string): number => (node === prefer ? 0 : up.has(node) ? 1 : 2)
    return placed.filter((node) => node !== nodeId).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
  }

  const forward = async (request: ForwardedRequest, isWrite: boolean, writeTimeoutMs: number, prefer: string | undefined, why: string): Promise<KvcReply> => {
    const targets = targetsOf(request.bucket, prefer)
    const reasons = [`${nodeId}: ${why}`]
    for (const target of targets) {
      counters.forwarded += 1
      const outcome = await forwarder.send(target, request, isWrite ? writeTimeoutMs + forwardAnswerGraceMs : forwardReadAttemptMs)
      switch (outcome.kind) {
        case 'answer':
          return outcome.reply
        case 'elsewhere':
          reasons.push(`${target}: ${outcome.reason}`)
          continue
        case 'unreachable':
          reasons.push(`${target}: unreachable`)
          continue
        case 'busy':
          return failure('RG_ERR_LIMIT_EXCEEDED', `this node forwards too many requests at once`, { limit: 'forwardsInFlightMax' })
        case 'timeout':
          // A write may have been taken there: never sent twice.
          if (isWrite) return failure('RG_ERR_REQUEST_TIMEOUT', `bucket ${request.bucket}: replica ${target} did not answer in time (the write may have been taken)`, { outcome: 'unknown', replica: target })
          reasons.push(`${target}: no answer in time`)
          continue
      }
    }
    return failure('RG_ERR_NOT_READY', `bucket ${request.bucket}: no replica in region ${region} can take this now (${reasons.join('; ')})`, { outcome: 'notApplied', replicas: targets })
  }

  /** Runs a data verb on this node's replica; `elsewhere` when it cannot. */
  const serveLocal = async (bucket: string, verb: KvCrdtVerb, request: Record<string, unknown>): Promise<Served> => {
    const replica = replicas.get(bucket)?.replica
    if (replica === undefined) return new Elsewhere('holds no replica of the bucket')
    if (!replica.ready) return new Elsewhere('its replica is not ready (rebuilding from the stream)')
    if (kvCrdtWriteVerbs.has(verb)) {
      if (!replica.writable) return new Elsewhere('its replica holds no origin slot of the bucket stream')
      const write = writeOf(verb, request)
      if ('error' in write) return write
      const parsed = request as { ack?: 'write' | 'majority' | 'all'; timeoutMs?: number }
      return answerOfWrite(bucket, await replica.write(write, parsed.ack ?? 'majority', parsed.timeoutMs ?? kvCrdtWireDefaults.writeTimeoutMs))
    }
    switch (verb) {
      case 'GET': {
        const key = request['key'] as string
        const problem = keyProblem(key)
        if (problem !== null) return failure('RG_ERR_INVALID_ARGUMENT', `key: ${problem}`, { field: 'key' })
        const entry = replica.get(key)
        return { ok: true, entry: entry === undefined ? null : entryView(entry), revision: replica.state.revision, replica: replica.replicaId }
      }
      case 'LIST': {
        const { prefix, limit } = request as ParsedKvCrdtRequest<'LIST'>
        const max = Math.min(limit ?? kvCrdtWireLimits.listEntriesMax, kvCrdtWireLimits.listEntriesMax)
        const all = replica.list(prefix ?? '')
        return { ok: true, entries: all.slice(0, max).map(entryView), revision: replica.state.revision, replica: replica.replicaId, truncated: all.length > max }
      }
      case 'WATCH': {
        const watch = request as ParsedKvCrdtRequest<'WATCH'>
        // Revisions are one state's: from another replica (or an earlier life) they mean nothing here.
        const fromRevision = watch.fromRevision === undefined ? undefined : watch.replica === replica.replicaId ? watch.fromRevision : -1
        const started = sessions.start(replica, watch.key !== undefined ? { key: watch.key } : { prefix: watch.prefix ?? '' }, fromRevision === undefined ? {} : { fromRevision }, watch.deliver)
        return 'watchId' in started ? { ok: true, watchId: started.watchId, replica: started.replica } : started
      }
      default:
        return failure('RG_ERR_INVALID_ARGUMENT', `${verb} is not served by a replica`)
    }
  }

  /** Checks a data request before any replica sees it (cheap, the same answer everywhere). */
  const checkData = (verb: KvCrdtVerb, request: Record<string, unknown>): KvcReply | undefined => {
    if (verb === 'MERGE') {
      const problem = jsonPatchProblem(request['patch'] as JsonObject)
      if (problem !== null) return failure(problem.tooLarge ? 'RG_ERR_VALUE_TOO_LARGE' : 'RG_ERR_INVALID_ARGUMENT', `patch: ${problem.message}`, { field: 'patch' })
    }
    if (verb === 'WATCH') {
      const { key, prefix, deliver } = request as ParsedKvCrdtRequest<'WATCH'>
      if ((key === undefined) === (prefix === undefined)) return failure('RG_ERR_INVALID_ARGUMENT', 'watch: give exactly one of key or prefix', { field: 'key' })
      if (key !== undefined && keyProblem(key) !== null) return failure('RG_ERR_INVALID_ARGUMENT', `key: ${keyProblem(key) as string}`, { field: 'key' })
      if (!deliver.startsWith(kvCrdtDeliverPrefix) || !isValidPublishSubject(deliver)) return failure('RG_ERR_INVALID_ARGUMENT', `deliver: must be an ${kvCrdtDeliverPrefix}… subject without wildcards`, { field: 'deliver' })
    }
    return undefined
  }

  /** One request, from this node's client (`forwarded` false) or from a peer that could not serve it. */
  const execute = async (bucket: string, verb: KvCrdtVerb, body: unknown, forwarded: boolean): Promise<Served> => {
    if (closed || options.isReady?.() === false) return forwarded ? new Elsewhere('the node is not ready') : failure('RG_ERR_NOT_READY', 'the node is not ready (starting or draining)')
    const parsed = kvCrdtRequestSchemas[verb].safeParse(body ?? {})
    if (!parsed.success) return fromIssues(parsed.error.issues)
    const request = parsed.data as Record<string, unknown>
    const admin = { state: options.state, ensure: options.ensure, region }
    switch (verb) {
      case 'ENSURE':
        return ensureBucket(admin, bucket, parsed.data as ParsedKvCrdtRequest<'ENSURE'>)
      case 'REMOVE':
        return removeBucket(admin, bucket)
      case 'UNWATCH': {
        const { watchId } = parsed.data as ParsedKvCrdtRequest<'UNWATCH'>
        if (sessions.stop(watchId)) return { ok: true, watchId }
        const owner = watchId.slice(0, Math.max(0, watchId.lastIndexOf('.')))
        if (forwarded || sessions.owns(watchId) || owner.length === 0) return failure('RG_ERR_NOT_FOUND', `no watch ${watchId}`, { watchId })
        const outcome = await forwarder.send(owner, { bucket, verb, body: request }, forwardReadAttemptMs)
        return outcome.kind === 'answer' ? outcome.reply : failure('RG_ERR_NOT_FOUND', `no watch ${watchId} reachable`, { watchId })
      }
      default:
        break
    }
    const state = options.state()
    const bad = bucketNameProblem(state, bucket)
    if (bad !== undefined) return bad
    const definition = bucketDefinition(state, bucket)
    if (definition === undefined) return failure('RG_ERR_NOT_FOUND', `CRDT bucket ${bucket} not found`, { bucket })
    if (verb === 'INFO') {
      const local = replicas.get(bucket)?.replica
      return { ok: true, bucket, stream: bucketStreamKey(bucket), regions: [...definition.regions], replicasPerRegion: definition.replicasPerRegion, placement: definition.placement, local: local === undefined ? null : local.info() }
    }
    if ((definition.placement[region] ?? []).length === 0) return failure('RG_ERR_NOT_FOUND', `CRDT bucket ${bucket} has no replica in region ${region} (its regions: ${definition.regions.join(', ')})`, { bucket, region })
    const refused = checkData(verb, request)
    if (refused !== undefined) return refused
    const served = await serveLocal(bucket, verb, request)
    if (!(served instanceof Elsewhere) || forwarded) return served
    const isWrite = kvCrdtWriteVerbs.has(verb)
    const prefer = verb === 'WATCH' ? (request['replica'] as string | undefined)?.split('#')[0] : undefined
    return forward({ bucket, verb, body: request }, isWrite, (request['timeoutMs'] as number | undefined) ?? kvCrdtWireDefaults.writeTimeoutMs, prefer, served.reason)
  }

  const reply = (replyTo: string | undefined, body: KvcReply | ForwardAnswer): void => {
    if (replyTo === undefined || replyTo.length === 0 || closed) return
    router.publishLocal(replyTo, undefined, undefined, encoder.encode(JSON.stringify(body)))
  }

  const onClientRequest = async (message: LocalMessage): Promise<void> => {
    // Never answer inside the publisher's fan-out: the reply goes out on a later turn.
    await Promise.resolve()
    const address = parseKvCrdtSubject(message.subject)
    if (address === undefined) {
      if (!message.subject.startsWith(`${kvCrdtSubjectPrefix}.`)) return
      reply(message.replyTo, failure('RG_ERR_INVALID_ARGUMENT', `${message.subject}: not a CRDT KV subject ($RG.KVC.<bucket>.<VERB>, VERB one of ${[...kvCrdtWriteVerbs, ...kvCrdtReadVerbs, 'ENSURE', 'REMOVE'].join(', ')})`))
      return
    }
    if (message.replyTo === undefined && address.verb !== 'UNWATCH') return // asks nothing
    counters.requests += 1
    if (inFlight >= requestsInFlightMax) {
      reply(message.replyTo, failure('RG_ERR_LIMIT_EXCEEDED', `too many CRDT KV requests in flight on this node (${requestsInFlightMax})`, { limit: 'requestsInFlightMax' }))
      return
    }
    const decoded = decodeBody(message.payload)
    if (!('body' in decoded)) return reply(message.replyTo, decoded)
    inFlight += 1
    try {
      const served = await execute(address.bucket, address.verb, decoded.body, false)
      // Invariant: a client's request is never left at "elsewhere" (execute forwards it).
      reply(message.replyTo, served instanceof Elsewhere ? failure('RG_ERR_NOT_READY', served.reason) : served)
    } finally {
      inFlight -= 1
    }
  }

  const onInternal = async (message: LocalMessage): Promise<void> => {
    if (forwarder.isAnswer(message.subject)) {
      forwarder.onAnswer(message.subject, message.payload)
      return
    }
    if (message.subject !== internalRequestSubject(nodeId) || message.replyTo === undefined) return
    await Promise.resolve()
    let request: ForwardedRequest
    try {
      request = JSON.parse(decoder.decode(message.payload)) as ForwardedRequest
    } catch {
      return reply(message.replyTo, failure('RG_ERR_MALFORMED_COMMAND', 'a forwarded request that is not JSON'))
    }
    const verb = parseKvCrdtSubject(`${kvCrdtSubjectPrefix}.${String(request.bucket)}.${String(request.verb)}`)?.verb
    if (verb === undefined || typeof request.bucket !== 'string') return reply(message.replyTo, failure('RG_ERR_MALFORMED_COMMAND', 'a forwarded request names no bucket or verb'))
    counters.servedForPeers += 1
    inFlight += 1
    try {
      const served = await execute(request.bucket, verb, request.body, true)
      reply(message.replyTo, served instanceof Elsewhere ? { ok: false, elsewhere: true, reason: served.reason } : served)
    } finally {
      inFlight -= 1
    }
  }

  const logFailure = (error: unknown): void => logger.warn({ err: (error as Error).message }, 'crdt kv: a request failed')
  const unsubscribeClients = router.subscribeLocal(`${kvCrdtSubjectPrefix}.>`, (message) => void onClientRequest(message).catch(logFailure))
  const unsubscribeInternal = router.subscribeLocal(internalWildcard(nodeId), (message) => void onInternal(message).catch(logFailure), { cluster: true })
  const unsubscribeChanges = options.onChange?.(reconcile)
  const timer = setInterval(reconcile, options.reconcileIntervalMs ?? reconcileIntervalMsDefault)
  timer.unref()
  reconcile()
  logger.debug({ namespace: kvCrdtStreamNamespace }, 'crdt kv: service attached')

  return {
    replica: (bucket) => replicas.get(bucket)?.replica,
    buckets: () => [...replicas.keys()].sort(),
    counters,
    watches: sessions,
    close: () => {
      if (closed) return
      closed = true
      clearInterval(timer)
      unsubscribeChanges?.()
      unsubscribeClients()
      unsubscribeInternal()
      forwarder.close()
      for (const { replica } of replicas.values()) replica.stop('the node is stopping')
      replicas.clear()
      sessions.close()
    },
  }
}
