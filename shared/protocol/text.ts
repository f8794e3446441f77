// Byte helpers shared by the parser and the encoder. Pure: no node:* imports.

const utf8Decoder = new TextDecoder()

/** Decoded text of bytes [start, end). ASCII (the usual subject) skips TextDecoder's call cost. */
export function decodeText(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 48) {
    let text = ''
    for (let i = start; i < end; i++) {
      const c = buf[i] as number
      if (c >= 0x80) return utf8Decoder.decode(buf.subarray(start, end))
      text += String.fromCharCode(c)
    }
    return text
  }
  return utf8Decoder.decode(buf.subarray(start, end))
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
