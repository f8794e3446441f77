// What travels between regions in the multi-region simulation: shipping messages as real codec
// bytes (data-plane/persistent/shipping/codec.ts, batch bodies deflate-raw compressed), on their
// own simulated network (the regions' internal traffic is on each region's network).
import { shipMessageKinds } from '../../../data-plane/persistent/index.js'

export interface ShipWire {
  readonly kind: 'ship'
  readonly bytes: Uint8Array
}

export function describeShipWire(m: ShipWire): string {
  return `ship:${shipMessageKinds[m.bytes[1] ?? 255] ?? '?'} ${m.bytes.length}B`
}
