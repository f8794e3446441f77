// Publishing to a persistent stream with its durable ack (docs/api.md § Publishing to a
// persistent stream): a request to the stream's subject carrying `Rg-Msg-Id` / `Rg-Ack`; the
// reply is the ack (checked against shared/api's schema) or a failure envelope (rejects with
// ApiError carrying the server's RG_ERR_* code). With `retries`, a failure that a later attempt
// can cure (timeouts, a stream not open yet or stopping, the server's pending-publish limit) is
// retried after an exponential, capped backoff, re-sending the SAME `Rg-Msg-Id` (one is generated
// when the caller gave none), so a retry of a publish that did land is acked `duplicate: true`
// instead of storing the event twice.
import { nuid } from '@nats-io/nuid'
import { apiFailureSchema, streamAckHeader, streamMsgIdHeader, streamPublishAckSchema } from '../shared/api/index.js'
import type { StreamAckLevel, StreamPublishAck } from '../shared/api/index.js'
import type { ErrorCode } from '../shared/errors.js'
import { ApiError } from './api-error.js'
import { InvalidArgumentError, ProtocolError, RailgunClientError } from './errors.js'
import { toMsgHeaders } from './message.js'
import type { HeadersInit } from './message.js'
import type { ApiTransport } from './control-api.js'

export interface StreamPublishOptions {
  /** Producer id (`Rg-Msg-Id`): a retry with the same id inside the window is acked `duplicate: true`. */
  readonly id?: string
  /** Ack level (`Rg-Ack`); default the stream's `ackDefault`. */
  readonly ack?: StreamAckLevel
  /** More headers, stored with the event. */
  readonly headers?: HeadersInit
  /** How long to wait for the ack, per attempt (default the client's request timeout). */
  readonly timeoutMs?: number
  /** Attempts after the first one for a retriable failure (`retriablePublishCodes`). Default 0. */
  readonly retries?: number
  /** Wait before the first retry; each later retry waits twice the previous one. Default 100. */
  readonly retryBackoffMs?: number
  /** Ceiling of the wait between retries. Default 5000. */
  readonly retryBackoffMsMax?: number
}

export const publishRetryDefaults = {
  retries: 0,
  retryBackoffMs: 100,
  retryBackoffMsMax: 5_000,
} as const

/** Bound on `retries`: a publish never loops for ever. */
export const publishRetriesMax = 100

/**
 * Failures a retry can cure: the ack did not come in time (client timer, server 408, replica ack
 * timeout), the stream is not open on the node yet (no responders) or is stopping (NOT_READY),
 * or the node has too many pending publishes (LIMIT_EXCEEDED). Anything else (a bad argument, a
 * closed client, a failed disk) fails at once.
 */
export const retriablePublishCodes: readonly ErrorCode[] = ['RG_ERR_REQUEST_TIMEOUT', 'RG_ERR_NO_RESPONDERS', 'RG_ERR_NOT_READY', 'RG_ERR_LIMIT_EXCEEDED']

export function isRetriablePublishError(error: unknown): boolean {
  return error instanceof RailgunClientError && retriablePublishCodes.includes(error.code)
}

/** Wait before retry `attempt` (1-based): `retryBackoffMs · 2^(attempt-1)`, capped at `retryBackoffMsMax`. Pure. */
export function retryDelayMs(attempt: number, retryBackoffMs: number, retryBackoffMsMax: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 52)
  return Math.min(retryBackoffMsMax, retryBackoffMs * 2 ** exponent)
}

/** How the retry loop waits (the client passes its scheduler's timer). */
export type Delay = (ms: number) => Promise<void>
const defaultDelay: Delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

interface RetryPolicy {
  readonly retries: number
  readonly retryBackoffMs: number
  readonly retryBackoffMsMax: number
}

/** Checks and fills in the retry options; throws InvalidArgumentError. */
export function retryPolicyOf(options: Pick<StreamPublishOptions, 'retries' | 'retryBackoffMs' | 'retryBackoffMsMax'>): RetryPolicy {
  const retries = options.retries ?? publishRetryDefaults.retries
  const retryBackoffMs = options.retryBackoffMs ?? publishRetryDefaults.retryBackoffMs
  const retryBackoffMsMax = options.retryBackoffMsMax ?? Math.max(publishRetryDefaults.retryBackoffMsMax, retryBackoffMs)
  if (!Number.isInteger(retries) || retries < 0 || retries > publishRetriesMax) throw new InvalidArgumentError(`retries must be an integer in [0, ${publishRetriesMax}], got ${retries}`)
  if (!(retryBackoffMs >= 0) || !Number.isFinite(retryBackoffMs)) throw new InvalidArgumentError(`retryBackoffMs must be >= 0, got ${retryBackoffMs}`)
  if (!(retryBackoffMsMax >= retryBackoffMs) || !Number.isFinite(retryBackoffMsMax)) throw new InvalidArgumentError(`retryBackoffMsMax must be >= retryBackoffMs, got ${retryBackoffMsMax}`)
  return { retries, retryBackoffMs, retryBackoffMsMax }
}

/**
 * Publishes `data` on `subject` (`<stream>` or `<stream>.<topic…>`); resolves with the ack once
 * durable. With `retries` > 0 and no `id`, a nuid id is generated so every attempt carries the same one.
 */
export async function publishToStream(
  transport: ApiTransport,
  subject: string,
  data: Uint8Array | string,
  options: StreamPublishOptions = {},
  delay: Delay = defaultDelay,
): Promise<StreamPublishAck> {
  const policy = retryPolicyOf(options)
  const id = options.id ?? (policy.retries > 0 ? nuid.next() : undefined)
  const extra: Array<readonly [string, string]> = []
  if (id !== undefined) extra.push([streamMsgIdHeader, id])
  if (options.ack !== undefined) extra.push([streamAckHeader, options.ack])
  const headers = toMsgHeaders(options.headers ?? {}, extra)
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await publishOnce(transport, subject, data, headers, options.timeoutMs)
    } catch (error) {
      if (attempt >= policy.retries || !isRetriablePublishError(error)) throw error
    }
    await delay(retryDelayMs(attempt + 1, policy.retryBackoffMs, policy.retryBackoffMsMax))
  }
}

async function publishOnce(transport: ApiTransport, subject: string, data: Uint8Array | string, headers: ReturnType<typeof toMsgHeaders>, timeoutMs: number | undefined): Promise<StreamPublishAck> {
  const reply = await transport.requestPromise(subject, data, { headers, ...(timeoutMs === undefined ? {} : { timeoutMs }) })
  let body: unknown
  try {
    body = reply.json()
  } catch {
    throw new ProtocolError(`publish to ${subject}: the ack is not JSON`)
  }
  const ack = streamPublishAckSchema.safeParse(body)
  if (ack.success) return ack.data
  const failure = apiFailureSchema.safeParse(body)
  if (failure.success) throw new ApiError(`publish to ${subject}`, failure.data.error.code as ErrorCode, failure.data.error.message, failure.data.error.details ?? {})
  throw new ProtocolError(`publish to ${subject}: the answer is neither an ack nor a failure`)
}

/** `client.publish(subject, data, {ack, id?, headers?, timeoutMs?, retries?, …})`: `ack` set makes it a persistent publish. */
export type AckedPublishOptions = Omit<StreamPublishOptions, 'ack'> & { readonly ack: StreamAckLevel | 'default' }
