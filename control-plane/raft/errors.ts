// The three ways the Raft core can say no, following the house style's tiers:
// - a bug (an invariant broke) is a RaftAssertionError: the node must stop;
// - a storage failure is fatal too: RawNode wraps it in RaftFatalError and refuses further work;
// - an expected refusal of a proposal is a ProposalDropped error the caller can retry elsewhere.
// Codes come from the one list in shared/errors.ts (`satisfies ErrorCode` keeps them listed).
import type { ErrorCode } from '../../shared/errors.js'

export class RaftAssertionError extends Error {
  override readonly name = 'RaftAssertionError'
}

/** Throws a RaftAssertionError when `condition` is false. Used where an invariant can break. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new RaftAssertionError(`raft invariant violated: ${typeof message === 'string' ? message : message()}`)
  }
}

/** The node hit a storage error or a broken invariant; it no longer takes part in the group. */
export class RaftFatalError extends Error {
  override readonly name = 'RaftFatalError'
  readonly code = 'RG_ERR_RAFT_STOPPED' satisfies ErrorCode
  constructor(
    readonly nodeId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`raft node ${nodeId} stopped: ${message}`, options)
  }
}

export const proposalDropReasons = [
  'noLeader',
  'forwardingDisabled',
  'transferring',
  'uncommittedSizeLimit',
  'pendingConfChange',
  'notInConfig',
  'invalidConfChange',
  'emptyProposal',
] as const
export type ProposalDropReason = (typeof proposalDropReasons)[number]

/** A proposal was not appended. Expected in normal operation: retry later or on another node. */
export class ProposalDropped extends Error {
  override readonly name = 'ProposalDropped'
  readonly code = 'RG_ERR_RAFT_PROPOSAL_DROPPED' satisfies ErrorCode
  constructor(
    readonly reason: ProposalDropReason,
    detail: string,
  ) {
    super(`raft proposal dropped (${reason}): ${detail}`)
  }
}

/** The caller used the API wrongly (e.g. stepped a local-only message type from the network). */
export class RaftUsageError extends Error {
  override readonly name = 'RaftUsageError'
}
