// What every actor of the multi-region simulation shares: the virtual clock, the trace, the
// seeded randomness, the network between regions, the configuration, and each region's stack
// (its RegionContext from test/sim/region — own network, control plane, checker, nodes — plus the
// shipping layer of each node and the region's publishers).
import type { ShipperTiming } from '../../../data-plane/persistent/index.js'
import type { VirtualClock } from '../clock.js'
import type { SimNetwork } from '../network.js'
import type { SimRandom } from '../random.js'
import type { TraceRecorder } from '../trace.js'
import type { RegionContext } from '../region/context.js'
import type { SimPublisher } from '../region/publishers.js'
import type { MultiRegionChecker } from './checker.js'
import type { NodeShipping } from './node-shipping.js'
import type { ShipWire } from './wire.js'

/** Deliberate bugs in the simulated drivers: each must be caught by the checker. */
export interface MultiRegionBugs {
  /** The shipper's source is read one past the cursor (a 0-based index taken for shipSeq). */
  readonly shipOffByOne?: boolean
  /** The receiver writes remote events under new ids (`id@region`). */
  readonly receiverNewIds?: boolean
  /** RegionDedup measures the window on the copy's HLC in the receiving region (receipt time). */
  readonly dedupReceiptTime?: boolean
}

export interface MultiRegionConfig {
  readonly stream: string
  readonly regions: readonly string[]
  /** The stream's dedup window: RegionDedup's and the publishers' (replicas run with 0). */
  readonly dedupWindowMs: number
  readonly shipTickMs: number
  readonly shipBatchEventsMax: number
  readonly shipWindowBatches: number
  readonly shipperTiming: ShipperTiming
  readonly receiverPublishTimeoutMs: number
  /** A stale shipper (a newer one was designated) keeps running at most this long. */
  readonly staleShipperMsMax: number
  readonly bugs: MultiRegionBugs
}

export interface RegionStack {
  readonly name: string
  /** The region's own context (replicas: dedupWindowMs 0). */
  readonly ctx: RegionContext
  readonly checker: MultiRegionChecker
  readonly shipping: Map<string, NodeShipping>
  readonly publishers: SimPublisher[]
}

export interface MultiRegionContext {
  readonly seed: number
  readonly clock: VirtualClock
  readonly trace: TraceRecorder
  readonly random: SimRandom
  readonly shipNetwork: SimNetwork<ShipWire>
  readonly config: MultiRegionConfig
  /** node → its region. */
  readonly regionOf: ReadonlyMap<string, string>
  readonly regions: ReadonlyMap<string, RegionStack>
}
