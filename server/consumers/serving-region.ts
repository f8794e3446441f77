// Which region's controller of a consumer group serves a request (issue #6 "consumer groups are
// per region"). Pure: judged on the regions of the stream's definition, the region the
// controller serves, and the region of the node the request came from (the node its client is
// connected to, from the applied cluster state).
//
// Each region of a multi-region stream runs its own controller of a group
// (`scc/<ns>/<stream>/<group>/<region>`), and all of them subscribe cluster-wide to the group's
// subjects (`$RG.C.<ns>.<stream>.<group>.>`), so every request reaches all of them. Exactly one
// answers:
//   - a request from a node of a region of the stream is served by that region's controller;
//   - a request from a node of a region where the stream is not placed is served by the
//     controller of the stream's FIRST region (the definition's `regions`, which the control
//     plane stores sorted: the alphabetically first one);
//   - a request whose sender node is unknown (not in the applied cluster state yet) is served by
//     none (the client's request times out and is retried once the state knows the node);
//   - a stream placed in one region (or none, while it goes away): every request, as before.
// Cluster routing forwards a client's publish directly from the node it is connected to (full
// mesh, one hop), so the sender node of a request is its client's node.

/** One request as a controller of the group sees it. */
export interface ServingQuestion {
  /** The regions of the stream's definition, in the definition's order (sorted by the control plane). */
  readonly streamRegions: readonly string[]
  /** The region whose controller asks. */
  readonly controllerRegion: string
  /** The region of the node the request came from; undefined: the node is not in the cluster state. */
  readonly senderRegion: string | undefined
}

/** The region whose controller serves a client connected in `senderRegion` (undefined: none). */
export function servingRegion(streamRegions: readonly string[], senderRegion: string | undefined): string | undefined {
  if (senderRegion === undefined) return undefined
  if (streamRegions.includes(senderRegion)) return senderRegion
  return streamRegions[0]
}

/** Whether the controller of `controllerRegion` serves this request. */
export function servesRequest(question: ServingQuestion): boolean {
  const { streamRegions, controllerRegion, senderRegion } = question
  if (streamRegions.length <= 1) return true
  return servingRegion(streamRegions, senderRegion) === controllerRegion
}
