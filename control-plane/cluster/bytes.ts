// Base64 without Buffer (this module is pure: no node:* and no Node-only globals), used by the
// command codec and snapshots to carry KV values inside JSON.

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const reverse = new Map<string, number>([...alphabet].map((char, index) => [char, index]))

export function encodeBase64(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0
    const b = bytes[i + 1] ?? 0
    const c = bytes[i + 2] ?? 0
    const triple = (a << 16) | (b << 8) | c
    out += alphabet[(triple >> 18) & 63]
    out += alphabet[(triple >> 12) & 63]
    out += i + 1 < bytes.length ? alphabet[(triple >> 6) & 63] : '='
    out += i + 2 < bytes.length ? alphabet[triple & 63] : '='
  }
  return out
}

/** Strict decoding: canonical padding only; returns undefined on any malformed input. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const out = new Uint8Array((text.length / 4) * 3 - padding)
  let o = 0
  for (let i = 0; i < text.length; i += 4) {
    let triple = 0
    for (let j = 0; j < 4; j++) {
      const char = text[i + j] as string
      const isPad = char === '=' && i + 4 === text.length && j >= 4 - padding
      const value = isPad ? 0 : reverse.get(char)
      if (value === undefined) return undefined
      triple = (triple << 6) | value
    }
    const chunk = [(triple >> 16) & 255, (triple >> 8) & 255, triple & 255]
    for (const byte of chunk) if (o < out.length) out[o++] = byte
  }
  if (encodeBase64(out) !== text) return undefined
  return out
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** FNV-1a, 32 bits, over the UTF-16 code units of `text`: a stable hash for placement balance. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash >>> 0
}
