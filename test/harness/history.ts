// Records client operations as seen from outside the system (Jepsen style) and exports them
// for the linearizability checker in test/lincheck.
//   invoke — the client sends the request (call time)
//   ok     — a definite reply with its output (return time)
//   fail   — a definite "did not happen" (e.g. refused before any effect): dropped on export
//   info   — unknown outcome (timeout, connection lost, node killed): exported with
//            returnMs undefined, so the checker lets it take effect at any time after its
//            call, or never
// Operations still pending at export time are exported as unknown, like `info`.
// Times come from `performance.now()` (monotonic), injectable for tests.
import { writeFileSync } from 'node:fs'
import type { History, Operation } from '../lincheck/index.js'

export const historyEventTypes = ['invoke', 'ok', 'fail', 'info'] as const
export type HistoryEventType = (typeof historyEventTypes)[number]

export interface HistoryEvent<I, O> {
  readonly type: HistoryEventType
  readonly opId: number
  readonly clientId: string | number
  readonly timeMs: number
  readonly input?: I
  readonly output?: O
  /** For fail / info: what the client saw. */
  readonly error?: string
}

export interface OperationHandle<O> {
  readonly opId: number
  ok(output: O): void
  fail(error?: string): void
  info(error?: string): void
}

interface OpenOperation<I, O> {
  readonly clientId: string | number
  readonly input: I
  readonly callMs: number
  outcome: { readonly type: 'ok'; readonly output: O; readonly returnMs: number } | { readonly type: 'fail' | 'info' } | undefined
}

/** Operations recorded per history; beyond it `invoke` throws (a runaway test loop). */
export const historyOperationsMax = 1_000_000

export class HistoryRecorder<I, O> {
  private readonly events: HistoryEvent<I, O>[] = []
  private readonly operations: OpenOperation<I, O>[] = []
  private readonly now: () => number

  constructor(options: { readonly now?: () => number } = {}) {
    this.now = options.now ?? (() => performance.now())
  }

  invoke(clientId: string | number, input: I): OperationHandle<O> {
    if (this.operations.length >= historyOperationsMax) throw new Error(`history: more than ${historyOperationsMax} operations`)
    const opId = this.operations.length
    const callMs = this.now()
    const operation: OpenOperation<I, O> = { clientId, input, callMs, outcome: undefined }
    this.operations.push(operation)
    this.events.push({ type: 'invoke', opId, clientId, timeMs: callMs, input })
    const complete = (type: 'ok' | 'fail' | 'info', output: O | undefined, error: string | undefined): void => {
      // Invariant: an operation completes once; a second completion is a bug in the test client.
      if (operation.outcome !== undefined) throw new Error(`history: operation ${opId} completed twice (${operation.outcome.type}, then ${type})`)
      const timeMs = this.now()
      operation.outcome = type === 'ok' ? { type, output: output as O, returnMs: timeMs } : { type }
      this.events.push({
        type,
        opId,
        clientId,
        timeMs,
        ...(type === 'ok' ? { output: output as O } : {}),
        ...(error === undefined ? {} : { error }),
      })
    }
    return {
      opId,
      ok: (output) => complete('ok', output, undefined),
      fail: (error) => complete('fail', undefined, error),
      info: (error) => complete('info', undefined, error),
    }
  }

  /** Runs `perform`, recording ok on resolve; on reject `classify` says fail or info (default info). */
  async record(
    clientId: string | number,
    input: I,
    perform: () => Promise<O>,
    classify: (error: unknown) => 'fail' | 'info' = () => 'info',
  ): Promise<O | undefined> {
    const handle = this.invoke(clientId, input)
    try {
      const output = await perform()
      handle.ok(output)
      return output
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      if (classify(error) === 'fail') handle.fail(message)
      else handle.info(message)
      return undefined
    }
  }

  /** Every event in the order recorded. */
  allEvents(): readonly HistoryEvent<I, O>[] {
    return this.events
  }

  /** Operations for `checkLinearizable`: fails dropped, info and pending as unknown outcomes. */
  toLincheck(): History<I, O> {
    const out: Operation<I, O>[] = []
    for (const operation of this.operations) {
      const outcome = operation.outcome
      if (outcome?.type === 'fail') continue
      out.push({
        clientId: operation.clientId,
        input: operation.input,
        callMs: operation.callMs,
        returnMs: outcome?.type === 'ok' ? outcome.returnMs : undefined,
        output: outcome?.type === 'ok' ? outcome.output : undefined,
      })
    }
    return out
  }

  /** Counts by outcome (pending = invoked, not completed). */
  summary(): { readonly ok: number; readonly fail: number; readonly info: number; readonly pending: number } {
    const counts = { ok: 0, fail: 0, info: 0, pending: 0 }
    for (const operation of this.operations) counts[operation.outcome?.type ?? 'pending'] += 1
    return counts
  }

  /** One JSON event per line (for keeping the history of a failed run next to its logs). */
  writeJsonLines(path: string): void {
    writeFileSync(path, this.events.map((event) => JSON.stringify(event)).join('\n') + '\n')
  }
}
