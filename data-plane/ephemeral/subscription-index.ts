// The interest graph of ephemeral streams: which subscriptions and queue groups a published
// subject reaches. Pure: no node:* imports, no timers, no clock.
//
// A token trie: each node has literal children, a `*` child, a `#` child and a `>` leaf, and
// holds the subscriptions whose pattern ends there (plain ones, and queue members by queue
// name). `match` walks the trie for a subject and memoises the result in a bounded cache that
// any insert or remove clears; `match(subject, { cache: false })` walks without the cache.
import { wildcardOneToken, wildcardTail, wildcardZeroOrMore } from '../../shared/subject/index.js'

/** What the index needs to know about a subscription; the value itself is the identity. */
export interface IndexedSubscription {
  /** A valid subscribe subject (see shared/subject). */
  readonly subject: string
  /** Queue group name; undefined (or absent) for a plain subscription. */
  readonly queue?: string | undefined
}

/**
 * The subscriptions a subject reaches: plain ones, and queue members grouped by queue name
 * (members of one queue name under different patterns form one group, as in nats-server).
 * Each subscription appears once. Results may be shared through the cache: never mutate them.
 */
export interface SubscriptionMatch<S> {
  readonly plain: readonly S[]
  readonly groups: ReadonlyMap<string, readonly S[]>
}

export const subscriptionIndexLimits = {
  /**
   * Most subjects whose match results are cached, in two generations of half this each: a hot
   * set of up to half of it always hits.
   */
  matchCacheEntriesMax: 4096,
  /** Slots of the admission filter: a result is cached when its subject is seen a second time. */
  cacheAdmissionSlots: 4096,
} as const

export interface SubscriptionIndexOptions {
  readonly matchCacheEntriesMax?: number
}

export interface MatchOptions {
  /**
   * false: walk the trie without touching the cache or its admission filter (no lookup, no
   * insert). For subjects the caller knows are one-off, such as reply inboxes
   * (`_INBOX.<nuid>.<n>`): each is seen twice per request (the requester's interest check and
   * the response), so the admission filter would cache every one, filling the cache with dead
   * entries whose eviction shows up as old-generation GC.
   */
  readonly cache?: boolean
}

class TrieNode<S> {
  literal: Map<string, TrieNode<S>> | undefined
  star: TrieNode<S> | undefined
  hash: TrieNode<S> | undefined
  tail: TrieNode<S> | undefined
  plain: Set<S> | undefined
  groups: Map<string, Set<S>> | undefined
  constructor(readonly id: number) {}

  isEmpty(): boolean {
    return (
      (this.literal === undefined || this.literal.size === 0) &&
      this.star === undefined &&
      this.hash === undefined &&
      this.tail === undefined &&
      (this.plain === undefined || this.plain.size === 0) &&
      (this.groups === undefined || this.groups.size === 0)
    )
  }
}

const emptyGroups: ReadonlyMap<string, readonly never[]> = new Map()

export class SubscriptionIndex<S extends IndexedSubscription> {
  readonly matchCacheEntriesMax: number
  private readonly root: TrieNode<S>
  private nextNodeId = 1
  private nodes = 0
  private hashNodes = 0
  private subscriptions = 0
  // The match cache in two generations of at most half the bound each: new results go into
  // `recent`; when it is full it becomes `older` (the previous `older` is dropped) — O(1)
  // eviction with no iteration (evicting a Map's oldest key one at a time costs an iteration
  // over its deleted slots: measured 2-3 µs per match). A hit in `older` is promoted.
  private readonly generationEntriesMax: number
  private recent = new Map<string, SubscriptionMatch<S>>()
  private older = new Map<string, SubscriptionMatch<S>>()
  // Admission filter: the last subject seen in each slot. Caching a subject seen only once
  // (reply inboxes, unique ids) costs more (allocation, GC of evicted entries: measured ~0.8 µs
  // per match) than the walk it would save, so only a subject seen twice is cached.
  private readonly seenOnce: string[] = new Array<string>(subscriptionIndexLimits.cacheAdmissionSlots).fill('')

