// The server's view of the interest graph: which subscriptions receive a published subject.
// STAND-IN: a small cached matcher used until data-plane/ephemeral's subscription index lands;
// the connection code only depends on the `InterestIndex` interface below.
import type { Subscription } from './subscription.js'

export interface InterestMatch {
  /** Plain subscriptions (no queue group): each receives the message. */
  readonly plain: readonly Subscription[]
  /** One array per queue group: exactly one member receives the message. */
  readonly groups: ReadonlyArray<readonly Subscription[]>
}

export interface InterestIndex {
  add(subscription: Subscription): void
  remove(subscription: Subscription): void
  match(subject: string): InterestMatch
  readonly size: number
}

export interface SubjectRules {
  isValidPublishSubject(subject: string): boolean
  isValidSubscribeSubject(subject: string): boolean
  isValidQueueName(queue: string): boolean
}

function tokenOk(token: string): boolean {
  if (token.length === 0) return false
  for (let index = 0; index < token.length; index += 1) {
    const code = token.charCodeAt(index)
    if (code <= 0x20 || code === 0x7f) return false
  }
  return true
}

export const subjectRules: SubjectRules = {
  isValidPublishSubject(subject) {
    const tokens = subject.split('.')
    return tokens.every((token) => tokenOk(token) && token !== '*' && token !== '>' && token !== '#')
  },
  isValidSubscribeSubject(subject) {
    const tokens = subject.split('.')
    return tokens.every((token, index) => tokenOk(token) && (token !== '>' || index === tokens.length - 1))
  },
  isValidQueueName(queue) {
    return tokenOk(queue)
  },
}

function matches(pattern: readonly string[], p: number, tokens: readonly string[], s: number): boolean {
  while (p < pattern.length) {
    const token = pattern[p] as string
    if (token === '#') {
      for (let skip = s; skip <= tokens.length; skip += 1) if (matches(pattern, p + 1, tokens, skip)) return true
      return false
    }
    if (token === '>') return s < tokens.length
    if (s >= tokens.length) return false
    if (token !== '*' && token !== tokens[s]) return false
    p += 1
    s += 1
  }
  return s === tokens.length
}

const matchCacheEntriesMax = 4096

export function createInterestIndex(): InterestIndex {
  const subscriptions = new Set<Subscription>()
  const patterns = new Map<Subscription, readonly string[]>()
  let cache = new Map<string, InterestMatch>()
  return {
    get size() {
      return subscriptions.size
    },
    add(subscription) {
      subscriptions.add(subscription)
      patterns.set(subscription, subscription.subject.split('.'))
      cache = new Map()
    },
    remove(subscription) {
      subscriptions.delete(subscription)
      patterns.delete(subscription)
      cache = new Map()
    },
    match(subject) {
      const cached = cache.get(subject)
      if (cached !== undefined) return cached
      const tokens = subject.split('.')
      const plain: Subscription[] = []
      const groups = new Map<string, Subscription[]>()
      for (const [subscription, pattern] of patterns) {
        if (!matches(pattern, 0, tokens, 0)) continue
        if (subscription.queue === undefined) plain.push(subscription)
        else {
          const members = groups.get(subscription.queue)
          if (members === undefined) groups.set(subscription.queue, [subscription])
          else members.push(subscription)
        }
      }
      const result: InterestMatch = { plain, groups: [...groups.values()] }
      if (cache.size >= matchCacheEntriesMax) cache = new Map()
      cache.set(subject, result)
      return result
    },
  }
}
