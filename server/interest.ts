// The server's view of the interest graph: which subscriptions receive a published subject.
// STAND-IN: a small cached matcher used until data-plane/ephemeral's subscription index lands;
// the connection code only depends on the `InterestIndex` interface below.
import { checkQueueName, isValidPublishSubject, isValidSubscribeSubject, matchTokens } from '../shared/subject/index.js'
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

/** Validity of recently seen publish subjects: PUB validation is on the hot path. */
const publishCheckCacheEntriesMax = 8192

function createSubjectRules(): SubjectRules {
  let publishCache = new Map<string, boolean>()
  return {
    isValidPublishSubject(subject) {
      const cached = publishCache.get(subject)
      if (cached !== undefined) return cached
      const verdict = isValidPublishSubject(subject)
      if (publishCache.size >= publishCheckCacheEntriesMax) publishCache = new Map()
      publishCache.set(subject, verdict)
      return verdict
    },
    isValidSubscribeSubject: (subject) => isValidSubscribeSubject(subject),
    isValidQueueName: (queue) => checkQueueName(queue).valid,
  }
}

export const subjectRules: SubjectRules = createSubjectRules()

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
        if (!matchTokens(pattern, tokens)) continue
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
