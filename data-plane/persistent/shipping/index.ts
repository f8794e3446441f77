// Public entry of cross-region shipping: the shipper and receiver state machines, the region
// dedup applied before consumer groups, provenance headers, the binary codec and lag accounting.
// Pure, but for `zlib-compression.ts` (node:zlib, exported separately: import it where the codec
// needs real compression).
export { Shipper, eventWireBytes, shipperPhases } from './shipper.js'
export type { ShipSource, ShipperNotice, ShipperOptions, ShipperPhase, ShipperReady, ShipperStats, ShipperTiming } from './shipper.js'
export { Receiver, receiverPublishIdPrefix, sourceRegionOfPublishId } from './receiver.js'
export type { ReceiverNotice, ReceiverOptions, ReceiverReady, ReceiverStats } from './receiver.js'
export { RegionDedup } from './region-dedup.js'
export type { DedupVerdict, RegionDedupOptions, RegionDedupStats, SourceRef } from './region-dedup.js'
export { formatProvenance, globalKeyOf, isLocallyOriginated, isValidRegion, parseProvenance, provenanceOf, shippedHeaders, sourceHeader } from './provenance.js'
export type { Provenance } from './provenance.js'
export { decodeShipMessage, encodeShipMessage, noCompression, shipCodecVersion } from './codec.js'
export type { ShipCompression, ShipDecodeOptions, ShipEncodeOptions } from './codec.js'
export { shipMessageKinds, shipRefusalReasons } from './messages.js'
export type {
  BatchAckMessage,
  BatchMessage,
  OutgoingShipMessage,
  RefusedMessage,
  ResolveMessage,
  ResolvedMessage,
  ShipMessage,
  ShipMessageKind,
  ShipRefusalReason,
  ToReceiver,
  ToShipper,
} from './messages.js'
export { noLag, replicationLag } from './lag.js'
export type { ReplicationLag } from './lag.js'
export { MalformedShipmentError } from './errors.js'
export * as shippingLimits from './limits.js'
