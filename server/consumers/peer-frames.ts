// The consumer channel between nodes (transport channel `consumer`): a controller replicates its
// progress to the stream's other replicas in the region, a new controller gathers their copies,
// and a replica tells a stale controller that a newer term exists. JSON frames, versioned, every
// one validated (a malformed frame is dropped and counted, never trusted).
//
//   progress  controller → replica   {group, term, state}              merge into the copy (higher term wins)
//   gather    controller → replica   {group, term, requestId}          answer with the copy
//   gathered  replica → controller   {group, term, requestId, state?}  the copy (or none)
//   stale     replica → controller   {group, term}                     the replica saw `term` > the sender's
import { z } from 'zod'
import { ProgressState } from '../../data-plane/persistent/consumer/index.js'
import type { ProgressSnapshot } from '../../data-plane/persistent/consumer/index.js'
import { consumerFrameBytesMax } from './limits.js'

const group = z.string().min(1).max(1_024)
const term = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const requestId = z.string().min(1).max(128)

const frameSchema = z.discriminatedUnion('kind', [
  z.object({ v: z.literal(1), kind: z.literal('progress'), group, term, state: z.unknown() }),
  z.object({ v: z.literal(1), kind: z.literal('gather'), group, term, requestId }),
  z.object({ v: z.literal(1), kind: z.literal('gathered'), group, term, requestId, state: z.unknown().optional() }),
  z.object({ v: z.literal(1), kind: z.literal('stale'), group, term }),
])

export type ConsumerFrame =
  | { readonly kind: 'progress'; readonly group: string; readonly term: number; readonly state: ProgressState }
  | { readonly kind: 'gather'; readonly group: string; readonly term: number; readonly requestId: string }
  | { readonly kind: 'gathered'; readonly group: string; readonly term: number; readonly requestId: string; readonly state: ProgressState | undefined }
  | { readonly kind: 'stale'; readonly group: string; readonly term: number }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The frame's bytes, or undefined when it would be over `consumerFrameBytesMax`. */
export function encodeConsumerFrame(frame: ConsumerFrame): Uint8Array | undefined {
  let state: ProgressSnapshot | undefined
  if ((frame.kind === 'progress' || frame.kind === 'gathered') && frame.state !== undefined) state = frame.state.snapshot()
  const body = { v: 1, ...frame, ...(state === undefined ? {} : { state }) }
  const bytes = encoder.encode(JSON.stringify(body))
  return bytes.length > consumerFrameBytesMax ? undefined : bytes
}

export function decodeConsumerFrame(bytes: Uint8Array): ConsumerFrame | undefined {
  if (bytes.length > consumerFrameBytesMax) return undefined
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    return undefined
  }
  const parsed = frameSchema.safeParse(value)
  if (!parsed.success) return undefined
  const frame = parsed.data
  switch (frame.kind) {
    case 'gather':
    case 'stale':
      return frame
    case 'progress': {
      const state = ProgressState.decode(frame.state)
      if (!state.ok || state.value.term !== frame.term) return undefined
      return { kind: 'progress', group: frame.group, term: frame.term, state: state.value }
    }
    case 'gathered': {
      if (frame.state === undefined) return { kind: 'gathered', group: frame.group, term: frame.term, requestId: frame.requestId, state: undefined }
      const state = ProgressState.decode(frame.state)
      if (!state.ok) return undefined
      return { kind: 'gathered', group: frame.group, term: frame.term, requestId: frame.requestId, state: state.value }
    }
  }
}
