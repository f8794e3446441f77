// What every actor of the region simulation shares: virtual clock, network, trace, seeded
// randomness, the checker, the control plane and the run's configuration.
import type { StreamReplicaTiming } from '../../../data-plane/persistent/index.js'
import type { VirtualClock } from '../clock.js'
import type { SimNetwork } from '../network.js'
import type { SimRandom } from '../random.js'
import type { TraceRecorder } from '../trace.js'
import type { RegionChecker } from './checker.js'
import type { RegionControlPlane } from './control-plane.js'
import type { RegionNode } from './region-node.js'
import type { RegionBugs } from './region-sim.js'
import type { RegionWire } from './wire.js'

export interface RegionConfig {
  readonly stream: string
  readonly group: string
  readonly replicaNames: readonly string[]
  readonly consumerNames: readonly string[]
  readonly dedupWindowMs: number
  readonly timing: Partial<StreamReplicaTiming>
  readonly tickMs: number
  /** Each disk's fsync takes 0..max ms, max picked per node from these (changed by the nemesis). */
  readonly syncDelayMsChoices: readonly number[]
  /** Each node's physical clock is off by up to this much (either way). */
  readonly skewMsMax: number
  /** Virtual time 0 is this physical time (HLC wallMs look like real dates). */
  readonly epochMs: number
  /** SCC: redeliver when a consumer has not acked within this. */
  readonly ackWaitMs: number
  readonly maxInFlight: number
  /** A new SCC gathers progress from replicas for this long before taking over. */
  readonly gatherMs: number
  readonly replicateEveryMs: number
  readonly closerResendMs: number
  readonly bugs: RegionBugs
}

export interface RegionContext {
  readonly seed: number
  readonly clock: VirtualClock
  readonly network: SimNetwork<RegionWire>
  readonly trace: TraceRecorder
  readonly random: SimRandom
  /** fsync delays, drawn from one stream. */
  readonly syncRandom: SimRandom
  readonly checker: RegionChecker
  readonly controlPlane: RegionControlPlane
  readonly config: RegionConfig
  readonly nodes: ReadonlyMap<string, RegionNode>
}
