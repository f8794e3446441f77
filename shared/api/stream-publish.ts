// Publishing to a persistent stream (docs/api.md § Publishing to a persistent stream): a plain
// NATS publish to the stream's subject (`<stream>` or `<stream>.<topic…>`) with a reply subject;
// the ack comes back as the reply, once the event is synced at the requested level.
import { z } from 'zod'
import { apiFailureSchema } from './responses.js'

/** Producer id: copies with the same id inside the stream's dedup window are duplicates. */
export const streamMsgIdHeader = 'Rg-Msg-Id'
/** Ack level: `write` | `majority` | `all` (case-insensitive); default the stream's `ackDefault`. */
export const streamAckHeader = 'Rg-Ack'
export const streamAckLevels = ['write', 'majority', 'all'] as const
export type StreamAckLevel = (typeof streamAckLevels)[number]

/**
 * The ack. `position`: the event's key in the stream's order as hex (positions compare as
 * strings in delivery order); `origin`/`incarnation`/`seq`: the node that wrote it, its life and
 * its sequence there; `duplicate`: an earlier copy of the same `Rg-Msg-Id` is inside the window.
 */
export const streamPublishAckSchema = z.looseObject({
  ok: z.literal(true),
  stream: z.string(),
  position: z.string().regex(/^[0-9a-f]+$/),
  origin: z.string(),
  incarnation: z.number().int().positive(),
  seq: z.number().int().positive(),
  hlc: z.object({ wallMs: z.number().int().nonnegative(), logical: z.number().int().nonnegative() }),
  duplicate: z.boolean(),
  level: z.enum(streamAckLevels),
})
export type StreamPublishAck = z.infer<typeof streamPublishAckSchema>

/** What the reply subject receives: the ack or the failure envelope. */
export const streamPublishReplySchema = z.union([streamPublishAckSchema, apiFailureSchema])

/** The subject a persistent event was published on, stored with it as a header. */
export const streamSubjectHeader = 'Rg-Subject'

/** One event of a `STREAM.FETCH` answer; `data` is the payload in base64. */
export const fetchedEventSchema = z.object({
  index: z.number().int().nonnegative(),
  id: z.string(),
  subject: z.string().optional(),
  origin: z.string(),
  incarnation: z.number().int().positive(),
  seq: z.number().int().positive(),
  hlc: z.object({ wallMs: z.number().int().nonnegative(), logical: z.number().int().nonnegative() }),
  headers: z.array(z.tuple([z.string(), z.string()])),
  data: z.string(),
})
export type FetchedEvent = z.infer<typeof fetchedEventSchema>

/** `STREAM.FETCH` answer: the events and the index to fetch from next. */
export const streamFetchResponseSchema = z.looseObject({
  ok: z.literal(true),
  stream: z.string(),
  events: z.array(fetchedEventSchema),
  next: z.number().int().nonnegative(),
  delivered: z.number().int().nonnegative(),
})
export type StreamFetchResponse = z.infer<typeof streamFetchResponseSchema>