  constructor(options: SubscriptionIndexOptions = {}) {
    const max = options.matchCacheEntriesMax ?? subscriptionIndexLimits.matchCacheEntriesMax
    if (!Number.isInteger(max) || max < 0 || max === 1) {
      throw new RangeError(`matchCacheEntriesMax must be 0 (no cache) or an integer >= 2, got ${max}`)
    }
    this.matchCacheEntriesMax = max
    this.generationEntriesMax = Math.floor(max / 2)
    this.root = new TrieNode<S>(0)
  }

  /** Subscriptions held. */
  get size(): number {
    return this.subscriptions
  }

  /** Trie nodes besides the root; 0 again once every subscription is removed. */
  get nodeCount(): number {
    return this.nodes
  }

  /** Subjects whose results are cached right now. */
  get cachedSubjects(): number {
    return this.recent.size + this.older.size
  }

  /** Adds `sub`; false if this very value is already indexed. */
  insert(sub: S): boolean {
    let node = this.root
    for (const token of sub.subject.split('.')) node = this.child(node, token)
    let added: boolean
    if (sub.queue === undefined) {
      node.plain ??= new Set()
      added = !node.plain.has(sub)
      node.plain.add(sub)
    } else {
      node.groups ??= new Map()
      let members = node.groups.get(sub.queue)
      if (members === undefined) node.groups.set(sub.queue, (members = new Set()))
      added = !members.has(sub)
      members.add(sub)
    }
    if (added) {
      this.subscriptions++
      this.clearCache()
    }
    return added
  }

  /** Removes `sub` and prunes nodes left empty; false if it was not indexed. */
  remove(sub: S): boolean {
    const path: Array<[TrieNode<S>, string]> = []
    let node: TrieNode<S> = this.root
    for (const token of sub.subject.split('.')) {
      const next: TrieNode<S> | undefined = childOf(node, token)
      if (next === undefined) return false
      path.push([node, token])
      node = next
    }
    let removed: boolean
    if (sub.queue === undefined) removed = node.plain?.delete(sub) ?? false
    else {
      const members = node.groups?.get(sub.queue)
      removed = members?.delete(sub) ?? false
      if (members !== undefined && members.size === 0) node.groups?.delete(sub.queue)
    }
    if (!removed) return false
    this.subscriptions--
    this.clearCache()
    for (let i = path.length - 1; i >= 0 && node.isEmpty(); i--) {
      const [parent, token] = path[i] as [TrieNode<S>, string]
      this.detach(parent, token)
      node = parent
    }
    return true
  }

  /** The subscriptions `subject` (a valid publish subject) reaches. */
  match(subject: string, options?: MatchOptions): SubscriptionMatch<S> {
    if (options !== undefined && options.cache === false) return this.compute(subject.split('.'))
    const cached = this.recent.get(subject)
    if (cached !== undefined) return cached
    const older = this.older.get(subject)
    const result = older ?? this.compute(subject.split('.'))
    if (this.generationEntriesMax > 0 && (older !== undefined || this.admit(subject))) {
      if (this.recent.size >= this.generationEntriesMax) {
        this.older = this.recent
        this.recent = new Map()
      }
      this.recent.set(subject, result)
    }
    return result
  }

  /** True when `subject` was the last one seen in its admission slot; records it otherwise. */
  private admit(subject: string): boolean {
    // FNV-1a over the UTF-16 code units. A collision only changes what gets cached, never what
    // a match returns. (A hash of a few positions was tried: structured subjects such as
    // `stream12.eu.created` collided so often that hot subjects were never admitted.)
    let hash = 0x811c9dc5
    for (let i = 0; i < subject.length; i++) hash = Math.imul(hash ^ subject.charCodeAt(i), 0x01000193)
    const slot = (hash >>> 0) & (subscriptionIndexLimits.cacheAdmissionSlots - 1)
    if (this.seenOnce[slot] === subject) return true
    this.seenOnce[slot] = subject
    return false
  }

