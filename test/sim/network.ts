// A simulated message network between named nodes. Every fault decision — delay, drop,
// duplicate — is drawn from the seeded random stream, so a seed replays it. Reordering is not a
// separate fault: independent random delays reorder messages on the same link.
// Partitions are checked when a message is sent and again when it would arrive, so a partition
// also cuts messages already in flight.

import type { VirtualClock } from './clock.js'
import type { SimRandom } from './random.js'
import type { TraceRecorder } from './trace.js'

export interface NetworkConfig {
  readonly delayMsMin: number
  readonly delayMsMax: number
  readonly dropProbability: number
  readonly duplicateProbability: number
  /** Bound on messages in flight on one directed link; beyond it, sends are dropped. */
  readonly inFlightPerLinkMax: number
}

export const defaultNetworkConfig: NetworkConfig = {
  delayMsMin: 1,
  delayMsMax: 10,
  dropProbability: 0.01,
  duplicateProbability: 0.01,
  inFlightPerLinkMax: 1024,
}

export const dropReasons = ['random', 'partition', 'linkCut', 'queueFull', 'nodeDown'] as const
export type DropReason = (typeof dropReasons)[number]

export type MessageHandler<M> = (from: string, message: M) => void

export interface SendOptions {
  /** A stream connection (TCP): may lose messages (drop, partition, crash), never duplicates. */
  readonly connection?: boolean
  /**
   * Told what became of the message (each copy): `null` once handed to the receiver, or the
   * drop reason. Models what a real transport learns (a stream finished, a connection broke).
   */
  readonly onOutcome?: (dropped: DropReason | null) => void
}

export class SimNetwork<M> {
  private config: NetworkConfig
  private readonly handlers = new Map<string, MessageHandler<M>>()
  /** node → partition group number; nodes not in the map reach everyone. */
  private groupOf = new Map<string, number>()
  private readonly cutLinks = new Set<string>()
  private readonly inFlight = new Map<string, number>()
  private readonly dropCounts = new Map<DropReason, number>()
  private delivered = 0

  constructor(
    private readonly clock: VirtualClock,
    private readonly random: SimRandom,
    private readonly trace: TraceRecorder,
    config: Partial<NetworkConfig> = {},
    private readonly describe: (message: M) => string = (message) => JSON.stringify(message),
  ) {
    this.config = { ...defaultNetworkConfig, ...config }
  }

  configure(config: Partial<NetworkConfig>): void {
    this.config = { ...this.config, ...config }
  }

  /** A node that is up receives messages through `handler`; an unregistered (down) one does not. */
  register(node: string, handler: MessageHandler<M>): void {
    this.handlers.set(node, handler)
  }

  unregister(node: string): void {
    this.handlers.delete(node)
  }

  /** Split the listed nodes into groups that cannot reach each other. Unlisted nodes reach all. */
  partition(groups: readonly (readonly string[])[]): void {
    this.groupOf = new Map()
    groups.forEach((group, index) => group.forEach((node) => this.groupOf.set(node, index)))
    this.trace.record(this.clock.nowMs, 'partition', groups.map((group) => `[${group.join(',')}]`).join(' '))
  }

  heal(): void {
    this.groupOf = new Map()
    this.cutLinks.clear()
    this.trace.record(this.clock.nowMs, 'heal', '')
  }

  /** Cut one direction only: `from` can no longer reach `to`. */
  cutLink(from: string, to: string): void {
    this.cutLinks.add(`${from}>${to}`)
    this.trace.record(this.clock.nowMs, 'cutLink', `${from}>${to}`)
  }

  restoreLink(from: string, to: string): void {
    this.cutLinks.delete(`${from}>${to}`)
    this.trace.record(this.clock.nowMs, 'restoreLink', `${from}>${to}`)
  }

  /** Why `from` cannot reach `to` right now, or null if it can. */
  blockedReason(from: string, to: string): DropReason | null {
    const groupFrom = this.groupOf.get(from)
    const groupTo = this.groupOf.get(to)
    if (groupFrom !== undefined && groupTo !== undefined && groupFrom !== groupTo) return 'partition'
    if (this.cutLinks.has(`${from}>${to}`)) return 'linkCut'
    return null
  }

  /** Send one message; see SendOptions for connection semantics and outcome reports. */
  send(from: string, to: string, message: M, options: SendOptions = {}): void {
    const blocked = this.blockedReason(from, to)
    if (blocked !== null) return this.drop(from, to, message, blocked, options.onOutcome)
    if (this.random.chance(this.config.dropProbability)) return this.drop(from, to, message, 'random', options.onOutcome)
    const copies = !options.connection && this.random.chance(this.config.duplicateProbability) ? 2 : 1
    for (let copy = 0; copy < copies; copy++) {
      const link = `${from}>${to}`
      const inFlight = this.inFlight.get(link) ?? 0
      if (inFlight >= this.config.inFlightPerLinkMax) {
        this.drop(from, to, message, 'queueFull', options.onOutcome)
        continue
      }
      this.inFlight.set(link, inFlight + 1)
      const delayMs = this.random.intBetween(this.config.delayMsMin, this.config.delayMsMax)
      this.clock.schedule(delayMs, () => {
        this.inFlight.set(link, (this.inFlight.get(link) ?? 1) - 1)
        this.arrive(from, to, message, options.onOutcome)
      })
    }
  }

  private arrive(from: string, to: string, message: M, onOutcome: SendOptions['onOutcome']): void {
    const blocked = this.blockedReason(from, to)
    if (blocked !== null) return this.drop(from, to, message, blocked, onOutcome)
    const handler = this.handlers.get(to)
    if (handler === undefined) return this.drop(from, to, message, 'nodeDown', onOutcome)
    this.delivered++
    this.trace.record(this.clock.nowMs, 'deliver', `${from}>${to} ${this.describe(message)}`)
    handler(from, message)
    onOutcome?.(null)
  }

  private drop(from: string, to: string, message: M, reason: DropReason, onOutcome?: SendOptions['onOutcome']): void {
    this.dropCounts.set(reason, (this.dropCounts.get(reason) ?? 0) + 1)
    this.trace.record(this.clock.nowMs, 'drop', `${reason} ${from}>${to} ${this.describe(message)}`)
    onOutcome?.(reason)
  }

  stats(): { delivered: number; dropped: Readonly<Record<DropReason, number>> } {
    const dropped = Object.fromEntries(dropReasons.map((reason) => [reason, this.dropCounts.get(reason) ?? 0]))
    return { delivered: this.delivered, dropped: dropped as Record<DropReason, number> }
  }
}
