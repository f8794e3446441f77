import t from 'tap'
import fc from 'fast-check'
import { checkLinearizable, kvModel } from './index.js'
import type { History, KvInput, KvOutput, KvState, Model, Operation } from './index.js'

type KvOp = Operation<KvInput, KvOutput>

function op(clientId: number, callMs: number, returnMs: number | undefined, input: KvInput, output?: KvOutput): KvOp {
  return { clientId, callMs, returnMs, input, output: returnMs === undefined ? undefined : output }
}
const put = (key: string, value: string): KvInput => ({ kind: 'put', key, value })
const get = (key: string): KvInput => ({ kind: 'get', key })
const cas = (key: string, expected: string | null, value: string): KvInput => ({ kind: 'cas', key, expected, value })
const putOk: KvOutput = { kind: 'put' }
const got = (value: string | null): KvOutput => ({ kind: 'get', value })
const casResult = (ok: boolean): KvOutput => ({ kind: 'cas', ok })

/** The same model without partitioning: checks the whole history against one map. */
const kvModelWhole: Model<KvState, KvInput, KvOutput> = { ...kvModel, partition: undefined }

t.test('empty and sequential histories are linearizable', async (t) => {
  t.equal(checkLinearizable(kvModel, []).result, 'ok')
  const history = [
    op(1, 0, 10, put('x', '1'), putOk),
    op(1, 20, 30, get('x'), got('1')),
    op(2, 40, 50, cas('x', '1', '2'), casResult(true)),
    op(2, 60, 70, cas('x', '1', '3'), casResult(false)),
    op(1, 80, 90, get('x'), got('2')),
    op(1, 100, 110, get('y'), got(null)),
  ]
  t.equal(checkLinearizable(kvModel, history).result, 'ok')
  t.equal(checkLinearizable(kvModelWhole, history).result, 'ok')
})

t.test('a stale read is rejected with a counter-example', async (t) => {
  const staleRead = op(3, 40, 50, get('x'), got('1'))
  const history = [op(1, 0, 10, put('x', '1'), putOk), op(2, 20, 30, put('x', '2'), putOk), staleRead]
  const result = checkLinearizable(kvModel, history)
  t.equal(result.result, 'illegal')
  if (result.result !== 'illegal') return
  t.equal(result.unplaceable, staleRead, 'the stale read is the operation that cannot be placed')
  t.same(
    result.longestPrefix.map((o) => o.input),
    [put('x', '1'), put('x', '2')],
    'both puts linearize; the read cannot follow them',
  )
  t.match(result.explanation, /cannot place: client 3 \[40, 50\] get\(x\) -> "1"/)
})

t.test('a lost write is rejected', async (t) => {
  const history = [op(1, 0, 10, put('x', '1'), putOk), op(2, 20, 30, get('x'), got(null))]
  t.equal(checkLinearizable(kvModel, history).result, 'illegal')
})

t.test('concurrent overlapping operations may take effect in either order', async (t) => {
  // A long put overlaps two reads: the first sees the old value, the second the new one.
  const history = [
    op(1, 0, 100, put('x', '1'), putOk),
    op(2, 10, 20, get('x'), got(null)),
    op(3, 30, 40, get('x'), got('1')),
  ]
  t.equal(checkLinearizable(kvModel, history).result, 'ok')
  // But values cannot flip back: new then old, both inside the put, is illegal.
  const flipped = [
    op(1, 0, 100, put('x', '1'), putOk),
    op(2, 10, 20, get('x'), got('1')),
    op(3, 30, 40, get('x'), got(null)),
  ]
  t.equal(checkLinearizable(kvModel, flipped).result, 'illegal')
  // Two overlapping puts; later reads agree on one winner.
  const racing = [
    op(1, 0, 50, put('x', 'a'), putOk),
    op(2, 10, 60, put('x', 'b'), putOk),
    op(3, 70, 80, get('x'), got('a')),
    op(4, 90, 100, get('x'), got('a')),
  ]
  t.equal(checkLinearizable(kvModel, racing).result, 'ok')
  const disagreeing = [...racing.slice(0, 3), op(4, 90, 100, get('x'), got('b'))]
  t.equal(checkLinearizable(kvModel, disagreeing).result, 'illegal')
  // Touching intervals (return == call) count as concurrent.
  const touching = [op(1, 0, 10, put('x', '1'), putOk), op(2, 10, 20, get('x'), got(null))]
  t.equal(checkLinearizable(kvModel, touching).result, 'ok')
})

