// The interest graph of ephemeral streams: which subscriptions and queue groups a published
// subject reaches. Pure: no node:* imports, no timers, no clock.
//
// A token trie: each node has literal children, a `*` child, a `#` child and a `>` leaf, and
// holds the subscriptions whose pattern ends there (plain ones, and queue members by queue
// name). `match` walks the trie for a subject and memoises the result in a bounded cache that
// any insert or remove clears.
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
  /** Most subjects whose match results are cached; the oldest entry is evicted beyond this. */
  matchCacheEntriesMax: 4096,
} as const

export interface SubscriptionIndexOptions {
  readonly matchCacheEntriesMax?: number
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
/** Tokens per subject stay below this (subjectLimits.subjectTokensMax is 128), for memo keys. */
const positionsPerNode = 1024

export class SubscriptionIndex<S extends IndexedSubscription> {
  readonly matchCacheEntriesMax: number
  private readonly root: TrieNode<S>
  private nextNodeId = 1
  private nodes = 0
  private hashNodes = 0
  private subscriptions = 0
  private readonly cache = new Map<string, SubscriptionMatch<S>>()

  constructor(options: SubscriptionIndexOptions = {}) {
    this.matchCacheEntriesMax = options.matchCacheEntriesMax ?? subscriptionIndexLimits.matchCacheEntriesMax
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
    return this.cache.size
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
      this.cache.clear()
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
    this.cache.clear()
    for (let i = path.length - 1; i >= 0 && node.isEmpty(); i--) {
      const [parent, token] = path[i] as [TrieNode<S>, string]
      this.detach(parent, token)
      node = parent
    }
    return true
  }

  /** The subscriptions `subject` (a valid publish subject) reaches. */
  match(subject: string): SubscriptionMatch<S> {
    const cached = this.cache.get(subject)
    if (cached !== undefined) return cached
    const result = this.compute(subject.split('.'))
    if (this.matchCacheEntriesMax > 0) {
      if (this.cache.size >= this.matchCacheEntriesMax) {
        // Map iteration order is insertion order: the first key is the oldest entry.
        const oldest = this.cache.keys().next()
        if (oldest.done !== true) this.cache.delete(oldest.value)
      }
      this.cache.set(subject, result)
    }
    return result
  }

  private compute(tokens: readonly string[]): SubscriptionMatch<S> {
    const plain: S[] = []
    let groups: Map<string, S[]> | undefined
    // Without `#` every node sits at one depth, so each is reached at most once; with `#` the
    // same node can be reached along several paths, so visits and collections are deduplicated.
    const deduplicate = this.hashNodes > 0
    const visited = deduplicate ? new Set<number>() : undefined
    const collected = deduplicate ? new Set<TrieNode<S>>() : undefined
    const count = tokens.length

    const collect = (node: TrieNode<S>): void => {
      if (collected !== undefined) {
        if (collected.has(node)) return
        collected.add(node)
      }
      if (node.plain !== undefined) for (const sub of node.plain) plain.push(sub)
      if (node.groups !== undefined) {
        for (const [queue, members] of node.groups) {
          groups ??= new Map()
          let group = groups.get(queue)
          if (group === undefined) groups.set(queue, (group = []))
          for (const sub of members) group.push(sub)
        }
      }
    }

    const visit = (node: TrieNode<S>, position: number): void => {
      if (visited !== undefined) {
        const key = node.id * positionsPerNode + position
        if (visited.has(key)) return
        visited.add(key)
      }
      if (position === count) {
        collect(node)
        if (node.hash !== undefined) visit(node.hash, count)
        return
      }
      const literal = node.literal?.get(tokens[position] as string)
      if (literal !== undefined) visit(literal, position + 1)
      if (node.star !== undefined) visit(node.star, position + 1)
      if (node.tail !== undefined) collect(node.tail)
      if (node.hash !== undefined) for (let next = position; next <= count; next++) visit(node.hash, next)
    }

    visit(this.root, 0)
    return { plain, groups: groups ?? (emptyGroups as ReadonlyMap<string, readonly S[]>) }
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

function childOf<S>(node: TrieNode<S>, token: string): TrieNode<S> | undefined {
  if (token === wildcardOneToken) return node.star
  if (token === wildcardTail) return node.tail
  if (token === wildcardZeroOrMore) return node.hash
  return node.literal?.get(token)
}
