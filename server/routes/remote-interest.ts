// What every peer's clients subscribe to, as the peer told us (snapshots and deltas), in one
// subscription index whose entries name their peer: `targets(subject)` says which peers get a
// copy of a publish (plain interest) and which peers hold members of each queue group. Pure: no
// node:* imports, no timers. Bounded: at most `patternsPerPeerMax` entries per peer.
import { SubscriptionIndex } from '../../data-plane/ephemeral/index.js'
import type { SubscriptionMatch } from '../../data-plane/ephemeral/index.js'
import { interestKey } from './local-interest.js'

/** One (pattern, queue) entry of one peer. */
export interface RemoteInterest {
  readonly subject: string
  readonly queue: string | undefined
  readonly peer: string
}

/** Where a publish on one subject goes beyond this node. Shared through a cache: read-only. */
export interface RouteTargets {
  /** Peers with plain interest (each once): each gets one copy. */
  readonly peers: readonly string[]
  /** Queue name → peers holding members of that group (each once). */
  readonly groups: ReadonlyMap<string, readonly string[]>
}

const noGroups: ReadonlyMap<string, readonly string[]> = new Map()
export const noTargets: RouteTargets = { peers: [], groups: noGroups }

const uncached = { cache: false } as const

export type RemoteAddResult = 'added' | 'present' | 'full'

function targetsOf(match: SubscriptionMatch<RemoteInterest>): RouteTargets {
  if (match.plain.length === 0 && match.groups.size === 0) return noTargets
  const peers: string[] = []
  for (const interest of match.plain) if (!peers.includes(interest.peer)) peers.push(interest.peer)
  if (match.groups.size === 0) return { peers, groups: noGroups }
  const groups = new Map<string, string[]>()
  for (const [queue, members] of match.groups) {
    const holders: string[] = []
    for (const member of members) if (!holders.includes(member.peer)) holders.push(member.peer)
    groups.set(queue, holders)
  }
  return { peers, groups }
}

export class RemoteInterestTable {
  readonly patternsPerPeerMax: number
  readonly #index = new SubscriptionIndex<RemoteInterest>()
  readonly #byPeer = new Map<string, Map<string, RemoteInterest>>()
  /**
   * Targets derived from the index's match results. The index returns the same result object for
   * a cached subject until the next change, so this costs one WeakMap lookup per publish on a hot
   * subject and nothing has to be invalidated by hand.
   */
  readonly #derived = new WeakMap<SubscriptionMatch<RemoteInterest>, RouteTargets>()

  constructor(patternsPerPeerMax: number) {
    if (!Number.isInteger(patternsPerPeerMax) || patternsPerPeerMax < 1) throw new RangeError(`patternsPerPeerMax must be a positive integer, got ${patternsPerPeerMax}`)
    this.patternsPerPeerMax = patternsPerPeerMax
  }

  /** Entries held for all peers; 0 means no publish leaves this node. */
  get size(): number {
    return this.#index.size
  }

  peerSize(peer: string): number {
    return this.#byPeer.get(peer)?.size ?? 0
  }

  peers(): string[] {
    return [...this.#byPeer.keys()]
  }

  add(peer: string, pattern: string, queue: string | undefined): RemoteAddResult {
    let entries = this.#byPeer.get(peer)
    const key = interestKey(pattern, queue)
    if (entries?.has(key) === true) return 'present'
    if (entries !== undefined && entries.size >= this.patternsPerPeerMax) return 'full'
    if (entries === undefined) {
      entries = new Map()
      this.#byPeer.set(peer, entries)
    }
    const interest: RemoteInterest = { subject: pattern, queue, peer }
    entries.set(key, interest)
    this.#index.insert(interest)
    return 'added'
  }

  /** False when the peer did not hold this entry. */
  remove(peer: string, pattern: string, queue: string | undefined): boolean {
    const entries = this.#byPeer.get(peer)
    const key = interestKey(pattern, queue)
    const interest = entries?.get(key)
    if (entries === undefined || interest === undefined) return false
    entries.delete(key)
    if (entries.size === 0) this.#byPeer.delete(peer)
    this.#index.remove(interest)
    return true
  }

  /** Forget everything a peer told us (link down, or a new snapshot). Returns how many entries went. */
  dropPeer(peer: string): number {
    const entries = this.#byPeer.get(peer)
    if (entries === undefined) return 0
    this.#byPeer.delete(peer)
    for (const interest of entries.values()) this.#index.remove(interest)
    return entries.size
  }

  /**
   * The peers a publish on `subject` goes to. `cache: false` for one-off subjects (reply inboxes):
   * they neither read nor fill the index's match cache.
   */
  targets(subject: string, cache = true): RouteTargets {
    if (this.#index.size === 0) return noTargets
    if (!cache) return targetsOf(this.#index.match(subject, uncached))
    const match = this.#index.match(subject)
    let targets = this.#derived.get(match)
    if (targets === undefined) {
      targets = targetsOf(match)
      this.#derived.set(match, targets)
    }
    return targets
  }

  /** Any peer interest in `subject` (no cache read or write). */
  hasInterest(subject: string): boolean {
    if (this.#index.size === 0) return false
    const match = this.#index.match(subject, uncached)
    return match.plain.length > 0 || match.groups.size > 0
  }

  /** Entries of one peer (tests, diagnostics). */
  entriesOf(peer: string): RemoteInterest[] {
    return [...(this.#byPeer.get(peer)?.values() ?? [])]
  }
}
