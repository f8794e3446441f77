// The peer transport's `ship` channel: one envelope byte, then the body. Pure, bounded, never
// throws on bad input.
//   1  shipping message: the cross-region codec's bytes (data-plane/persistent/shipping/codec.ts,
//      batch bodies deflate-raw)
//   2  lag report: UTF-8 JSON `{stream, from, to, events, ms, head, cursor, term, holder}` — a
//      shipper holder tells every node how far its link is behind (stream info, metrics)
import { z } from 'zod'
import { lagReportBytesMax } from './limits.js'

export const shipEnvelopeKinds = { message: 1, lag: 2 } as const

const safeCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

export const lagReportSchema = z.strictObject({
  /** `namespace/name`. */
  stream: z.string().min(1).max(512),
  /** Source region (where the holder runs). */
  from: z.string().min(1).max(64),
  /** Destination region. */
  to: z.string().min(1).max(64),
  /** Events delivered in `from` that `to` has not acknowledged. */
  events: safeCount,
  /** How long the oldest of them has waited (the holder's clock minus its source time). */
  ms: safeCount,
  /** Highest shipSeq delivered in `from` (the holder's view). */
  head: safeCount,
  /** Highest shipSeq `to` vouched for as committed. */
  cursor: safeCount,
  /** The shipper designation's term. */
  term: safeCount,
  /** The node that holds the designation and measured it. */
  holder: z.string().min(1).max(256),
})
export type LagReport = z.infer<typeof lagReportSchema>

export type ShipEnvelope = { readonly kind: 'message'; readonly bytes: Uint8Array } | { readonly kind: 'lag'; readonly report: LagReport }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeShipEnvelope(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1)
  out[0] = shipEnvelopeKinds.message
  out.set(bytes, 1)
  return out
}

/** A lag report's frame, or undefined when it would exceed `lagReportBytesMax` (not sent). */
export function encodeLagReport(report: LagReport): Uint8Array | undefined {
  const json = encoder.encode(JSON.stringify(report))
  if (json.length + 1 > lagReportBytesMax) return undefined
  const out = new Uint8Array(json.length + 1)
  out[0] = shipEnvelopeKinds.lag
  out.set(json, 1)
  return out
}

export type ShipEnvelopeOutcome = { readonly ok: true; readonly value: ShipEnvelope } | { readonly ok: false; readonly error: string }

export function decodeShipEnvelope(frame: Uint8Array): ShipEnvelopeOutcome {
  if (frame.length === 0) return { ok: false, error: 'empty ship frame' }
  const kind = frame[0]
  if (kind === shipEnvelopeKinds.message) return { ok: true, value: { kind: 'message', bytes: frame.subarray(1) } }
  if (kind === shipEnvelopeKinds.lag) {
    if (frame.length > lagReportBytesMax) return { ok: false, error: `lag report of ${frame.length} bytes over ${lagReportBytesMax}` }
    let json: unknown
    try {
      json = JSON.parse(decoder.decode(frame.subarray(1)))
    } catch (error) {
      return { ok: false, error: `lag report: ${(error as Error).message}` }
    }
    const parsed = lagReportSchema.safeParse(json)
    if (!parsed.success) return { ok: false, error: `lag report: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}` }
    return { ok: true, value: { kind: 'lag', report: parsed.data } }
  }
  return { ok: false, error: `unknown ship envelope kind ${String(kind)}` }
}
