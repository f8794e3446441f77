// Public entry of the persistent stream engine (the StreamReplica driver on the event store).
import { eventStoreKeySpaces } from '../store/keys.js'
import { engineKeySpace } from './engine-record.js'

export { StreamEngine } from './stream-engine.js'
export type { EngineAck, EnginePublish, StreamEngineOptions, SuccessorClaim } from './stream-engine.js'
export { closeFromJson, closeJson, decodeDecisionRecord, encodeCloseRecord, encodeFenceRecord } from './decision-records.js'
export type { DecisionRecord } from './decision-records.js'
export { engineKeySpace, readEngineRecord, writeEngineRecord } from './engine-record.js'
export type { EngineRecord } from './engine-record.js'
export * as engineLimits from './limits.js'

/** Every key space persistent streams need on this node (the event store's and the engine's). */
export const engineKeySpaces: readonly string[] = [...eventStoreKeySpaces, engineKeySpace]
