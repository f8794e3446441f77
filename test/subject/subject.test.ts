// Subject validation, the matcher against a regex reference, and the stream/topic mapping.
import fc from 'fast-check'
import t from 'tap'
import { matchSubject } from '../../shared/subject/match.js'
import { splitStreamSubject, streamPattern, streamSubject } from '../../shared/subject/stream.js'
import {
  checkPublishSubject,
  checkQueueName,
  checkSubscribeSubject,
  hasWildcard,
  subjectLimits,
  utf8Bytes,
} from '../../shared/subject/validate.js'

t.test('publish subjects', async (t) => {
  for (const ok of ['a', 'orders.eu.created', '_INBOX.x1.2', 'a*b.c>', 'caf\u00e9.\u65e5', '$RG.API.STREAM.CREATE']) {
    t.ok(checkPublishSubject(ok).valid, ok)
  }
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['.a', /empty token/],
    ['a.', /empty token/],
    ['a..b', /empty token/],
    ['a b', /whitespace/],
    ['a\tb', /whitespace/],
    ['a\r\nb', /whitespace/],
    ['a\u0000b', /control/],
    ['a\u00a0b', /whitespace/],
    ['a.*', /wildcard '\*'/],
    ['a.>', /wildcard '>'/],
    ['a.#.b', /wildcard '#'/],
    ['x'.repeat(subjectLimits.subjectBytesMax + 1), /more than 1024/],
    [Array(subjectLimits.subjectTokensMax + 1).fill('a').join('.'), /tokens, more than/],
  ]
  for (const [subject, reason] of bad) {
    const result = checkPublishSubject(subject)
    t.notOk(result.valid, JSON.stringify(subject.slice(0, 20)))
    if (!result.valid) t.match(result.reason, reason)
  }
})

t.test('subscribe subjects', async (t) => {
  for (const ok of ['a', 'a.*', '*', '>', 'a.>', '*.*.>', '#', 'a.#', '#.b', 'a.#.b', '#.#', 'orders.*.created']) {
    t.ok(checkSubscribeSubject(ok).valid, ok)
  }
  const bad: Array<[string, RegExp]> = [
    ['a.>.b', /'>' may only end/],
    ['>.a', /'>' may only end/],
    ['a..*', /empty token/],
    ['', /empty/],
    ['a *', /whitespace/],
  ]
  for (const [subject, reason] of bad) {
    const result = checkSubscribeSubject(subject)
    t.notOk(result.valid, subject)
    if (!result.valid) t.match(result.reason, reason)
  }
  t.ok(hasWildcard('a.#'))
  t.notOk(hasWildcard('a*b.c'))
})

t.test('queue names', async (t) => {
  t.ok(checkQueueName('workers').valid)
  t.ok(checkQueueName('workers.eu').valid)
  t.notOk(checkQueueName('').valid)
  t.notOk(checkQueueName('a b').valid)
  t.notOk(checkQueueName('q'.repeat(subjectLimits.queueNameBytesMax + 1)).valid)
})

t.test('utf8Bytes agrees with TextEncoder', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => utf8Bytes(s) === new TextEncoder().encode(s).length))
  t.pass()
})

t.test('matcher examples', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['a.>', 'a', false],
    ['a.>', 'a.b', true],
    ['a.>', 'a.b.c', true],
    ['>', 'a', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['#', 'a.b', true],
    ['#.c', 'c', true],
    ['#.c', 'a.b.c', true],
    ['#.c', 'a.b', false],
    ['a.#.c', 'a.c', true],
    ['a.#.c', 'a.x.y.c', true],
    ['a.#.c', 'a.x.y', false],
    ['a.#.*', 'a', false],
    ['a.#.*', 'a.b', true],
    ['#.>', 'a', true],
    ['a.#.>', 'a', false],
    ['orders.*.created', 'orders.eu.created', true],
    ['a*.b', 'ab.b', false],
    ['a*.b', 'a*.b', true],
  ]
  for (const [pattern, subject, expected] of cases) t.equal(matchSubject(pattern, subject), expected, `${pattern} ~ ${subject}`)
})

/** Naive reference: the pattern as a regex over '.'-prefixed tokens. */
function referenceMatch(pattern: string, subject: string): boolean {
  const token = '\\.[^.]+'
  const source = pattern
    .split('.')
    .map((p) => (p === '*' ? token : p === '>' ? `(?:${token})+` : p === '#' ? `(?:${token})*` : `\\.${p.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}`))
    .join('')
  return new RegExp(`^${source}$`).test(`.${subject}`)
}

const literal = fc.constantFrom('a', 'b', 'c', 'a*', 'x>')
const subjectArb = fc.array(literal, { minLength: 1, maxLength: 6 }).map((ts) => ts.join('.'))
const patternArb = fc
  .tuple(fc.array(fc.oneof(literal, fc.constantFrom('*', '#')), { minLength: 1, maxLength: 6 }), fc.boolean())
  .map(([ts, tail]) => (tail ? [...ts, '>'] : ts).join('.'))

t.test('matchSubject agrees with the regex reference (property)', async (t) => {
  fc.assert(
    fc.property(patternArb, subjectArb, (pattern, subject) => {
      if (!checkSubscribeSubject(pattern).valid || !checkPublishSubject(subject).valid) return false
      return matchSubject(pattern, subject) === referenceMatch(pattern, subject)
    }),
    { numRuns: 20_000 },
  )
  // Patterns built from the subject itself, so matches are frequent, not just mismatches.
  fc.assert(
    fc.property(subjectArb, fc.array(fc.nat(), { maxLength: 4 }), (subject, picks) => {
      const tokens = subject.split('.')
      for (const pick of picks) {
        const at = pick % tokens.length
        tokens[at] = ['*', '#', tokens[at] as string][pick % 3] as string
      }
      const pattern = tokens.join('.')
      return matchSubject(pattern, subject) === referenceMatch(pattern, subject) && (picks.length > 0 || matchSubject(pattern, subject))
    }),
    { numRuns: 20_000 },
  )
  t.pass('40,000 pattern/subject pairs agree with the reference')
})

t.test('stream and topic map onto a subject', async (t) => {
  t.equal(streamSubject('orders', 'eu.created'), 'orders.eu.created')
  t.equal(streamSubject('orders', ''), 'orders')
  t.equal(streamPattern('orders', 'eu.#'), 'orders.eu.#')
  t.ok(matchSubject(streamPattern('orders', '#'), streamSubject('orders', '')), '# matches the empty topic')
  t.ok(matchSubject(streamPattern('orders', '*.created'), 'orders.eu.created'))
  t.strictSame(splitStreamSubject('orders.eu.created'), { stream: 'orders', topic: 'eu.created' })
  t.strictSame(splitStreamSubject('orders'), { stream: 'orders', topic: '' })
})
