// The per-request server timeout header. A request (HPUB with a reply subject) carrying
// `Rg-Timeout-Ms: <positive integer>` asks the server to answer `NATS/1.0 408 Request Timeout`
// if no response arrives within that many milliseconds. Pure.
import type { MsgHeaders } from '../../shared/protocol/types.js'

export const requestTimeoutHeader = 'Rg-Timeout-Ms'
/** Named limit: larger values are clamped to this (one day). */
export const requestTimeoutMsMax = 24 * 60 * 60 * 1000

/**
 * The timeout the header asks for, or undefined when absent or not a positive integer (an
 * unusable value falls back to the configured default rather than failing the request).
 */
export function requestTimeoutFromHeader(headers: MsgHeaders | undefined): number | undefined {
  if (headers === undefined) return undefined
  for (const [key, value] of headers.entries) {
    if (key.length !== requestTimeoutHeader.length || key.toLowerCase() !== 'rg-timeout-ms') continue
    const trimmed = value.trim()
    if (!/^\d{1,15}$/.test(trimmed)) return undefined
    const timeoutMs = Number(trimmed)
    if (timeoutMs <= 0) return undefined
    return Math.min(timeoutMs, requestTimeoutMsMax)
  }
  return undefined
}
