// Virtual time. Nothing in a simulated world reads a wall clock: events are scheduled on this
// clock's queue and run in (time, sequence) order. The sequence number breaks ties, so two
// events at the same millisecond always run in the order they were scheduled: determinism.

export type TimerId = number

interface ScheduledEvent {
  readonly atMs: number
  readonly sequence: number
  readonly action: () => void
  cancelled: boolean
}

/** A binary min-heap ordered by (atMs, sequence). */
class EventQueue {
  private readonly heap: ScheduledEvent[] = []

  get size(): number {
    return this.heap.length
  }

  push(event: ScheduledEvent): void {
    const heap = this.heap
    heap.push(event)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  peek(): ScheduledEvent | undefined {
    return this.heap[0]
  }

  pop(): ScheduledEvent | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    heap[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right
      if (smallest === i) break
      ;[heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!]
      i = smallest
    }
    return top
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.sequence < b.sequence)
}

export class VirtualClock {
  private currentMs = 0
  private nextSequence = 0
  private readonly queue = new EventQueue()
  private readonly byId = new Map<TimerId, ScheduledEvent>()

  /** `pendingEventsMax` bounds the queue: a runaway simulation fails loudly instead of eating memory. */
  constructor(private readonly pendingEventsMax = 1_000_000) {}

  get nowMs(): number {
    return this.currentMs
  }

  get pendingEvents(): number {
    return this.byId.size
  }

  /** Run `action` `delayMs` from now (0 = after everything already scheduled for now). */
  schedule(delayMs: number, action: () => void): TimerId {
    if (!(delayMs >= 0)) throw new RangeError(`VirtualClock.schedule: negative delay ${delayMs}`)
    return this.scheduleAt(this.currentMs + delayMs, action)
  }

  scheduleAt(atMs: number, action: () => void): TimerId {
    if (atMs < this.currentMs) throw new RangeError(`VirtualClock.scheduleAt: ${atMs} is in the past (now ${this.currentMs})`)
    if (this.byId.size >= this.pendingEventsMax) {
      throw new Error(`VirtualClock: more than ${this.pendingEventsMax} pending events`)
    }
    const sequence = this.nextSequence++
    const event: ScheduledEvent = { atMs, sequence, action, cancelled: false }
    this.queue.push(event)
    this.byId.set(sequence, event)
    return sequence
  }

  cancel(id: TimerId): void {
    const event = this.byId.get(id)
    if (event) {
      event.cancelled = true
      this.byId.delete(id)
    }
  }

  /** Run the next event; false when none is pending. */
  step(): boolean {
    for (;;) {
      const event = this.queue.pop()
      if (event === undefined) return false
      if (event.cancelled) continue
      this.byId.delete(event.sequence)
      this.currentMs = event.atMs
      event.action()
      return true
    }
  }

  /** Run events due at or before `endMs`, then set the time to `endMs`. */
  runUntil(endMs: number): void {
    for (;;) {
      const next = this.peekLive()
      if (next === undefined || next.atMs > endMs) break
      this.step()
    }
    if (endMs > this.currentMs) this.currentMs = endMs
  }

  private peekLive(): ScheduledEvent | undefined {
    for (;;) {
      const top = this.queue.peek()
      if (top === undefined || !top.cancelled) return top
      this.queue.pop()
    }
  }
}
