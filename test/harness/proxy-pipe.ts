// One direction of one proxied connection: applies latency, jitter, bandwidth, blackhole
// (hold: nothing passes, nothing is lost, released in order on heal) and drop (discard) to the
// bytes flowing from one socket to the other. Order is always preserved.
import type { Socket } from 'node:net'
import type { SeededRandom } from './seeded-random.js'

export const faultModes = ['pass', 'blackhole', 'drop'] as const
export type FaultMode = (typeof faultModes)[number]

/** Live settings of one direction, shared by every connection of a proxy (changes apply at once). */
export interface DirectionSettings {
  latencyMs: number
  jitterMs: number
  /** Undefined: unlimited. */
  bytesPerSecond: number | undefined
  mode: FaultMode
}

export interface DirectionCounters {
  bytesReceived: number
  bytesForwarded: number
  bytesDropped: number
}

/** Bytes held per connection direction while blackholed; beyond it the connection is reset. */
export const heldBytesMax = 16 * 1024 * 1024
/** Bytes waiting out their latency per connection direction; beyond it the source is paused. */
export const delayedBytesHighWater = 4 * 1024 * 1024

interface Scheduled {
  readonly chunk: Buffer | 'end'
  readonly deliverAtMs: number
}

export class ProxyPipe {
  private readonly scheduled: Scheduled[] = []
  private scheduledBytes = 0
  private held: (Buffer | 'end')[] = []
  private heldByteCount = 0
  private lastDeliverAtMs = 0
  private lastTransmitDoneMs = 0
  private timer: NodeJS.Timeout | undefined
  private ended = false
  private awaitingDrain = false

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly settings: DirectionSettings,
    private readonly counters: DirectionCounters,
    private readonly random: SeededRandom,
    private readonly onOverflow: (reason: string) => void,
  ) {
    from.on('data', (chunk: Buffer) => this.accept(chunk))
    from.on('end', () => this.accept('end'))
  }

  get heldBytes(): number {
    return this.heldByteCount
  }

  /** Release what a blackhole held, in order, through the normal latency path. */
  release(): void {
    const held = this.held
    this.held = []
    this.heldByteCount = 0
    for (const item of held) this.schedule(item)
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.scheduled.length = 0
    this.held = []
    this.heldByteCount = 0
  }

  private accept(item: Buffer | 'end'): void {
    if (item !== 'end') this.counters.bytesReceived += item.byteLength
    switch (this.settings.mode) {
      case 'drop':
        if (item === 'end') this.schedule(item)
        else this.counters.bytesDropped += item.byteLength
        return
      case 'blackhole':
        this.held.push(item)
        if (item !== 'end') {
          this.heldByteCount += item.byteLength
          if (this.heldByteCount > heldBytesMax) this.onOverflow(`blackhole held more than ${heldBytesMax} bytes`)
        }
        return
      case 'pass':
        this.schedule(item)
        return
    }
  }

  private schedule(item: Buffer | 'end'): void {
    const nowMs = performance.now()
    const byteCount = item === 'end' ? 0 : item.byteLength
    const bytesPerSecond = this.settings.bytesPerSecond
    const transmitDoneMs =
      bytesPerSecond === undefined ? nowMs : Math.max(nowMs, this.lastTransmitDoneMs) + (byteCount * 1000) / bytesPerSecond
    this.lastTransmitDoneMs = transmitDoneMs
    const jitter = this.settings.jitterMs > 0 ? this.random.next() * this.settings.jitterMs : 0
    const deliverAtMs = Math.max(transmitDoneMs + this.settings.latencyMs + jitter, this.lastDeliverAtMs)
    this.lastDeliverAtMs = deliverAtMs
    if (deliverAtMs <= nowMs && this.scheduled.length === 0) {
      this.deliver(item)
      return
    }
    this.scheduled.push({ chunk: item, deliverAtMs })
    this.scheduledBytes += byteCount
    if (this.scheduledBytes > delayedBytesHighWater) this.from.pause()
    this.arm()
  }

  private arm(): void {
    if (this.timer !== undefined || this.scheduled.length === 0) return
    const waitMs = Math.max(0, this.scheduled[0]!.deliverAtMs - performance.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushDue()
    }, waitMs)
  }

  private flushDue(): void {
    const nowMs = performance.now()
    while (this.scheduled.length > 0 && this.scheduled[0]!.deliverAtMs <= nowMs + 0.5) {
      const next = this.scheduled.shift()!
      if (next.chunk !== 'end') this.scheduledBytes -= next.chunk.byteLength
      this.deliver(next.chunk)
    }
    if (this.scheduledBytes <= delayedBytesHighWater / 2 && this.from.isPaused()) this.from.resume()
    this.arm()
  }

  private deliver(item: Buffer | 'end'): void {
    if (this.ended) return
    if (item === 'end') {
      this.ended = true
      if (!this.to.destroyed) this.to.end()
      return
    }
    if (this.to.destroyed || this.to.writableEnded) {
      this.counters.bytesDropped += item.byteLength
      return
    }
    this.counters.bytesForwarded += item.byteLength
    if (!this.to.write(item) && !this.awaitingDrain) {
      // One listener per stall: held bytes released at once would otherwise add one per write.
      this.awaitingDrain = true
      this.from.pause()
      this.to.once('drain', () => {
        this.awaitingDrain = false
        this.from.resume()
      })
    }
  }
}
