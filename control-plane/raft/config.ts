// Validation of RaftConfig with defaults filled in. Every limit has a named default.
import type { ErrorCode } from '../../shared/errors.js'
import type { RaftConfig } from './types.js'

export const defaultMaxSizePerMsgBytes = 1024 * 1024
export const defaultMaxInflightMsgs = 256
export const defaultMaxInflightBytes = 64 * 1024 * 1024
export const defaultMaxUncommittedEntriesBytes = 64 * 1024 * 1024

export class RaftConfigError extends Error {
  override readonly name = 'RaftConfigError'
  readonly code = 'RG_ERR_RAFT_CONFIG' satisfies ErrorCode
}

/** A config whose optional limits are resolved; what the state machine reads. */
export interface ResolvedRaftConfig extends RaftConfig {
  readonly applied: number
  readonly maxSizePerMsg: number
  readonly maxInflightMsgs: number
  readonly maxInflightBytes: number
  readonly maxUncommittedEntriesSize: number
  readonly preVote: boolean
  readonly checkQuorum: boolean
  readonly disableProposalForwarding: boolean
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RaftConfigError(`raft config: ${name} must be a positive integer, got ${String(value)}`)
  }
}

export function validateConfig(config: RaftConfig): ResolvedRaftConfig {
  if (typeof config.id !== 'string' || config.id.length === 0) {
    throw new RaftConfigError('raft config: id must be a non-empty string')
  }
  positiveInteger('heartbeatTicks', config.heartbeatTicks)
  positiveInteger('electionTicks', config.electionTicks)
  if (config.electionTicks <= config.heartbeatTicks) {
    throw new RaftConfigError(
      `raft config: electionTicks (${config.electionTicks}) must be greater than heartbeatTicks (${config.heartbeatTicks})`,
    )
  }
  if (config.storage === undefined || config.storage === null) {
    throw new RaftConfigError('raft config: storage is required')
  }
  if (config.random === undefined || config.random === null || typeof config.random.int !== 'function') {
    throw new RaftConfigError('raft config: random (a RandomSource with int(n)) is required')
  }
  const applied = config.applied ?? 0
  if (!Number.isSafeInteger(applied) || applied < 0) {
    throw new RaftConfigError(`raft config: applied must be a non-negative integer, got ${String(applied)}`)
  }
  const resolved: ResolvedRaftConfig = {
    ...config,
    applied,
    maxSizePerMsg: config.maxSizePerMsg ?? defaultMaxSizePerMsgBytes,
    maxInflightMsgs: config.maxInflightMsgs ?? defaultMaxInflightMsgs,
    maxInflightBytes: config.maxInflightBytes ?? defaultMaxInflightBytes,
    maxUncommittedEntriesSize: config.maxUncommittedEntriesSize ?? defaultMaxUncommittedEntriesBytes,
    preVote: config.preVote ?? false,
    checkQuorum: config.checkQuorum ?? false,
    disableProposalForwarding: config.disableProposalForwarding ?? false,
  }
  positiveInteger('maxSizePerMsg', resolved.maxSizePerMsg)
  positiveInteger('maxInflightMsgs', resolved.maxInflightMsgs)
  positiveInteger('maxInflightBytes', resolved.maxInflightBytes)
  positiveInteger('maxUncommittedEntriesSize', resolved.maxUncommittedEntriesSize)
  if (resolved.maxInflightBytes < resolved.maxSizePerMsg) {
    throw new RaftConfigError(
      `raft config: maxInflightBytes (${resolved.maxInflightBytes}) must be at least maxSizePerMsg (${resolved.maxSizePerMsg})`,
    )
  }
  return resolved
}
