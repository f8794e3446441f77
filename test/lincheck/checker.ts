// Linearizability checking by the Wing–Gong / Lowe search (WGL) with a cache of visited
// (linearized-set, state) pairs, and per-partition checking — the approach of Porcupine
// (Athalye) and of Lowe's "Testing for linearizability" (2017). Written from the papers.
//
// The history becomes one doubly-linked list of call and return events ordered by time (a call
// sorts before a return at the same instant, so touching intervals count as concurrent). The
// search walks the list: at a call it tries to linearize that operation now (model step with
// the recorded output); success lifts the call and its return out of the list and restarts
// from the head. Reaching a return whose operation is not yet linearized means the current
// prefix is a dead end: backtrack (unlift the last operation, try the next candidate after it).
// The cache skips any (set of linearized operations, model state) already explored, which
// turns the exponential search into something practical for real histories.
//
// Unknown outcomes (`returnMs === undefined`) get a return at +infinity: they may be linearized
// anywhere after their call, and the search succeeds as soon as only such operations remain,
// which is the "never happened" branch.

import type { CheckBudget, CheckResult, History, IllegalResult, Model, Operation } from './types.js'

const timeCheckEverySteps = 1024

interface ListEntry {
  readonly isCall: boolean
  readonly opIndex: number
  readonly timeMs: number
  /** For a call: its return entry; for a return: its call entry. */
  match: ListEntry | null
  prev: ListEntry | null
  next: ListEntry | null
}

class Bitset {
  private readonly words: Uint32Array
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32) || 1)
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31)
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31))
  }
  key(): string {
    return this.words.join(',')
  }
}

function buildList<I, O>(ops: History<I, O>): ListEntry {
  const entries: ListEntry[] = []
  ops.forEach((op, opIndex) => {
    if (op.returnMs !== undefined && op.returnMs < op.callMs) {
      throw new Error(`lincheck: operation ${opIndex} returns (${op.returnMs}) before its call (${op.callMs})`)
    }
    const call: ListEntry = { isCall: true, opIndex, timeMs: op.callMs, match: null, prev: null, next: null }
    const ret: ListEntry = {
      isCall: false,
      opIndex,
      timeMs: op.returnMs ?? Number.POSITIVE_INFINITY,
      match: call,
      prev: null,
      next: null,
    }
    call.match = ret
    entries.push(call, ret)
  })
  entries.sort((a, b) => {
    if (a.timeMs !== b.timeMs) return a.timeMs < b.timeMs ? -1 : 1
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1
    return a.opIndex - b.opIndex
  })
  const head: ListEntry = { isCall: false, opIndex: -1, timeMs: Number.NEGATIVE_INFINITY, match: null, prev: null, next: null }
  let last = head
  for (const entry of entries) {
    last.next = entry
    entry.prev = last
    last = entry
  }
  return head
}

/** Remove a call and its return from the list (their own pointers stay, for unlift). */
function lift(call: ListEntry): void {
  call.prev!.next = call.next
  if (call.next) call.next.prev = call.prev
  const ret = call.match!
  ret.prev!.next = ret.next
  if (ret.next) ret.next.prev = ret.prev
}

/** Undo `lift`; valid only in the reverse order of lifting (a stack discipline). */
function unlift(call: ListEntry): void {
  const ret = call.match!
  ret.prev!.next = ret
  if (ret.next) ret.next.prev = ret
  call.prev!.next = call
  if (call.next) call.next.prev = call
}

interface Budget {
  steps: number
  readonly stepsMax: number
  readonly deadlineMs: number
  readonly now: () => number
}

type PartitionOutcome<S, I, O> =
  | { readonly result: 'ok' }
  | { readonly result: 'unknown'; readonly reason: 'stepsExceeded' | 'timeExceeded' }
  | {
      readonly result: 'illegal'
      readonly longestPrefix: readonly Operation<I, O>[]
      readonly unplaceable: Operation<I, O>
      readonly stateAfterPrefix: S
    }

