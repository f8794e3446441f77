// Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): a timestamp
// {wallMs, logical} that follows physical time, never goes back, and orders every send before
// its receipt. Pure: the physical time comes in as an argument (the driver passes Date.now();
// the simulator its virtual clock), so the same inputs give the same timestamps.
//
// Invariant: `now` and `receive` return a timestamp strictly above every timestamp the clock
// returned or received before. A remote timestamp further ahead of the local physical clock
// than `maxSkewMs` is refused (ClockSkewError) and leaves the clock unchanged — one peer with a
// broken clock cannot drag every node's time forward without bound.
import { ClockSkewError, MalformedEventError, failure, success } from './errors.js'
import type { Outcome } from './errors.js'
import { hlcLogicalMax, hlcMaxSkewMsDefault, hlcWallMsMax } from './limits.js'

export interface Hlc {
  /** Milliseconds since the Unix epoch (physical component); an integer ≤ hlcWallMsMax. */
  readonly wallMs: number
  /** Counter among timestamps with the same wallMs; an integer ≤ hlcLogicalMax. */
  readonly logical: number
}

export const hlcZero: Hlc = Object.freeze({ wallMs: 0, logical: 0 })
/** The largest encodable timestamp. */
export const hlcMax: Hlc = Object.freeze({ wallMs: hlcWallMsMax, logical: hlcLogicalMax })
/** Bytes of `encodeHlc`. */
export const hlcBytes = 8

export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1
  return 0
}

export const maxHlc = (a: Hlc, b: Hlc): Hlc => (compareHlc(a, b) >= 0 ? a : b)
export const minHlc = (a: Hlc, b: Hlc): Hlc => (compareHlc(a, b) <= 0 ? a : b)

export function isValidHlc(h: Hlc): boolean {
  return Number.isInteger(h.wallMs) && h.wallMs >= 0 && h.wallMs <= hlcWallMsMax && Number.isInteger(h.logical) && h.logical >= 0 && h.logical <= hlcLogicalMax
}

function physical(physicalMs: number): number {
  // A bug in the caller, not an expected failure: the driver owns the clock.
  if (!Number.isFinite(physicalMs) || physicalMs < 0) throw new RangeError(`hlc: physical time must be a finite number >= 0, got ${physicalMs}`)
  return Math.min(Math.floor(physicalMs), hlcWallMsMax)
}

/** The successor of `h` at the same or a later wallMs (logical overflow moves wallMs on by 1 ms). */
function bump(wallMs: number, logical: number): Hlc {
  if (logical <= hlcLogicalMax) return { wallMs, logical }
  if (wallMs >= hlcWallMsMax) throw new RangeError('hlc: clock exhausted (wallMs and logical at their maximum)')
  return { wallMs: wallMs + 1, logical: 0 }
}

/** A timestamp for a local event or send: above `last`, at least the physical time. */
export function hlcNow(last: Hlc, physicalMs: number): Hlc {
  const pt = physical(physicalMs)
  if (pt > last.wallMs) return { wallMs: pt, logical: 0 }
  return bump(last.wallMs, last.logical + 1)
}

/** A timestamp for the receipt of `remote`: above both `last` and `remote`, or a skew refusal. */
export function hlcReceive(last: Hlc, remote: Hlc, physicalMs: number, maxSkewMs: number = hlcMaxSkewMsDefault): Outcome<Hlc, ClockSkewError> {
  const pt = physical(physicalMs)
  if (remote.wallMs - pt > maxSkewMs) return failure(new ClockSkewError(remote.wallMs, pt, maxSkewMs))
  const wallMs = Math.max(last.wallMs, remote.wallMs, pt)
  if (wallMs === last.wallMs && wallMs === remote.wallMs) return success(bump(wallMs, Math.max(last.logical, remote.logical) + 1))
  if (wallMs === last.wallMs) return success(bump(wallMs, last.logical + 1))
  if (wallMs === remote.wallMs) return success(bump(wallMs, remote.logical + 1))
  return success({ wallMs, logical: 0 })
}

/** A node's clock: the state around `hlcNow`/`hlcReceive`. */
export class HybridLogicalClock {
  #last: Hlc
  readonly maxSkewMs: number

  constructor(options: { maxSkewMs?: number; start?: Hlc } = {}) {
    this.maxSkewMs = options.maxSkewMs ?? hlcMaxSkewMsDefault
    if (!(Number.isInteger(this.maxSkewMs) && this.maxSkewMs >= 0)) throw new RangeError(`hlc: maxSkewMs must be an integer >= 0, got ${this.maxSkewMs}`)
    const start = options.start ?? hlcZero
    if (!isValidHlc(start)) throw new RangeError('hlc: invalid start timestamp')
    this.#last = start
  }

  /** The last timestamp issued or received (a restarted node persists it as its ceiling). */
  get last(): Hlc {
    return this.#last
  }

  now(physicalMs: number): Hlc {
    this.#last = hlcNow(this.#last, physicalMs)
    return this.#last
  }

  receive(remote: Hlc, physicalMs: number): Outcome<Hlc, ClockSkewError> {
    const result = hlcReceive(this.#last, remote, physicalMs, this.maxSkewMs)
    if (result.ok) this.#last = result.value
    return result
  }
}

/** 8 bytes, big-endian: 48-bit wallMs then 16-bit logical, so byte order is timestamp order. */
export function encodeHlc(h: Hlc, into: Uint8Array = new Uint8Array(hlcBytes), offset = 0): Uint8Array {
  if (!isValidHlc(h)) throw new RangeError(`hlc: cannot encode ${JSON.stringify(h)}`)
  const high = Math.floor(h.wallMs / 2 ** 16)
  const low = h.wallMs % 2 ** 16
  into[offset] = (high >>> 24) & 0xff
  into[offset + 1] = (high >>> 16) & 0xff
  into[offset + 2] = (high >>> 8) & 0xff
  into[offset + 3] = high & 0xff
  into[offset + 4] = (low >>> 8) & 0xff
  into[offset + 5] = low & 0xff
  into[offset + 6] = (h.logical >>> 8) & 0xff
  into[offset + 7] = h.logical & 0xff
  return into
}

export function decodeHlc(bytes: Uint8Array, offset = 0): Outcome<Hlc, MalformedEventError> {
  if (bytes.length - offset < hlcBytes) return failure(new MalformedEventError(`hlc needs ${hlcBytes} bytes, ${Math.max(0, bytes.length - offset)} left`))
  const at = (i: number): number => bytes[offset + i] as number
  const high = ((at(0) << 24) | (at(1) << 16) | (at(2) << 8) | at(3)) >>> 0
  const wallMs = high * 2 ** 16 + ((at(4) << 8) | at(5))
  return success({ wallMs, logical: (at(6) << 8) | at(7) })
}

export function formatHlc(h: Hlc): string {
  return `${h.wallMs}.${h.logical}`
}