t.test('compare-and-set', async (t) => {
  const bothWon = [
    op(1, 0, 50, cas('x', null, 'a'), casResult(true)),
    op(2, 10, 60, cas('x', null, 'b'), casResult(true)),
  ]
  t.equal(checkLinearizable(kvModel, bothWon).result, 'illegal', 'two creates of the same key cannot both win')
  const oneWon = [bothWon[0]!, op(2, 10, 60, cas('x', null, 'b'), casResult(false)), op(3, 70, 80, get('x'), got('a'))]
  t.equal(checkLinearizable(kvModel, oneWon).result, 'ok')
})

t.test('unknown outcomes: happened, did not happen, but not both', async (t) => {
  const pending = op(1, 0, undefined, put('x', '1'))
  t.equal(checkLinearizable(kvModel, [pending, op(2, 50, 60, get('x'), got('1'))]).result, 'ok', 'it happened')
  t.equal(checkLinearizable(kvModel, [pending, op(2, 50, 60, get('x'), got(null))]).result, 'ok', 'it never happened')
  t.equal(
    checkLinearizable(kvModel, [pending, op(2, 10, 20, get('x'), got(null)), op(2, 30, 40, get('x'), got('1'))]).result,
    'ok',
    'it happened between the reads, long after the call',
  )
  t.equal(
    checkLinearizable(kvModel, [pending, op(2, 10, 20, get('x'), got('1')), op(2, 30, 40, get('x'), got(null))]).result,
    'illegal',
    'once observed, it cannot un-happen',
  )
  t.equal(
    checkLinearizable(kvModel, [op(1, 100, undefined, put('x', '1')), op(2, 0, 10, get('x'), got('1'))]).result,
    'illegal',
    'it cannot take effect before it was called',
  )
  const pendingCas = op(3, 0, undefined, cas('x', null, 'c'))
  t.equal(
    checkLinearizable(kvModel, [pendingCas, op(1, 10, 20, put('x', 'p'), putOk), op(2, 30, 40, get('x'), got('p'))]).result,
    'ok',
    'an unknown cas may have failed',
  )
})

t.test('the budget turns a long search into unknown', async (t) => {
  // Many concurrent writes and a final impossible read force a wide search.
  const history: KvOp[] = []
  for (let i = 0; i < 12; i++) history.push(op(i, 0, 100, put('x', String(i)), putOk))
  history.push(op(99, 200, 210, get('x'), got('never')))
  const bounded = checkLinearizable(kvModel, history, { stepsMax: 50 })
  t.equal(bounded.result, 'unknown')
  const timed = checkLinearizable(kvModel, history, { timeMsMax: 0, now: (() => { let ms = 0; return () => (ms += 5) })() })
  t.equal(timed.result, 'unknown', 'a fake clock past the deadline stops the search')
  t.equal(checkLinearizable(kvModel, history).result, 'illegal', 'unbounded, the search completes')
})

// ---- Properties -------------------------------------------------------------------------------

const keys = ['a', 'b', 'c'] as const
const inputArb: fc.Arbitrary<KvInput> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom(...keys), value: fc.constantFrom('1', '2', '3') }),
  fc.record({ kind: fc.constant('get' as const), key: fc.constantFrom(...keys) }),
  fc.record({
    kind: fc.constant('cas' as const),
    key: fc.constantFrom(...keys),
    expected: fc.constantFrom(null, '1', '2', '3'),
    value: fc.constantFrom('1', '2', '3'),
  }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...keys) }),
)

interface PlannedOp {
  readonly input: KvInput
  readonly widenBeforeMs: number
  readonly widenAfterMs: number
  /** 0: known outcome; 1: unknown outcome, applied; 2: unknown outcome, never applied. */
  readonly fate: 0 | 1 | 2
}

const plannedArb: fc.Arbitrary<PlannedOp> = fc.record({
  input: inputArb,
  widenBeforeMs: fc.integer({ min: 0, max: 40 }),
  widenAfterMs: fc.integer({ min: 0, max: 40 }),
  fate: fc.constantFrom<0 | 1 | 2>(0, 0, 0, 0, 1, 2),
})

