// Why a proposal or a read did not complete. One class, a `reason`, and a stable code taken from
// the project's one list (shared/errors.ts). Whether the entry may still have been applied is
// part of the answer (`outcome`): callers of declarative "ensure" commands retry on `unknown`.
import type { ErrorCode } from '../../shared/errors.js'

export const raftRequestFailureReasons = [
  /** The core refused to append it (no leader, transfer in progress, size limit...): not applied. */
  'dropped',
  /** Too many proposals or reads already wait on this node: not applied. */
  'tooManyPending',
  /** The term changed or this node stopped leading after it was proposed: it may still apply. */
  'leadershipLost',
  /** Another entry was applied at the index it was appended at: it was not applied. */
  'overwritten',
  /** No answer within the request's time budget: it may still apply. */
  'timeout',
  /** The driver stopped (storage error, fatal core error, or `stop()`): it may still apply elsewhere. */
  'stopped',
] as const
export type RaftRequestFailureReason = (typeof raftRequestFailureReasons)[number]

export const requestOutcomes = ['notApplied', 'unknown'] as const
export type RequestOutcome = (typeof requestOutcomes)[number]

const codes = {
  dropped: 'RG_ERR_RAFT_PROPOSAL_DROPPED',
  tooManyPending: 'RG_ERR_RAFT_PROPOSAL_DROPPED',
  leadershipLost: 'RG_ERR_RAFT_PROPOSAL_DROPPED',
  overwritten: 'RG_ERR_RAFT_PROPOSAL_DROPPED',
  timeout: 'RG_ERR_REQUEST_TIMEOUT',
  stopped: 'RG_ERR_RAFT_STOPPED',
} as const satisfies Record<RaftRequestFailureReason, ErrorCode>

const outcomes = {
  dropped: 'notApplied',
  tooManyPending: 'notApplied',
  leadershipLost: 'unknown',
  overwritten: 'notApplied',
  timeout: 'unknown',
  stopped: 'unknown',
} as const satisfies Record<RaftRequestFailureReason, RequestOutcome>

export class RaftRequestError extends Error {
  override readonly name = 'RaftRequestError'
  readonly code: ErrorCode
  readonly outcome: RequestOutcome

  constructor(
    readonly reason: RaftRequestFailureReason,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`raft request failed (${reason}): ${detail}`, options)
    this.code = codes[reason]
    this.outcome = outcomes[reason]
  }
}
