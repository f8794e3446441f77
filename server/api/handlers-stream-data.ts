// Data verbs of persistent streams: STREAM.FETCH reads delivered events back from the node asked
// (its event store; no other node is consulted). An answer, not a subscription: consumer groups
// are the way to consume; this is for checks, tools and tests (docs/api.md § Publishing to a
// persistent stream).
import { apiDefaults, streamSubjectHeader } from '../../shared/api/index.js'
import type { HandlerContext, VerbHandler } from './handler-context.js'
import { failure } from './replies.js'
import type { ApiReply } from './replies.js'

/** Named limit: events in one STREAM.FETCH answer (and the default `max`). */
export const fetchEventsMax = 1_000

async function fetchEvents(context: HandlerContext, request: { namespace?: string | undefined; name: string; from?: number | undefined; max?: number | undefined }): Promise<ApiReply> {
  const key = `${request.namespace ?? apiDefaults.namespace}/${request.name}`
  const data = context.streamData?.()
  const delivered = data?.deliveredCount(key)
  if (data === undefined || delivered === undefined) return failure('RG_ERR_NOT_FOUND', `stream ${key}: no persistent stream open on this node`, { stream: key })
  const from = request.from ?? 0
  const reading = data.fetch(key, from, Math.min(request.max ?? fetchEventsMax, fetchEventsMax))
  if (reading === undefined) return failure('RG_ERR_NOT_FOUND', `stream ${key}: no persistent stream open on this node`, { stream: key })
  const stored = await reading
  const events = stored.map(({ index, event }) => {
    const subject = event.headers.find(([header]) => header === streamSubjectHeader)?.[1]
    return {
      index,
      id: event.id,
      ...(subject === undefined ? {} : { subject }),
      origin: event.origin,
      incarnation: event.incarnation,
      seq: event.originSeq,
      hlc: { wallMs: event.hlc.wallMs, logical: event.hlc.logical },
      headers: event.headers.filter(([header]) => header !== streamSubjectHeader).map(([header, value]) => [header, value]),
      data: Buffer.from(event.payload).toString('base64'),
    }
  })
  const next = stored.length === 0 ? Math.max(from, 0) : (stored.at(-1)?.index ?? from) + 1
  return { ok: true, stream: key, events, next, delivered }
}

export const streamDataHandlers: { readonly 'STREAM.FETCH': VerbHandler<'STREAM.FETCH'> } = {
  'STREAM.FETCH': fetchEvents,
}
