// Intake rules of a publish into a persistent stream that concern cross-region shipping (issue
// #6; docs/api.md § Streams across regions). Pure.
//  - `Rg-Source` is the provenance a receiver writes on a copy shipped from another region
//    (data-plane/persistent/shipping/provenance.ts): RegionDedup and the digest trust it, so a
//    client (or an in-process caller copying an event's headers, e.g. a dead letter) must not set
//    it. It is stripped (any letter case), for every stream.
//  - A stream placed in more than one region keeps one header slot free for it: a publish with
//    more than `eventHeadersMax − 1` headers (the stored `Rg-Subject` included) is refused
//    RG_ERR_INVALID_ARGUMENT; a receiver could not ship the event otherwise.
import { persistentLimits, sourceHeader } from '../../data-plane/persistent/index.js'
import type { EventHeader } from '../../data-plane/persistent/index.js'

/** Headers a publish into a multi-region stream may carry at most. */
export const multiRegionHeadersMax = persistentLimits.eventHeadersMax - 1

const sourceHeaderLower = sourceHeader.toLowerCase()

export type IntakeOutcome = { readonly ok: true; readonly headers: readonly EventHeader[] } | { readonly ok: false; readonly code: 'RG_ERR_INVALID_ARGUMENT'; readonly message: string }

/** The headers kept for the event, or why the publish is refused. `regions`: the stream's regions. */
export function intakeHeaders(stream: string, headers: readonly EventHeader[], regions: number): IntakeOutcome {
  const kept = headers.some(([key]) => key.toLowerCase() === sourceHeaderLower) ? headers.filter(([key]) => key.toLowerCase() !== sourceHeaderLower) : headers
  if (regions > 1 && kept.length > multiRegionHeadersMax) {
    return {
      ok: false,
      code: 'RG_ERR_INVALID_ARGUMENT',
      message: `stream ${stream} is placed in ${regions} regions: at most ${multiRegionHeadersMax} headers per event, Rg-Subject included (${kept.length} given): one of the ${persistentLimits.eventHeadersMax} slots is kept for ${sourceHeader}, the provenance of a shipped copy`,
    }
  }
  return { ok: true, headers: kept }
}