  private clearCache(): void {
    if (this.recent.size > 0) this.recent = new Map()
    if (this.older.size > 0) this.older = new Map()
  }

  private compute(tokens: readonly string[]): SubscriptionMatch<S> {
    // Without `#` every node sits at one depth, so each is reached at most once; with `#` the
    // same node can be reached along several paths, so visits and collections are deduplicated.
    const deduplicate = this.hashNodes > 0
    const walk: Walk<S> = {
      tokens,
      plain: [],
      groups: undefined,
      visited: deduplicate ? new Set() : undefined,
      collected: deduplicate ? new Set() : undefined,
    }
    visit(walk, this.root, 0)
    return { plain: walk.plain, groups: walk.groups ?? (emptyGroups as ReadonlyMap<string, readonly S[]>) }
  }

  private child(node: TrieNode<S>, token: string): TrieNode<S> {
    const existing = childOf(node, token)
    if (existing !== undefined) return existing
    const created = new TrieNode<S>(this.nextNodeId++)
    this.nodes++
    if (token === wildcardOneToken) node.star = created
    else if (token === wildcardTail) node.tail = created
    else if (token === wildcardZeroOrMore) {
      node.hash = created
      this.hashNodes++
    } else {
      node.literal ??= new Map()
      node.literal.set(token, created)
    }
    return created
  }

  private detach(parent: TrieNode<S>, token: string): void {
    this.nodes--
    if (token === wildcardOneToken) parent.star = undefined
    else if (token === wildcardTail) parent.tail = undefined
    else if (token === wildcardZeroOrMore) {
      parent.hash = undefined
      this.hashNodes--
    } else {
      parent.literal?.delete(token)
      if (parent.literal?.size === 0) parent.literal = undefined
    }
  }
}

/** The state of one match walk (plain functions over it, not closures: nothing to allocate). */
interface Walk<S> {
  readonly tokens: readonly string[]
  readonly plain: S[]
  groups: Map<string, S[]> | undefined
  readonly visited: Set<number> | undefined
  readonly collected: Set<TrieNode<S>> | undefined
}

function collect<S>(walk: Walk<S>, node: TrieNode<S>): void {
  if (walk.collected !== undefined) {
    if (walk.collected.has(node)) return
    walk.collected.add(node)
  }
  if (node.plain !== undefined) for (const sub of node.plain) walk.plain.push(sub)
  if (node.groups !== undefined) {
    walk.groups ??= new Map()
    for (const [queue, members] of node.groups) {
      let group = walk.groups.get(queue)
      if (group === undefined) walk.groups.set(queue, (group = []))
      for (const sub of members) group.push(sub)
    }
  }
}

function visit<S>(walk: Walk<S>, node: TrieNode<S>, position: number): void {
  if (walk.visited !== undefined) {
    const key = node.id * (walk.tokens.length + 1) + position // unique per (node, position)
    if (walk.visited.has(key)) return
    walk.visited.add(key)
  }
  const count = walk.tokens.length
  if (position === count) {
    collect(walk, node)
    if (node.hash !== undefined) visit(walk, node.hash, count)
    return
  }
  const literal = node.literal?.get(walk.tokens[position] as string)
  if (literal !== undefined) visit(walk, literal, position + 1)
  if (node.star !== undefined) visit(walk, node.star, position + 1)
  if (node.tail !== undefined) collect(walk, node.tail)
  if (node.hash !== undefined) for (let next = position; next <= count; next++) visit(walk, node.hash, next)
}

function childOf<S>(node: TrieNode<S>, token: string): TrieNode<S> | undefined {
  if (token === wildcardOneToken) return node.star
  if (token === wildcardTail) return node.tail
  if (token === wildcardZeroOrMore) return node.hash
  return node.literal?.get(token)
}
