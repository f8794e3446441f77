// fast-check generators for cluster routing tests: valid subjects, patterns (with `*`, `>`, `#`),
// queue names, interest entries and forwarded messages (some with non-ASCII tokens, so UTF-8
// lengths differ from string lengths).
import fc from 'fast-check'
import type { InterestEntry, InterestOp } from '../../server/routes/index.js'

export const tokenArb = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[a-z0-9_-]{1,6}$/) },
  { weight: 1, arbitrary: fc.constantFrom('é', 'ünï', '日本', 'x🚀') },
)

/** A small literal vocabulary, so random subjects and patterns actually meet. */
const smallTokenArb = fc.constantFrom('a', 'b', 'c', 'orders', 'eu')

export const subjectArb = fc.array(tokenArb, { minLength: 1, maxLength: 5 }).map((tokens) => tokens.join('.'))
export const smallSubjectArb = fc.array(smallTokenArb, { minLength: 1, maxLength: 4 }).map((tokens) => tokens.join('.'))

/** Patterns over the small vocabulary: literals, `*` anywhere, `#` anywhere, `>` last. */
export const smallPatternArb = fc
  .tuple(fc.array(fc.oneof(smallTokenArb, fc.constant('*'), fc.constant('#')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens).join('.'))

export const patternArb = fc
  .tuple(fc.array(fc.oneof(tokenArb, fc.constant('*'), fc.constant('#')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens).join('.'))

export const queueArb = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/)

export const entryArb: fc.Arbitrary<InterestEntry> = fc.record({ pattern: patternArb, queue: fc.option(queueArb, { nil: undefined }) })

export const opArb: fc.Arbitrary<InterestOp> = fc.record({ op: fc.constantFrom('add' as const, 'remove' as const), pattern: patternArb, queue: fc.option(queueArb, { nil: undefined }) })

export const messageArb = fc.record({
  subject: subjectArb,
  replyTo: fc.option(subjectArb, { nil: undefined }),
  queues: fc.array(queueArb, { maxLength: 4 }),
  headerBlock: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
  payload: fc.uint8Array({ maxLength: 256 }),
})
