// A linearizable-KV workload for the fault tests (a helper, not a test): workers, each a Railgun
// client on one node, loop over put / get / delete of a few keys with unique values, recorded in
// a HistoryRecorder in the KV model's terms (test/lincheck). How an error is recorded:
//   fail — the request definitely did not take effect: nobody answered the subject (node down),
//          or the API refused it with an outcome that is not `unknown` (not ready, dropped before
//          proposing, a validation error);
//   info — anything else (a timeout, a lost connection, RG_ERR_REQUEST_TIMEOUT, outcome
//          `unknown`): it may have applied, at any time after its call.
// Then `checkKvHistory` runs the linearizability checker and, on a failure, writes the history
// next to the cluster's logs.
import { join } from 'node:path'
import type { Test } from 'tap'
import { ApiError, NoRespondersError } from '../../client/index.js'
import type { RailgunClient } from '../../client/index.js'
import type { HistoryRecorder, SeededRandom } from '../harness/index.js'
import { checkLinearizable, kvModel } from '../lincheck/index.js'
import type { KvInput, KvOutput } from '../lincheck/index.js'

export type KvHistory = HistoryRecorder<KvInput, KvOutput>

export interface KvWorker {
  readonly id: string
  readonly client: RailgunClient
}

export interface KvWorkloadOptions {
  readonly bucket: string
  readonly keys: readonly string[]
  readonly history: KvHistory
  readonly random: SeededRandom
  /** Per-request client timeout; a timed-out operation is recorded as `info`. */
  readonly opTimeoutMs: number
  /** Pause between one worker's operations (bounds the history size). */
  readonly thinkMs: number
  /** Operations per worker at most (a bound on a runaway loop). */
  readonly opsPerWorkerMax?: number
}

/** Errors that mean the request never took effect. */
export function definitelyNotApplied(error: unknown): boolean {
  if (error instanceof NoRespondersError) return true
  if (error instanceof ApiError) return !error.outcomeUnknown && error.code !== 'RG_ERR_REQUEST_TIMEOUT' && error.code !== 'RG_ERR_SERVER'
  return false
}

function classify(error: unknown): 'fail' | 'info' {
  return definitelyNotApplied(error) ? 'fail' : 'info'
}

/** Runs one operation against `client`, recorded in `history`; resolves with the output or undefined. */
export async function recordKvOperation(history: KvHistory, workerId: string, client: RailgunClient, bucket: string, input: KvInput, timeoutMs: number): Promise<KvOutput | undefined> {
  const kv = client.kv(bucket)
  return history.record(
    workerId,
    input,
    async (): Promise<KvOutput> => {
      switch (input.kind) {
        case 'put':
          await kv.put(input.key, input.value, { timeoutMs })
          return { kind: 'put' }
        case 'get': {
          const entry = await kv.get(input.key, { timeoutMs })
          return { kind: 'get', value: entry === undefined ? null : entry.string() }
        }
        case 'delete':
          await kv.delete(input.key, {}, { timeoutMs })
          return { kind: 'delete' }
        case 'cas':
          throw new Error('kv workload: cas is not used (the API compares revisions, the model values)')
      }
    },
    classify,
  )
}

/** Runs every worker until `stop()` says so; each worker runs one operation at a time. */
export async function runKvWorkload(workers: readonly KvWorker[], options: KvWorkloadOptions, stop: () => boolean): Promise<void> {
  const opsMax = options.opsPerWorkerMax ?? 5_000
  await Promise.all(
    workers.map(async (worker) => {
      for (let sequence = 1; sequence <= opsMax && !stop(); sequence += 1) {
        const key = options.keys[options.random.int(options.keys.length)]!
        const roll = options.random.next()
        const input: KvInput = roll < 0.5 ? { kind: 'put', key, value: `${worker.id}-${sequence}` } : roll < 0.9 ? { kind: 'get', key } : { kind: 'delete', key }
        await recordKvOperation(options.history, worker.id, worker.client, options.bucket, input, options.opTimeoutMs)
        await new Promise((resolve) => setTimeout(resolve, options.thinkMs))
      }
    }),
  )
}

export type KvHistoryVerdict = { readonly ok: true; readonly steps: number } | { readonly ok: false; readonly problem: string }

/** The checker's verdict on a recorded history (budget: one minute of search). */
export function kvHistoryVerdict(history: KvHistory): KvHistoryVerdict {
  const result = checkLinearizable(kvModel, history.toLincheck(), { timeMsMax: 60_000 })
  if (result.result === 'ok') return { ok: true, steps: result.steps }
  if (result.result === 'illegal') return { ok: false, problem: `not linearizable:\n${result.explanation}` }
  return { ok: false, problem: `the checker ran out of budget (${result.reason})` }
}

/** Checks the history; on anything but `ok` writes it as JSON lines into `keepDir` and fails the test. */
export function checkKvHistory(t: Test, history: KvHistory, keepDir: string, label: string): boolean {
  t.comment(`${label}: ${JSON.stringify(history.summary())} operations`)
  const verdict = kvHistoryVerdict(history)
  if (verdict.ok) {
    t.pass(`${label}: the history is linearizable (${verdict.steps} search steps)`)
    return true
  }
  const path = join(keepDir, `${label.replace(/[^A-Za-z0-9_-]+/g, '-')}.history.jsonl`)
  history.writeJsonLines(path)
  t.fail(`${label}: ${verdict.problem}\nhistory kept in ${path}`)
  return false
}
