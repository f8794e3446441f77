// Byte helpers shared by the parser and the encoder. Pure: no node:* imports.

const utf8Decoder = new TextDecoder()

/** Slots in the recent-strings cache (a power of two); each holds the last string hashed there. */
export const textCacheSlots = 1024
/** Strings longer than this bypass the cache (long subjects are rarely hot and costly to hash). */
export const textCacheCharsMax = 64

const recentText: string[] = new Array<string>(textCacheSlots).fill('')
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
  for (let i = start; i < end; i++) {
    const c = buf[i] as number
    if (c >= 0x80) return utf8Decoder.decode(buf.subarray(start, end))
    hash = Math.imul(hash ^ c, 0x01000193)
  }
  const slot = (hash >>> 0) & (textCacheSlots - 1)
  const cached = recentText[slot] as string
  if (cached.length === length) {
    let i = 0
    while (i < length && cached.charCodeAt(i) === buf[start + i]) i++
    if (i === length) return cached
  }
  codes.length = length
  for (let i = 0; i < length; i++) codes[i] = buf[start + i] as number
  const text = String.fromCharCode.apply(null, codes)
  recentText[slot] = text
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
