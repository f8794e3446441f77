// Parsing and formatting helpers shared by the scenario runner and its expectations.
import type { Entry, Message, NodeId, RandomSource, RawNode } from '../../control-plane/raft/index.js'
import type { MemoryStorage } from '../../control-plane/raft/index.js'

export interface NodeOptions {
  electionTicks: number
  heartbeatTicks: number
  preVote: boolean
  checkQuorum: boolean
  disableProposalForwarding: boolean
  maxInflightMsgs?: number
  maxInflightBytes?: number
  maxSizePerMsg?: number
  maxUncommittedEntriesSize?: number
  seed?: number
}

export interface SimNode {
  readonly id: NodeId
  readonly storage: MemoryStorage
  readonly options: NodeOptions
  raw: RawNode | undefined
  stoppedReason: string | null
  /** The application's state: non-empty normal entries applied, in order. */
  applied: { index: number; data: string }[]
  readStates: { index: number; context: string }[]
}

/** A scripted expectation or command failed; the script goes on with its next line. */
export class ScriptFailure extends Error {}

export const textEncoder = new TextEncoder()
export const textDecoder = new TextDecoder()

/** Deterministic randomness: fixed 0 by default (timeouts exactly electionTicks), or a seeded LCG. */
export function makeRandom(seed: number | undefined): RandomSource {
  if (seed === undefined) return { int: () => 0 }
  let state = seed >>> 0
  return {
    int(n: number): number {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0
      return state % n
    },
  }
}

export interface Args {
  readonly positional: string[]
  readonly named: Map<string, string>
}

export function parseArgs(tokens: string[]): Args {
  const positional: string[] = []
  const named = new Map<string, string>()
  for (const token of tokens) {
    const eq = token.indexOf('=')
    if (eq > 0) named.set(token.slice(0, eq), token.slice(eq + 1))
    else positional.push(token)
  }
  return { positional, named }
}

export function parseInteger(text: string | undefined, what: string): number {
  if (text === undefined || !/^-?\d+$/.test(text)) throw new ScriptFailure(`${what}: expected an integer, got ${String(text)}`)
  return Number(text)
}

export function parseBoolean(text: string | undefined, fallback: boolean): boolean {
  if (text === undefined) return fallback
  if (text === 'true') return true
  if (text === 'false') return false
  throw new ScriptFailure(`expected true or false, got ${text}`)
}

export function idList(text: string | undefined): NodeId[] {
  if (text === undefined || text === '' || text === 'none') return []
  return text.split(',').map((id) => id.trim())
}

export function describeMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${m.type} term=${m.term}`]
  if (m.type === 'app') parts.push(`index=${m.index} logTerm=${m.logTerm} commit=${m.commit} entries=[${m.entries.map(describeEntry).join(' ')}]`)
  if (m.type === 'appResp') parts.push(m.reject ? `reject index=${m.index} hint=${m.rejectHint}/${m.rejectHintTerm}` : `index=${m.index}`)
  if (m.type === 'vote' || m.type === 'preVote') parts.push(`lastIndex=${m.index} lastTerm=${m.logTerm}`)
  if (m.type === 'voteResp' || m.type === 'preVoteResp') parts.push(m.reject ? 'rejected' : 'granted')
  if (m.type === 'heartbeat') parts.push(`commit=${m.commit}`)
  if (m.type === 'snap' && m.snapshot !== undefined) parts.push(`snapshot=${m.snapshot.metadata.index}/${m.snapshot.metadata.term}`)
  if (m.type === 'readIndexResp') parts.push(`index=${m.index}`)
  if (m.context !== undefined && m.context.length > 0 && m.type !== 'vote') parts.push(`ctx=${textDecoder.decode(m.context)}`)
  return parts.join(' ')
}

export function describeEntry(e: Entry): string {
  const data = e.type === 'confChange' ? `cc:${textDecoder.decode(e.data)}` : textDecoder.decode(e.data)
  return `${e.term}/${e.index}${data === '' ? '' : ':' + data}`
}
