// Publishing to a persistent stream with its durable ack (docs/api.md § Publishing to a
// persistent stream): a request to the stream's subject carrying `Rg-Msg-Id` / `Rg-Ack`; the
// reply is the ack (checked against shared/api's schema) or a failure envelope (rejects with
// ApiError carrying the server's RG_ERR_* code).
import { apiFailureSchema, streamAckHeader, streamMsgIdHeader, streamPublishAckSchema } from '../shared/api/index.js'
import type { StreamAckLevel, StreamPublishAck } from '../shared/api/index.js'
import { ApiError } from './api-error.js'
import { ProtocolError } from './errors.js'
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
  /** How long to wait for the ack (default the client's request timeout). */
  readonly timeoutMs?: number
}

/** Publishes `data` on `subject` (`<stream>` or `<stream>.<topic…>`); resolves with the ack once durable. */
export async function publishToStream(transport: ApiTransport, subject: string, data: Uint8Array | string, options: StreamPublishOptions = {}): Promise<StreamPublishAck> {
  const extra: Array<readonly [string, string]> = []
  if (options.id !== undefined) extra.push([streamMsgIdHeader, options.id])
  if (options.ack !== undefined) extra.push([streamAckHeader, options.ack])
  const headers = toMsgHeaders(options.headers ?? {}, extra)
  const reply = await transport.requestPromise(subject, data, { headers, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) })
  let body: unknown
  try {
    body = reply.json()
  } catch {
    throw new ProtocolError(`publish to ${subject}: the ack is not JSON`)
  }
  const ack = streamPublishAckSchema.safeParse(body)
  if (ack.success) return ack.data
  const failure = apiFailureSchema.safeParse(body)
  if (failure.success) throw new ApiError(`publish to ${subject}`, failure.data.error.code as never, failure.data.error.message, failure.data.error.details ?? {})
  throw new ProtocolError(`publish to ${subject}: the answer is neither an ack nor a failure`)
}

/** `client.publish(subject, data, {ack, id?, headers?, timeoutMs?})`: `ack` set makes it a persistent publish. */
export type AckedPublishOptions = Omit<StreamPublishOptions, 'ack'> & { readonly ack: StreamAckLevel | 'default' }
