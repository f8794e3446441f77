// Shapes shared by the linearizability checker and its models.

/**
 * One client operation as observed from outside the system under test.
 * `returnMs === undefined` means the outcome is unknown (timeout, crash, lost reply): the
 * operation may have taken effect at any point after `callMs`, or never; `output` is then
 * undefined and the model must accept any outcome for it.
 */
export interface Operation<I, O> {
  readonly clientId: string | number
  readonly input: I
  readonly callMs: number
  readonly returnMs: number | undefined
  readonly output: O | undefined
}

export type History<I, O> = readonly Operation<I, O>[]

/**
 * A sequential specification. `step` must be pure and deterministic: the checker calls it many
 * times with the same state while backtracking. `hash` must be equal for equal states (it keys
 * the search cache), so states with equal hashes are treated as interchangeable.
 */
export interface Model<S, I, O> {
  init(): S
  /** `output === undefined` means the outcome was not observed: accept whatever happened. */
  step(state: S, input: I, output: O | undefined): readonly [ok: boolean, next: S]
  hash(state: S): string
  /** Split into independent sub-histories (e.g. per key); each is checked from `init()`. */
  partition?(history: History<I, O>): History<I, O>[]
  describeOperation?(input: I, output: O | undefined): string
  describeState?(state: S): string
}

export interface CheckBudget {
  /** Maximum search steps (model calls) over all partitions. */
  readonly stepsMax?: number
  /** Maximum wall time; measured with `now` (defaults to performance.now). */
  readonly timeMsMax?: number
  readonly now?: () => number
}

export interface IllegalResult<I, O> {
  readonly result: 'illegal'
  /** Index of the partition that could not be linearized. */
  readonly partitionIndex: number
  /** The longest linearizable prefix found, in linearization order. */
  readonly longestPrefix: readonly Operation<I, O>[]
  /** An operation that completed but could not be placed after that prefix. */
  readonly unplaceable: Operation<I, O>
  /** Human-readable explanation (uses the model's describe hooks when present). */
  readonly explanation: string
}

export type CheckResult<I, O> =
  | { readonly result: 'ok'; readonly steps: number }
  | IllegalResult<I, O>
  | { readonly result: 'unknown'; readonly reason: 'stepsExceeded' | 'timeExceeded'; readonly steps: number }
