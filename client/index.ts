// The public entry of the Railgun client. See client/README.md for the manual.
import { RailgunClient } from './client.js'
import { dialTcp } from './connection.js'
import { InvalidArgumentError } from './errors.js'
import { resolveOptions, type ClientOptions } from './options.js'
import { parseServerUrl, type ServerAddress } from './transport.js'

/**
 * Connects to the first reachable server of `urls` (`nats://host:port`; several for failover)
 * and resolves with a connected client. Rejects with `ConnectError` / `AuthorizationError` when
 * no server accepts the connection.
 */
export async function connect(urls: string | readonly string[], options: ClientOptions = {}): Promise<RailgunClient> {
  const list = typeof urls === 'string' ? urls.split(',').map((u) => u.trim()).filter((u) => u.length > 0) : [...urls]
  if (list.length === 0) throw new InvalidArgumentError('connect needs at least one server URL')
  let servers: ServerAddress[]
  try {
    servers = list.map(parseServerUrl)
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error), { cause: error })
  }
  const client = new RailgunClient(servers, resolveOptions(options), options.dialer ?? dialTcp)
  await client.start()
  return client
}

export { RailgunClient, responderErrorCodeHeader } from './client.js'
export { ApiError } from './api-error.js'
export { BucketsApi, callApi, ClusterApi, GroupsApi, NamespacesApi, StreamsApi } from './control-api.js'
export { RolesApi, TokensApi, UsersApi } from './access-api.js'
export type { ApiAnswer, ApiCallOptions, ApiTransport, BucketView, GroupView, ReadOptions } from './control-api.js'
export { KvBucket } from './kv.js'
export { CrdtKvBucket, CrdtKvEntry, crdtKvWriteTimeoutMsDefault } from './kv-crdt.js'
export { CrdtBucketsApi, WireCrdtKvTransport, crdtKvAnswerGraceMs, crdtKvRequestTimeoutMsDefault, entryOfView, watchResumeDelayMs, watchResumeDelayMsMax, watchResumesMax } from './kv-crdt-transport.js'
export type { CrdtKvClientPort } from './kv-crdt-transport.js'
export { isRetriablePublishError, publishRetriesMax, publishRetryDefaults, publishToStream, retriablePublishCodes, retryDelayMs } from './stream-publish.js'
export type { AckedPublishOptions, StreamPublishOptions } from './stream-publish.js'
export { Producer, producerDefaults, producerLimits } from './producer.js'
export type { ProducerOptions, ProducerSendOptions } from './producer.js'
export { StreamMessage } from './stream-message.js'
export { consumeDefaults } from './consume.js'
export type { ConsumeOptions, FetchOptions } from './consume.js'
export type { ConsumeStart } from './stream-reader.js'
export type { MembershipEvent } from './group-consumer.js'
export { fetchGraceMs } from './fetch-batch.js'
export type { StreamAckLevel, StreamPublishAck } from '../shared/api/index.js'
export type { KvChange, KvEntry } from './kv.js'
export type {
  CrdtAckLevel,
  CrdtHlc,
  CrdtJsonObject,
  CrdtJsonValue,
  CrdtKvAck,
  CrdtKvEntryView,
  CrdtKvSelector,
  CrdtKvTransport,
  CrdtKvValue,
  CrdtKvWatchEvent,
  CrdtKvWatchEventView,
  CrdtKvWrite,
  CrdtKvWriteOptions,
} from './kv-crdt.js'
export type { ApiRequest, ClusterStatus, MutationResponse, NodeView, RoleView, StreamView, TokenCreated, TokenView, UserView } from '../shared/api/index.js'
export type { ReplyData, RespondHandler, RespondOptions, SubscribeOptions } from './client.js'
export * from './errors.js'
export { Message } from './message.js'
export type { HeadersInit, PublishOptions } from './message.js'
export { clientDefaults } from './options.js'
export type { ClientOptions } from './options.js'
export type { ClientTlsOptions } from './tls.js'
export { backoffDelayMs, reconnectPolicyDefaults } from './reconnect.js'
export type { RandomSource, ReconnectPolicy } from './reconnect.js'
export { replyStatus, requestTimeoutHeader } from './request.js'
export type { RequestOptions } from './request.js'
export type { Status, StatusType } from './status.js'
export type { Dialer, ServerAddress, Transport, TransportHandlers } from './transport.js'
export type { MsgHeaders, ServerInfo } from '../shared/protocol/types.js'