/** Run ops one at a time against a Map at instants 10, 20, ...; widen each interval around its instant. */
function sequentialHistory(plan: readonly PlannedOp[]): KvOp[] {
  const store = new Map<string, string>()
  return plan.map((planned, i) => {
    const instantMs = 10 * (i + 1)
    const { input } = planned
    let output: KvOutput
    const applies = planned.fate !== 2
    switch (input.kind) {
      case 'put':
        if (applies) store.set(input.key, input.value)
        output = putOk
        break
      case 'delete':
        if (applies) store.delete(input.key)
        output = { kind: 'delete' }
        break
      case 'get':
        output = got(store.get(input.key) ?? null)
        break
      case 'cas': {
        const ok = (store.get(input.key) ?? null) === input.expected
        if (ok && applies) store.set(input.key, input.value)
        output = casResult(ok)
        break
      }
    }
    const callMs = instantMs - planned.widenBeforeMs
    return planned.fate === 0
      ? op(i % 4, callMs, instantMs + planned.widenAfterMs, input, output)
      : op(i % 4, callMs, undefined, input)
  })
}

t.test('property: sequential runs with widened intervals are linearizable', async (t) => {
  fc.assert(
    fc.property(fc.array(plannedArb, { maxLength: 60 }), (plan) => {
      const history = sequentialHistory(plan)
      return checkLinearizable(kvModel, history).result === 'ok' && checkLinearizable(kvModelWhole, history).result === 'ok'
    }),
    { numRuns: 300 },
  )
  t.pass('300 runs')
})

t.test('property: a read of a value never written to its key is rejected', async (t) => {
  fc.assert(
    fc.property(fc.array(plannedArb, { minLength: 1, maxLength: 60 }), fc.nat(), (plan, pick) => {
      const history = sequentialHistory(plan)
      const reads = history.map((o, i) => [o, i] as const).filter(([o]) => o.input.kind === 'get' && o.returnMs !== undefined)
      fc.pre(reads.length > 0)
      const [victim, index] = reads[pick % reads.length]!
      const corrupted = [...history]
      // 'x' is never written by the generator: no linearization can produce it. Provably illegal.
      corrupted[index] = { ...victim, output: got('x') }
      return checkLinearizable(kvModel, corrupted).result === 'illegal'
    }),
    { numRuns: 300 },
  )
  t.pass('300 runs')
})

/** Naive reference: try every order consistent with real time (small histories only). */
function bruteForceLinearizable(history: History<KvInput, KvOutput>): boolean {
  const done = new Array<boolean>(history.length).fill(false)
  const search = (state: KvState, remaining: number): boolean => {
    let knownLeft = 0
    let earliestReturnMs = Number.POSITIVE_INFINITY
    history.forEach((o, i) => {
      if (done[i] || o.returnMs === undefined) return
      knownLeft++
      earliestReturnMs = Math.min(earliestReturnMs, o.returnMs)
    })
    if (knownLeft === 0) return true
    for (let i = 0; i < history.length; i++) {
      const o = history[i]!
      if (done[i] || o.callMs > earliestReturnMs) continue
      const [ok, next] = kvModel.step(state, o.input, o.returnMs === undefined ? undefined : o.output)
      if (!ok) continue
      done[i] = true
      const found = search(next, remaining - 1)
      done[i] = false
      if (found) return true
    }
    return false
  }
  return search(kvModel.init(), history.length)
}

t.test('property: the checker agrees with a brute-force reference on random small histories', async (t) => {
  const outputFor = (input: KvInput, value: string | null, ok: boolean): KvOutput => {
    switch (input.kind) {
      case 'get':
        return got(value)
      case 'cas':
        return casResult(ok)
      case 'put':
        return putOk
      case 'delete':
        return { kind: 'delete' }
    }
  }
  const randomOpArb = fc
    .record({
      input: inputArb.map((input) => ({ ...input, key: 'a' }) as KvInput),
      callMs: fc.integer({ min: 0, max: 50 }),
      lengthMs: fc.integer({ min: 0, max: 30 }),
      unknown: fc.boolean(),
      value: fc.constantFrom(null, '1', '2'),
      ok: fc.boolean(),
    })
    .map((r) => op(0, r.callMs, r.unknown && r.input.kind !== 'get' ? undefined : r.callMs + r.lengthMs, r.input, outputFor(r.input, r.value, r.ok)))
  let legal = 0
  let illegal = 0
  fc.assert(
    fc.property(fc.array(randomOpArb, { maxLength: 6 }), (history) => {
      const expected = bruteForceLinearizable(history)
      if (expected) legal++
      else illegal++
      return (checkLinearizable(kvModel, history).result === 'ok') === expected
    }),
    { numRuns: 2000 },
  )
  t.ok(legal > 50 && illegal > 50, `both outcomes exercised (legal ${legal}, illegal ${illegal})`)
})
