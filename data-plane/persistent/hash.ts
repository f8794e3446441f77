// A small non-cryptographic 128-bit hash (four murmur3-32 lanes with different seeds, one pass)
// for digests: equal inputs give equal hashes everywhere; different inputs collide with
// negligible probability for honest data. Not a defence against an adversary choosing events.
// Pure, no node:crypto, so the deterministic simulator can use it.

export type Hash128 = readonly [number, number, number, number]

const seeds = [0x9747b28c, 0x2545f491, 0x6c8e9cf5, 0x1b873593] as const
const c1 = 0xcc9e2d51
const c2 = 0x1b873593

function mix(h: number, word: number): number {
  let k = Math.imul(word, c1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, c2)
  let x = h ^ k
  x = (x << 13) | (x >>> 19)
  return (Math.imul(x, 5) + 0xe6546b64) | 0
}

function finish(h: number, length: number): number {
  let x = h ^ length
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

/** The 128-bit hash of `bytes` as four unsigned 32-bit lanes. */
export function hash128(bytes: Uint8Array): Hash128 {
  let h0: number = seeds[0]
  let h1: number = seeds[1]
  let h2: number = seeds[2]
  let h3: number = seeds[3]
  const whole = bytes.length & ~3
  for (let i = 0; i < whole; i += 4) {
    const word = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24)
    h0 = mix(h0, word)
    h1 = mix(h1, word ^ 0x5bd1e995)
    h2 = mix(h2, word + 0x27d4eb2f)
    h3 = mix(h3, Math.imul(word, 0x165667b1))
  }
  let tail = 0
  for (let i = bytes.length - 1; i >= whole; i--) tail = (tail << 8) | (bytes[i] as number)
  if (bytes.length > whole) {
    h0 = mix(h0, tail)
    h1 = mix(h1, tail ^ 0x5bd1e995)
    h2 = mix(h2, tail + 0x27d4eb2f)
    h3 = mix(h3, Math.imul(tail, 0x165667b1))
  }
  return [finish(h0, bytes.length), finish(h1, bytes.length), finish(h2, bytes.length), finish(h3, bytes.length)]
}

export const zeroHash: Hash128 = [0, 0, 0, 0]

/** Lane-wise sum mod 2^32: an order-independent combination of a set's member hashes. */
export function addHash(a: Hash128, b: Hash128): Hash128 {
  return [(a[0] + b[0]) >>> 0, (a[1] + b[1]) >>> 0, (a[2] + b[2]) >>> 0, (a[3] + b[3]) >>> 0]
}

export function hashEquals(a: Hash128, b: Hash128): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3]
}

/** 32 lowercase hex digits. */
export function hashHex(h: Hash128): string {
  return h.map((lane) => lane.toString(16).padStart(8, '0')).join('')
}
