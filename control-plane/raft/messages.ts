// Building and classifying wire messages. A Message is one flat record; unused fields keep
// their zero values so that codecs and simulators see a single shape.
import type { Entry, Message, MessageType } from './types.js'

/** The "no node" id in messages (`from` of a local message). */
export const noNode = ''

export type MessageFields = Partial<Message> & Pick<Message, 'type'>

export function makeMessage(fields: MessageFields): Message {
  return {
    to: noNode,
    from: noNode,
    term: 0,
    index: 0,
    logTerm: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectHintTerm: 0,
    ...fields,
  }
}

const localTypes: ReadonlySet<MessageType> = new Set(['hup', 'beat', 'unreachable', 'snapStatus', 'checkQuorum'])
const responseTypes: ReadonlySet<MessageType> = new Set([
  'appResp',
  'voteResp',
  'preVoteResp',
  'heartbeatResp',
  'unreachable',
  'snapStatus',
  'readIndexResp',
])

/** Types that only the driver itself may step into its own node; never on the wire. */
export function isLocalMessage(type: MessageType): boolean {
  return localTypes.has(type)
}

export function isResponseMessage(type: MessageType): boolean {
  return responseTypes.has(type)
}

export function voteResponseType(type: 'vote' | 'preVote'): 'voteResp' | 'preVoteResp' {
  return type === 'vote' ? 'voteResp' : 'preVoteResp'
}

/** Bytes of payload an entry carries; the unit of every size limit here. */
export function entryPayloadBytes(entry: Entry): number {
  return entry.data.length
}

export function entriesPayloadBytes(entries: readonly Entry[]): number {
  let total = 0
  for (const entry of entries) total += entry.data.length
  return total
}

/**
 * Keeps a prefix of `entries` whose payload fits in `bytesMax`, but always at least one entry
 * so a single oversized entry still makes progress.
 */
export function limitSize(entries: Entry[], bytesMax: number): Entry[] {
  if (entries.length === 0) return entries
  let size = entryPayloadBytes(entries[0] as Entry)
  let limit = 1
  for (; limit < entries.length; limit++) {
    size += entryPayloadBytes(entries[limit] as Entry)
    if (size > bytesMax) break
  }
  return limit === entries.length ? entries : entries.slice(0, limit)
}

/** Marks a vote request sent because the leader asked (TimeoutNow): it may break a lease. */
export const campaignTransferContext: Uint8Array = new TextEncoder().encode('raft:campaign-transfer')

export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A stable string key for a request context (read-index bookkeeping). */
export function contextKey(context: Uint8Array | undefined): string {
  if (context === undefined) return ''
  let key = ''
  for (const byte of context) key += byte.toString(16).padStart(2, '0')
  return key
}
