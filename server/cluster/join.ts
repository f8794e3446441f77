// Both ends of the join exchange (join-protocol.ts). The joiner (`JoinClient`) asks every seed
// that is up, every `joinRetryMs`, until one accepts; the receiver (`answerJoinRequest`) proposes
// the joiner's `addNode` and answers with its Raft configuration once the record is applied.
import type { ClusterNode } from '../../control-plane/driver/index.js'
import type { NodeId } from '../../control-plane/raft/index.js'
import type { Logger } from '../../shared/log.js'
import type { Transport } from '../../shared/transport/index.js'
import type { AddNodeFields, JoinReply, JoinRequest } from './join-protocol.js'
import { encodeJoinMessage } from './join-protocol.js'

/** Pause between join rounds (each round asks every seed that is up). */
export const joinRetryMs = 500
/** Join requests a receiver works on at once (more are answered "busy"). */
export const joinRequestsInFlightMax = 16

export interface JoinedConfiguration {
  readonly voters: NodeId[]
  readonly learners: NodeId[]
}

export class JoinClient {
  private requestId = 0
  private aborted = false
  private settle: ((reply: JoinReply | undefined) => void) | undefined
  private lastProblem = ''

  constructor(
    private readonly transport: Transport,
    private readonly logger: Logger,
  ) {}

  /** Resolves with the configuration of the first seed that accepts; rejects when aborted. */
  async join(seeds: () => readonly NodeId[], fields: AddNodeFields): Promise<JoinedConfiguration> {
    for (;;) {
      if (this.aborted) throw new Error('join aborted')
      const up = new Set(this.transport.upPeers())
      const reachable = seeds().filter((id) => up.has(id))
      const requestId = ++this.requestId
      const replied = new Promise<JoinReply | undefined>((resolve) => {
        this.settle = resolve
        setTimeout(() => resolve(undefined), joinRetryMs * 4).unref()
      })
      let sent = 0
      for (const seed of reachable) {
        if (this.transport.send(seed, 'admin', encodeJoinMessage({ rg: 'joinRequest', requestId, node: fields }))) sent += 1
      }
      if (sent > 0) {
        const reply = await replied
        if (reply?.ok === true) return { voters: reply.voters, learners: reply.learners }
        this.report(reply === undefined ? 'no seed answered the join request in time' : `join refused: ${reply.message}`)
      } else {
        this.settle = undefined
        this.report('no seed is reachable yet')
      }
      await new Promise((resolve) => setTimeout(resolve, joinRetryMs).unref())
    }
  }

  onReply(from: string, reply: JoinReply): void {
    if (reply.requestId !== this.requestId) return
    if (!reply.ok) {
      this.logger.debug({ from, message: reply.message }, 'join refused by one seed')
      return
    }
    this.settle?.(reply)
  }

  abort(): void {
    this.aborted = true
    this.settle?.(undefined)
  }

  /** Logs a problem when it changes (one line per change, not one per round). */
  private report(problem: string): void {
    if (problem === this.lastProblem) return
    this.lastProblem = problem
    this.logger.warn(problem)
  }
}

const inFlight = new WeakMap<ClusterNode, Set<NodeId>>()

/** Proposes the joiner's `addNode` and answers with this node's Raft configuration. */
export async function answerJoinRequest(node: ClusterNode, transport: Transport, from: NodeId, request: JoinRequest, logger: Logger): Promise<void> {
  const reply = (ok: boolean, message: string): void => {
    const confState = node.status().confState
    const payload: JoinReply = { rg: 'joinReply', requestId: request.requestId, ok, voters: ok ? [...confState.voters] : [], learners: ok ? [...confState.learners] : [], message }
    transport.send(from, 'admin', encodeJoinMessage(payload))
  }
  if (request.node.nodeId !== from) {
    reply(false, `the request names node ${request.node.nodeId} but came from ${from}`)
    return
  }
  const working = inFlight.get(node) ?? new Set<NodeId>()
  inFlight.set(node, working)
  if (working.has(from)) return // the earlier request's answer will do
  if (working.size >= joinRequestsInFlightMax) {
    reply(false, 'busy: too many joins at once, retry')
    return
  }
  working.add(from)
  try {
    const result = await node.ensure({ type: 'addNode', ...request.node })
    if (result.ok) {
      logger.info({ joiner: from, outcome: result.outcome, region: request.node.region }, `node ${from} joins (${result.outcome})`)
      reply(true, '')
    } else {
      logger.error({ joiner: from, code: result.code }, `join of node ${from} refused: ${result.message}`)
      reply(false, `${result.code}: ${result.message}`)
    }
  } catch (error) {
    reply(false, `not applied yet (${(error as Error).message})`)
  } finally {
    working.delete(from)
  }
}