function checkPartition<S, I, O>(model: Model<S, I, O>, ops: History<I, O>, budget: Budget): PartitionOutcome<S, I, O> {
  if (ops.length === 0) return { result: 'ok' }
  const head = buildList(ops)
  const linearized = new Bitset(ops.length)
  const visited = new Set<string>()
  const stack: { call: ListEntry; stateBefore: S }[] = []
  let state = model.init()
  let best: { prefixLength: number; prefix: Operation<I, O>[]; blocked: Operation<I, O>; state: S } | null = null

  let entry = head.next
  while (entry !== null) {
    if (!entry.isCall) {
      if (entry.timeMs === Number.POSITIVE_INFINITY) return { result: 'ok' } // only unknown outcomes remain
      // A completed operation that is not linearized yet: this prefix is a dead end.
      if (best === null || stack.length > best.prefixLength) {
        best = {
          prefixLength: stack.length,
          prefix: stack.map((frame) => ops[frame.call.opIndex]!),
          blocked: ops[entry.opIndex]!,
          state,
        }
      }
      const frame = stack.pop()
      if (frame === undefined) break // nothing left to undo: not linearizable
      state = frame.stateBefore
      linearized.clear(frame.call.opIndex)
      unlift(frame.call)
      entry = frame.call.next
      continue
    }
    budget.steps++
    if (budget.steps > budget.stepsMax) return { result: 'unknown', reason: 'stepsExceeded' }
    if (budget.steps % timeCheckEverySteps === 0 && budget.now() > budget.deadlineMs) {
      return { result: 'unknown', reason: 'timeExceeded' }
    }
    const op = ops[entry.opIndex]!
    const [ok, next] = model.step(state, op.input, op.returnMs === undefined ? undefined : op.output)
    if (ok) {
      linearized.set(entry.opIndex)
      const key = `${linearized.key()}|${model.hash(next)}`
      if (!visited.has(key)) {
        visited.add(key)
        stack.push({ call: entry, stateBefore: state })
        state = next
        lift(entry)
        entry = head.next
        continue
      }
      linearized.clear(entry.opIndex)
    }
    entry = entry.next
  }
  // Walking off the end means every operation was lifted: a full linearization.
  if (entry === null) return { result: 'ok' }
  // Otherwise the stack ran dry at a blocked return, which always sets `best`.
  return { result: 'illegal', longestPrefix: best!.prefix, unplaceable: best!.blocked, stateAfterPrefix: best!.state }
}

function describeOp<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const what = model.describeOperation
    ? model.describeOperation(op.input, op.output)
    : `${JSON.stringify(op.input)} -> ${JSON.stringify(op.output)}`
  const returned = op.returnMs === undefined ? '?' : String(op.returnMs)
  return `client ${op.clientId} [${op.callMs}, ${returned}] ${what}`
}

/**
 * Check that `history` is linearizable with respect to `model`. Returns `ok`, `illegal` with a
 * counter-example, or `unknown` when the budget ran out first.
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  budget: CheckBudget = {},
): CheckResult<I, O> {
  const now = budget.now ?? (() => globalThis.performance.now())
  const state: Budget = {
    steps: 0,
    stepsMax: budget.stepsMax ?? Number.POSITIVE_INFINITY,
    deadlineMs: budget.timeMsMax === undefined ? Number.POSITIVE_INFINITY : now() + budget.timeMsMax,
    now,
  }
  const partitions = model.partition ? model.partition(history) : [history]
  let unknown: 'stepsExceeded' | 'timeExceeded' | null = null
  for (let partitionIndex = 0; partitionIndex < partitions.length; partitionIndex++) {
    const outcome = checkPartition(model, partitions[partitionIndex]!, state)
    if (outcome.result === 'illegal') {
      const lines = [
        `not linearizable (partition ${partitionIndex}): longest linearizable prefix has ${outcome.longestPrefix.length} operation(s)`,
        ...outcome.longestPrefix.map((op, i) => `  ${i + 1}. ${describeOp(model, op)}`),
        model.describeState ? `  state after prefix: ${model.describeState(outcome.stateAfterPrefix)}` : '',
        `  cannot place: ${describeOp(model, outcome.unplaceable)}`,
      ].filter((line) => line !== '')
      const illegal: IllegalResult<I, O> = {
        result: 'illegal',
        partitionIndex,
        longestPrefix: outcome.longestPrefix,
        unplaceable: outcome.unplaceable,
        explanation: lines.join('\n'),
      }
      return illegal
    }
    if (outcome.result === 'unknown') {
      unknown = outcome.reason
      if (unknown === 'timeExceeded' || state.steps > state.stepsMax) break
    }
  }
  if (unknown !== null) return { result: 'unknown', reason: unknown, steps: state.steps }
  return { result: 'ok', steps: state.steps }
}
