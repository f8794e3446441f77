// apply(state, command, meta) → { state, result, events }: the cluster state machine's only
// transition. Pure and deterministic: no clock, no randomness, no I/O; time and the log index
// come in `meta`. A rejected command leaves the state unchanged except `lastAppliedIndex`
// (the entry was applied; its result is the error) and publishes nothing.
import { decodeCommand } from './codec.js'
import type { ApplyMeta, Command } from './commands.js'
import { commandSchema } from './commands.js'
import { applyAddToken, applyEnsureRole, applyEnsureUser, applyRemoveRole, applyRemoveUser, applyRevokeToken } from './apply-auth.js'
import { applyEnsureConsumerGroup, applyEnsurePipeline, applyRemoveConsumerGroup, applyRemovePipeline } from './apply-consumers.js'
import { applyEnsureNamespace, applyEnsureRegion, applyEnsureStream, applyRemoveNamespace, applyRemoveStream } from './apply-streams.js'
import { applyDesignate, applyRedesignate } from './designations.js'
import type { ClusterEvent } from './events.js'
import { applyEnsureBucket, applyKvCas, applyKvDelete, applyKvPut, applyRemoveBucket } from './kv.js'
import { applyAddNode, applyDrainNode, applyMarkNodeDead, applyRemoveNode, applyReplicaCaughtUp, applySetNodeTags } from './membership.js'
import type { ApplyResult } from './result.js'
import { fail, ok } from './result.js'
import type { ClusterState } from './state.js'
import type { Step } from './step.js'

export interface ApplyOutput {
  readonly state: ClusterState
  readonly result: ApplyResult
  /** System events to publish on `$RG.events.>` (see events.ts). Empty when rejected. */
  readonly events: readonly ClusterEvent[]
}

function dispatch(state: ClusterState, command: Command, meta: ApplyMeta): Step {
  switch (command.type) {
    case 'ensureNamespace':
      return applyEnsureNamespace(state, command, meta)
    case 'removeNamespace':
      return applyRemoveNamespace(state, command, meta)
    case 'ensureRegion':
      return applyEnsureRegion(state, command, meta)
    case 'ensureStream':
      return applyEnsureStream(state, command, meta)
    case 'removeStream':
      return applyRemoveStream(state, command, meta)
    case 'ensureConsumerGroup':
      return applyEnsureConsumerGroup(state, command, meta)
    case 'removeConsumerGroup':
      return applyRemoveConsumerGroup(state, command, meta)
    case 'ensurePipeline':
      return applyEnsurePipeline(state, command, meta)
    case 'removePipeline':
      return applyRemovePipeline(state, command, meta)
    case 'addNode':
      return applyAddNode(state, command, meta)
    case 'drainNode':
      return applyDrainNode(state, command, meta)
    case 'markNodeDead':
      return applyMarkNodeDead(state, command, meta)
    case 'removeNode':
      return applyRemoveNode(state, command, meta)
    case 'setNodeTags':
      return applySetNodeTags(state, command, meta)
    case 'replicaCaughtUp':
      return applyReplicaCaughtUp(state, command, meta)
    case 'designate':
      return applyDesignate(state, command, meta)
    case 'redesignate':
      return applyRedesignate(state, command, meta)
    case 'ensureUser':
      return applyEnsureUser(state, command, meta)
    case 'removeUser':
      return applyRemoveUser(state, command, meta)
    case 'addToken':
      return applyAddToken(state, command, meta)
    case 'revokeToken':
      return applyRevokeToken(state, command, meta)
    case 'ensureRole':
      return applyEnsureRole(state, command, meta)
    case 'removeRole':
      return applyRemoveRole(state, command, meta)
    case 'ensureBucket':
      return applyEnsureBucket(state, command, meta)
    case 'removeBucket':
      return applyRemoveBucket(state, command, meta)
    case 'kvPut':
      return applyKvPut(state, command, meta)
    case 'kvDelete':
      return applyKvDelete(state, command, meta)
    case 'kvCas':
      return applyKvCas(state, command, meta)
    default: {
      const unknown: never = command
      throw new Error(`cluster apply: unknown command ${JSON.stringify(unknown)} (decodeCommand should have rejected it)`)
    }
  }
}

function checkMeta(state: ClusterState, meta: ApplyMeta): void {
  // Invariant: entries are applied once, in log order. Anything else is a driver bug: crash.
  if (!Number.isSafeInteger(meta.index) || meta.index <= state.lastAppliedIndex) {
    throw new Error(`cluster apply: index ${meta.index} is not after the last applied index ${state.lastAppliedIndex}`)
  }
  if (!Number.isSafeInteger(meta.timeMs) || meta.timeMs < 0) throw new Error(`cluster apply: bad timeMs ${meta.timeMs}`)
}

function applyChecked(state: ClusterState, command: Command, meta: ApplyMeta): ApplyOutput {
  const step = dispatch(state, command, meta)
  if (!step.result.ok) return { state: { ...state, lastAppliedIndex: meta.index }, result: step.result, events: [] }
  return { state: { ...step.state, lastAppliedIndex: meta.index }, result: step.result, events: step.events }
}

/**
 * Applies one command. The command is validated against the same schema as decoded entries
 * (so an in-process caller cannot slip in a fractional replica count) and copied, so the state
 * never aliases the caller's objects.
 */
export function apply(state: ClusterState, command: Command, meta: ApplyMeta): ApplyOutput {
  checkMeta(state, meta)
  const parsed = commandSchema.safeParse(command)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.')
    return { state: { ...state, lastAppliedIndex: meta.index }, result: fail('RG_ERR_MALFORMED_COMMAND', `malformed command: ${where}: ${issue?.message ?? 'invalid'}`), events: [] }
  }
  return applyChecked(state, parsed.data, meta)
}

/**
 * Applies one Raft entry: decodes it and applies the command at the time the proposer stamped
 * into it. An empty entry (the leader's no-op) and a malformed one still advance
 * `lastAppliedIndex`; the malformed one answers RG_ERR_MALFORMED_COMMAND (every replica
 * decodes the same bytes the same way).
 */
export function applyEntry(state: ClusterState, entry: { readonly index: number; readonly data: Uint8Array }): ApplyOutput {
  checkMeta(state, { index: entry.index, timeMs: 0 })
  if (entry.data.length === 0) {
    return { state: { ...state, lastAppliedIndex: entry.index }, result: ok('unchanged', { noop: true }), events: [] }
  }
  const decoded = decodeCommand(entry.data)
  if (!decoded.ok) return { state: { ...state, lastAppliedIndex: entry.index }, result: decoded, events: [] }
  return applyChecked(state, decoded.command, { index: entry.index, timeMs: decoded.timeMs })
}
