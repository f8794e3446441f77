// The simulator's one source of randomness: sfc32 (Chris Doty-Humphrey's Small Fast Counting
// generator, 32-bit), seeded through splitmix32 from a string key. Every decision in a run
// (delays, drops, crashes, client choices, election jitter) draws from a stream forked from the
// run's seed, so a seed replays the run exactly.

import type { RandomSource } from '../../control-plane/raft/index.js'

/** FNV-1a over UTF-16 code units: turns a seed key into 32 bits. */
function hashString(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** splitmix32: spreads one 32-bit seed into well-mixed words for sfc32's state. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

export class SimRandom implements RandomSource {
  private a: number
  private b: number
  private c: number
  private d: number

  /** `key` names the stream: a run's seed, or `seed/label` for a fork. */
  constructor(readonly key: string) {
    const mix = splitmix32(hashString(key))
    this.a = mix()
    this.b = mix()
    this.c = mix()
    this.d = mix()
    for (let i = 0; i < 12; i++) this.nextUint32() // sfc32's recommended warm-up
  }

  static fromSeed(seed: number): SimRandom {
    return new SimRandom(`seed:${seed}`)
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** Uniform integer in [0, n), without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RangeError(`SimRandom.int: bad bound ${n}`)
    const limit = 0x100000000 - (0x100000000 % n)
    let value = this.nextUint32()
    while (value >= limit) value = this.nextUint32()
    return value % n
  }

  /** Uniform integer in [min, max], both inclusive. */
  intBetween(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  /** Uniform float in [0, 1) with 32 bits of precision. */
  float(): number {
    return this.nextUint32() / 0x100000000
  }

  chance(probability: number): boolean {
    return probability > 0 && this.float() < probability
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('SimRandom.pick: empty array')
    return items[this.int(items.length)]!
  }

  /**
   * An independent stream named by `label`. It depends only on this stream's key and the
   * label, not on how many numbers were drawn, so adding draws in one subsystem does not
   * shift another's. The same label gives the same stream.
   */
  fork(label: string): SimRandom {
    return new SimRandom(`${this.key}/${label}`)
  }
}
