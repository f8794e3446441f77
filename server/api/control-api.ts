// attachControlApi: the control API of one node. It subscribes in-process to `$RG.API.>` on the
// node's router (JSON request/reply: any NATS client can call it), serves the same verbs as REST
// (handleHttp, for the admin server's delegate), and publishes system events on `$RG.events.>`.
// Every request is validated (shared/api schemas), then mutations go through
// `controlPlane.ensure` (Raft forwards a follower's proposal to the leader) and reads through
// `controlPlane.read` (ReadIndex) or, with `stale: true`, this node's applied state.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { apiLimits, apiRequestSchemas, apiSubjectWildcard, isApiVerb, verbOfSubject } from '../../shared/api/index.js'
import type { ApiVerb } from '../../shared/api/index.js'
import type { Logger } from '../../shared/log.js'
import type { LocalMessage, Router } from '../router.js'
import type { ApiNodeInfo, ControlPlane } from './control-plane-port.js'
import type { HandlerContext, StreamDataPort, VerbHandler, VerbHandlers } from './handler-context.js'
import { accessHandlers } from './handlers-access.js'
import { clusterHandlers } from './handlers-cluster.js'
import { kvHandlers } from './handlers-kv.js'
import { objectHandlers } from './handlers-objects.js'
import { streamDataHandlers } from './handlers-stream-data.js'
import type { ApiReply } from './replies.js'
import { failure, fromIssues, fromThrown } from './replies.js'
import { handleRest } from './rest.js'
import type { RestAccess } from './rest.js'
import { publishSystemEvents } from './system-events.js'

export interface ControlApiOptions {
  readonly router: Router
  readonly controlPlane: ControlPlane
  readonly logger: Logger
  readonly nodeInfo: ApiNodeInfo
  /** How often the node checks for a new leader to publish `$RG.events.leader.elected` (default 100 ms). */
  readonly leaderPollMs?: number
  /** Access control for REST routes (server/admin-auth.ts); absent = every verb allowed. NATS requests are judged by the client connection. */
  readonly restAccess?: RestAccess
  /** Persistent streams' data on this node (STREAM.FETCH), once open. */
  readonly streamData?: () => StreamDataPort | undefined
}

export interface ControlApi {
  /** The REST routes under /api/v1 (pass as `AdminSource.api`); false when the path is not ours. */
  handleHttp(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean>
  /** Runs one verb on an already decoded body (what both transports call). */
  execute(verb: string, body: unknown): Promise<ApiReply>
  /** Unsubscribes, stops publishing events; later requests answer RG_ERR_NOT_READY. */
  close(): void
}

const handlers: VerbHandlers = { ...objectHandlers, ...streamDataHandlers, ...kvHandlers, ...clusterHandlers, ...accessHandlers }
const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

/** In-flight requests on one node's API; beyond it requests are refused at once. */
export const inFlightRequestsMax = apiLimits.inFlightRequestsMax

export function attachControlApi(options: ControlApiOptions): ControlApi {
  const { router, controlPlane, logger, nodeInfo } = options
  const context: HandlerContext = { controlPlane, nodeInfo, logger, ...(options.streamData === undefined ? {} : { streamData: options.streamData }) }
  let closed = false
  let inFlight = 0

  const execute = async (verb: string, body: unknown): Promise<ApiReply> => {
    if (closed || nodeInfo.isReady?.() === false) return failure('RG_ERR_NOT_READY', 'the node is not ready (starting or draining)')
    if (!isApiVerb(verb)) return failure('RG_ERR_UNKNOWN_VERB', `unknown API verb "${verb}"`)
    if (inFlight >= inFlightRequestsMax) {
      return failure('RG_ERR_LIMIT_EXCEEDED', `too many API requests in flight on this node (${inFlightRequestsMax})`, { limit: 'inFlightRequestsMax' })
    }
    const parsed = apiRequestSchemas[verb].safeParse(body ?? {})
    if (!parsed.success) return fromIssues(parsed.error.issues)
    inFlight += 1
    try {
      const handler = handlers[verb] as VerbHandler<ApiVerb>
      return await handler(context, parsed.data as never)
    } catch (error) {
      logger.warn({ verb, err: (error as Error).message }, 'API handler failed')
      return fromThrown(error)
    } finally {
      inFlight -= 1
    }
  }

  /** Decodes a NATS request body: empty = {}, else a JSON object. */
  const decode = (payload: Uint8Array): { body: unknown } | ApiReply => {
    if (payload.length === 0) return { body: {} }
    if (payload.length > apiLimits.requestBytesMax) {
      return failure('RG_ERR_VALUE_TOO_LARGE', `request: larger than ${apiLimits.requestBytesMax} bytes`, { limit: 'requestBytesMax' })
    }
    let body: unknown
    try {
      body = JSON.parse(textDecoder.decode(payload))
    } catch (error) {
      return failure('RG_ERR_MALFORMED_COMMAND', `request: not JSON (${(error as Error).message})`)
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return failure('RG_ERR_MALFORMED_COMMAND', 'request: expected a JSON object')
    return { body }
  }

  const onMessage = async (message: LocalMessage): Promise<void> => {
    // Never answer inside the publisher's fan-out: the reply goes out on a later turn.
    await Promise.resolve()
    const replyTo = message.replyTo
    if (replyTo === undefined) return // a publish without a reply subject asks nothing
    const decoded = decode(message.payload)
    const reply = 'ok' in decoded ? decoded : await execute(verbOfSubject(message.subject) ?? '', decoded.body)
    if (closed) return
    router.publishLocal(replyTo, undefined, undefined, textEncoder.encode(JSON.stringify(reply)))
  }

  const unsubscribe = router.subscribeLocal(apiSubjectWildcard, (message) => {
    onMessage(message).catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'API request failed'))
  })
  const events = publishSystemEvents(router, controlPlane, logger, options.leaderPollMs)

  return {
    handleHttp: (request, response, url) => handleRest(execute, request, response, url, options.restAccess),
    execute,
    close: () => {
      if (closed) return
      closed = true
      unsubscribe()
      events.stop()
    },
  }
}
