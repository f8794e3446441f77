// The server's view of the interest graph: which subscriptions receive a published subject
// (data-plane/ephemeral's subscription index), and the subject rules it applies to client input
// (shared/subject).
import { SubscriptionIndex } from '../data-plane/ephemeral/index.js'
import type { MatchOptions, SubscriptionMatch } from '../data-plane/ephemeral/index.js'
import { checkQueueName, isValidPublishSubject, isValidSubscribeSubject } from '../shared/subject/index.js'
import type { Subscription } from './subscription.js'

/** Plain subscriptions each receive a message; each queue group (by name) receives it once. */
export type InterestMatch = SubscriptionMatch<Subscription>

export interface InterestIndex {
  /** False when this very subscription is already indexed. */
  add(subscription: Subscription): boolean
  /** False when it was not indexed (removed already). */
  remove(subscription: Subscription): boolean
  /** `{ cache: false }` for one-off subjects (reply inboxes): see the index's README. */
  match(subject: string, options?: MatchOptions): InterestMatch
  readonly size: number
}

export interface SubjectRules {
  isValidPublishSubject(subject: string): boolean
  /** Reply subjects are mostly one-off inboxes: validated without the cache. */
  isValidReplySubject(subject: string): boolean
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
    isValidReplySubject: (subject) => isValidPublishSubject(subject),
    isValidSubscribeSubject: (subject) => isValidSubscribeSubject(subject),
    isValidQueueName: (queue) => checkQueueName(queue).valid,
  }
}

export const subjectRules: SubjectRules = createSubjectRules()

/** The interest index: data-plane/ephemeral's token trie (with `*`, `>`, `#` and queue groups). */
export function createInterestIndex(): InterestIndex {
  const index = new SubscriptionIndex<Subscription>()
  return {
    get size() {
      return index.size
    },
    add: (subscription) => index.insert(subscription),
    remove: (subscription) => index.remove(subscription),
    match: (subject, options) => index.match(subject, options),
  }
}
