// Byte helpers shared by the parser and the encoder. Pure: no node:* imports.

const utf8Decoder = new TextDecoder()

/** Slots in the recent-strings cache (a power of two); each holds the last string hashed there. */
const textCacheSlots = 1024
/** Strings longer than this bypass the cache (long subjects are rarely hot and costly to hash). */
const textCacheCharsMax = 64
/** The cache's named limits (module-local constants above keep the hot loop free of export cells). */
export const textCacheLimits = { textCacheSlots, textCacheCharsMax } as const

const recentText: string[] = new Array<string>(textCacheSlots).fill('')
// The bytes each slot's string was made from: verifying a hit on bytes is several times faster
// than String#charCodeAt. Length -1 marks an empty slot.
const recentBytes = new Uint8Array(textCacheSlots * textCacheCharsMax)
const recentLengths = new Int32Array(textCacheSlots).fill(-1)
const codes: number[] = []

/**
 * Decoded text of bytes [start, end). Subjects and sids repeat a lot on a connection, so short
 * ASCII text is looked up in a direct-mapped cache of recent strings (FNV-1a hash, then a
 * byte-by-byte check): a hit allocates nothing. Non-ASCII text goes through TextDecoder.
 */
export function decodeText(buf: Uint8Array, start: number, end: number): string {
  const length = end - start
  if (length > textCacheCharsMax) return utf8Decoder.decode(buf.subarray(start, end))
  let hash = 0x811c9dc5
  let highBits = 0
  // No early exit inside this loop: a call in the loop body (even one never taken) made V8
  // compile it about 3x slower. Non-ASCII is detected after it, from the OR of all bytes.
  for (let i = start; i < end; i++) {
    const c = buf[i] as number
    highBits |= c
    hash = Math.imul(hash ^ c, 0x01000193)
  }
  if (highBits >= 0x80) return utf8Decoder.decode(buf.subarray(start, end))
  const slot = (hash >>> 0) & (textCacheSlots - 1)
  const base = slot * textCacheCharsMax
  if (recentLengths[slot] === length) {
    let i = 0
    while (i < length && recentBytes[base + i] === buf[start + i]) i++
    if (i === length) return recentText[slot] as string
  }
  codes.length = length
  for (let i = 0; i < length; i++) codes[i] = buf[start + i] as number
  const text = String.fromCharCode.apply(null, codes)
  recentText[slot] = text
  recentBytes.set(buf.subarray(start, end), base)
  recentLengths[slot] = length
  return text
}

/** Digits accepted in a size field; more means "too large to be a size" rather than malformed. */
export const numberDigitsMax = 15

/**
 * Parses an unsigned decimal in [start, end). Returns -1 when empty or not all digits, and
 * Infinity when longer than `numberDigitsMax` digits (so a size check reports "too large").
 */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number {
  if (end <= start) return -1
  let value = 0
  for (let i = start; i < end; i++) {
    const digit = (buf[i] as number) - 0x30
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return end - start > numberDigitsMax ? Infinity : value
}
