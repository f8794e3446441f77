// Where a shipped copy came from: the `Rg-Source` header a receiver adds when it writes a remote
// event into its own region. Pure.
//
// A copy in region B of an event that originated in region A is a new copy in B (B's origin,
// B's HLC at receipt — DESIGN §3.2.5: "ordering is determined by time of receipt") with the SAME
// event id, payload and headers, plus one header that records:
//   region    the source region A (the event's origin region; copies are never re-shipped)
//   shipSeq   its position in A's shipping sequence: the A-originated events in A's delivery
//             order, numbered from 1 (the same on every replica of A: invariant 2)
//   hlc       its HLC in A (the time the dedup window is measured in, in every region)
//   origin, incarnation, originSeq   its copy key in A (a region-independent identity)
// One header (not several) so that a shipped copy costs one of the event's header slots.
import { isValidIncarnation, isValidOrigin, isValidOriginSeq } from '../event.js'
import type { EventHeader, StreamEvent } from '../event.js'
import { failure, success } from '../errors.js'
import type { Outcome } from '../errors.js'
import { isValidHlc } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import { MalformedShipmentError } from './errors.js'
import { regionNameBytesMax } from './limits.js'

/** The header a receiver adds to every copy it writes; clients must not set it (the server strips it). */
export const sourceHeader = 'Rg-Source'
const provenanceVersion = '1'
const regionPattern = /^[A-Za-z0-9_-]{1,64}$/

export const isValidRegion = (region: string): boolean => regionPattern.test(region) && region.length <= regionNameBytesMax

export interface Provenance {
  readonly region: string
  readonly shipSeq: number
  readonly hlc: Hlc
  readonly origin: string
  readonly incarnation: number
  readonly originSeq: number
}

export function formatProvenance(p: Provenance): string {
  return [provenanceVersion, p.region, p.shipSeq, p.hlc.wallMs, p.hlc.logical, p.origin, p.incarnation, p.originSeq].join(';')
}

const integerField = (text: string): number => (/^\d{1,16}$/.test(text) ? Number(text) : Number.NaN)

export function parseProvenance(value: string): Outcome<Provenance, MalformedShipmentError> {
  const parts = value.split(';')
  if (parts.length !== 8 || parts[0] !== provenanceVersion) return failure(new MalformedShipmentError(`${sourceHeader} header: expected 8 fields of version ${provenanceVersion}, got "${value.slice(0, 80)}"`))
  const [, region = '', shipSeq = '', wallMs = '', logical = '', origin = '', incarnation = '', originSeq = ''] = parts
  const p: Provenance = { region, shipSeq: integerField(shipSeq), hlc: { wallMs: integerField(wallMs), logical: integerField(logical) }, origin, incarnation: integerField(incarnation), originSeq: integerField(originSeq) }
  if (!isValidRegion(p.region)) return failure(new MalformedShipmentError(`${sourceHeader} header: invalid region "${region.slice(0, 80)}"`))
  if (!isValidOriginSeq(p.shipSeq)) return failure(new MalformedShipmentError(`${sourceHeader} header: invalid shipSeq "${shipSeq}"`))
  if (!isValidHlc(p.hlc)) return failure(new MalformedShipmentError(`${sourceHeader} header: invalid hlc "${wallMs}.${logical}"`))
  if (!isValidOrigin(p.origin) || !isValidIncarnation(p.incarnation) || !isValidOriginSeq(p.originSeq)) return failure(new MalformedShipmentError(`${sourceHeader} header: invalid copy key "${origin}#${incarnation}#${originSeq}"`))
  return success(p)
}

/** The copy's provenance: null for an event that originated in this region; an error for a bad header. */
export function provenanceOf(event: StreamEvent): Outcome<Provenance | null, MalformedShipmentError> {
  let found: string | null = null
  for (const [key, value] of event.headers) {
    if (key !== sourceHeader) continue
    if (found !== null) return failure(new MalformedShipmentError(`more than one ${sourceHeader} header`))
    found = value
  }
  return found === null ? success(null) : parseProvenance(found)
}

/** Whether the event originated in the region holding it (it carries no `Rg-Source`). */
export const isLocallyOriginated = (event: StreamEvent): boolean => !event.headers.some(([key]) => key === sourceHeader)

/** The headers of the copy a receiver writes: the original ones, then `Rg-Source`. */
export function shippedHeaders(event: StreamEvent, region: string, shipSeq: number): EventHeader[] {
  const p: Provenance = { region, shipSeq, hlc: event.hlc, origin: event.origin, incarnation: event.incarnation, originSeq: event.originSeq }
  return [...event.headers, [sourceHeader, formatProvenance(p)]]
}

/** A region-independent name of a logical event: `region/origin#incarnation#originSeq` of its first copy. */
export function globalKeyOf(event: StreamEvent, holdingRegion: string): Outcome<string, MalformedShipmentError> {
  const p = provenanceOf(event)
  if (!p.ok) return p
  if (p.value === null) return success(`${holdingRegion}/${event.origin}#${event.incarnation}#${event.originSeq}`)
  return success(`${p.value.region}/${p.value.origin}#${p.value.incarnation}#${p.value.originSeq}`)
}
