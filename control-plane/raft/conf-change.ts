// Single-server membership changes: the ConfChange entry codec and the configuration it yields.
import type { ConfChange, ConfState } from './types.js'
import { confChangeKinds } from './types.js'

// ConfChange entries carry their change as JSON text: small, rare, and readable in dumps.
const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const record: { kind: string; nodeId: string; context?: number[] } = { kind: cc.kind, nodeId: cc.nodeId }
  if (cc.context !== undefined) record.context = Array.from(cc.context)
  return textEncoder.encode(JSON.stringify(record))
}

/** Decodes a confChange entry's data. A malformed one is a bug: it was validated when proposed. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const parsed: unknown = JSON.parse(textDecoder.decode(data))
  if (typeof parsed !== 'object' || parsed === null) throw new Error('conf change: not an object')
  const record = parsed as { kind?: unknown; nodeId?: unknown; context?: unknown }
  const kind = confChangeKinds.find((k) => k === record.kind)
  if (kind === undefined) throw new Error(`conf change: unknown kind ${String(record.kind)}`)
  if (typeof record.nodeId !== 'string' || record.nodeId.length === 0) throw new Error('conf change: bad nodeId')
  if (record.context === undefined) return { kind, nodeId: record.nodeId }
  if (!Array.isArray(record.context)) throw new Error('conf change: bad context')
  return { kind, nodeId: record.nodeId, context: Uint8Array.from(record.context as number[]) }
}

/** The configuration after one single-server change. */
export function nextConfState(current: ConfState, cc: ConfChange): ConfState {
  const voters = new Set(current.voters)
  const learners = new Set(current.learners)
  switch (cc.kind) {
    case 'addVoter':
      learners.delete(cc.nodeId)
      voters.add(cc.nodeId)
      break
    case 'addLearner':
      voters.delete(cc.nodeId)
      learners.add(cc.nodeId)
      break
    case 'removeNode':
      voters.delete(cc.nodeId)
      learners.delete(cc.nodeId)
      break
  }
  return { voters: [...voters], learners: [...learners], votersOutgoing: [...current.votersOutgoing] }
}
