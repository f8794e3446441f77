// The join exchange on the transport's `admin` channel. A node that is not in its own seed list
// (so not an initial voter) sends a join request carrying its `addNode` fields to the seeds until
// one answers. The receiver proposes `addNode` (Raft forwards it to the leader) and answers with
// its current Raft configuration: the joiner bootstraps with it, so replaying the leader's log
// (or restoring its snapshot) yields the cluster's configuration. Frames are JSON; a frame that
// is not one of these messages is ignored (the channel may carry other admin traffic).
import { z } from 'zod'

/** Bytes of one join frame at most (a request carries a few addresses and tags). */
export const joinFrameBytesMax = 64 * 1024

const addNodeFields = z.strictObject({
  nodeId: z.string().max(256),
  clientAddress: z.string().max(512),
  peerAddress: z.string().max(512),
  adminAddress: z.string().max(512),
  region: z.string().max(256),
  masterEligible: z.boolean(),
  tags: z.record(z.string().max(256), z.string().max(256)),
})

const joinRequest = z.strictObject({ rg: z.literal('joinRequest'), requestId: z.number().int().nonnegative(), node: addNodeFields })
const joinReply = z.strictObject({
  rg: z.literal('joinReply'),
  requestId: z.number().int().nonnegative(),
  ok: z.boolean(),
  /** The receiver's Raft configuration (voters, learners) when ok. */
  voters: z.array(z.string().max(256)).max(1024),
  learners: z.array(z.string().max(256)).max(1024),
  /** Why not, when not ok. */
  message: z.string().max(4096),
})

const joinMessage = z.discriminatedUnion('rg', [joinRequest, joinReply])

export type AddNodeFields = z.infer<typeof addNodeFields>
export type JoinRequest = z.infer<typeof joinRequest>
export type JoinReply = z.infer<typeof joinReply>
export type JoinMessage = z.infer<typeof joinMessage>

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeJoinMessage(message: JoinMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message))
}

/** The message, or undefined when the frame is not a (well-formed) join message. */
export function decodeJoinMessage(payload: Uint8Array): JoinMessage | undefined {
  if (payload.length === 0 || payload.length > joinFrameBytesMax || payload[0] !== 0x7b /* { */) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(payload))
  } catch {
    return undefined
  }
  const result = joinMessage.safeParse(parsed)
  return result.success ? result.data : undefined
}
