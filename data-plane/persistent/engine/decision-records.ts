// The replica's fences and close decisions as the event store's decision records
// (`append(…, {records})`, read back in append order with `store.records`). They are rare and
// small, so the value is UTF-8 JSON: `{"kind":"fence",…FenceRecord}` or `{"kind":"close",
// …CloseDecision}`. Written in the same synced batch as the events of the replica's
// `PersistBatch`, so a restart reads back exactly the decisions it vouched for
// (replica/README "Terms"). Decoding checks every field: a record that does not decode is a
// corrupt disk (the engine stops rather than run on it).
import { isValidHlc } from '../hlc.js'
import type { Hlc } from '../hlc.js'
import type { CloseDecision } from '../order.js'
import type { FenceRecord } from '../replica/types.js'

export type DecisionRecord = { readonly kind: 'fence'; readonly fence: FenceRecord } | { readonly kind: 'close'; readonly close: CloseDecision }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFenceRecord(fence: FenceRecord): Uint8Array {
  return encoder.encode(JSON.stringify({ kind: 'fence', origin: fence.origin, incarnation: fence.incarnation, controllerTerm: fence.controllerTerm, frozenSeq: fence.frozenSeq }))
}

export function encodeCloseRecord(close: CloseDecision): Uint8Array {
  return encoder.encode(JSON.stringify({ kind: 'close', ...closeJson(close) }))
}

/** A close decision as plain JSON (also the control plane's committed copy: stream-controller). */
export function closeJson(close: CloseDecision): Record<string, unknown> {
  return {
    origin: close.origin,
    incarnation: close.incarnation,
    atSeq: close.atSeq,
    controllerTerm: close.controllerTerm,
    ...(close.successor === undefined ? {} : { successor: { incarnation: close.successor.incarnation, fromHlc: { wallMs: close.successor.fromHlc.wallMs, logical: close.successor.fromHlc.logical } } }),
  }
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
const isString = (value: unknown): value is string => typeof value === 'string' && value.length > 0

function hlcOf(value: unknown): Hlc | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { wallMs, logical } = value as Record<string, unknown>
  const hlc = { wallMs, logical } as Hlc
  return isValidHlc(hlc) ? { wallMs: hlc.wallMs, logical: hlc.logical } : undefined
}

/** A close decision from plain JSON, or undefined when any field is missing or wrong. */
export function closeFromJson(value: unknown): CloseDecision | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  if (!isString(v.origin) || !isCount(v.incarnation) || v.incarnation < 1 || !isCount(v.atSeq) || !isCount(v.controllerTerm)) return undefined
  const base = { origin: v.origin, incarnation: v.incarnation, atSeq: v.atSeq, controllerTerm: v.controllerTerm }
  if (v.successor === undefined) return base
  if (typeof v.successor !== 'object' || v.successor === null) return undefined
  const s = v.successor as Record<string, unknown>
  const fromHlc = hlcOf(s.fromHlc)
  if (!isCount(s.incarnation) || s.incarnation < 1 || fromHlc === undefined) return undefined
  return { ...base, successor: { incarnation: s.incarnation, fromHlc } }
}

/** Decodes one record; throws on anything malformed (a corrupt disk: the engine must not run on it). */
export function decodeDecisionRecord(bytes: Uint8Array): DecisionRecord {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (error) {
    throw new Error(`persistent engine: a decision record does not decode (${(error as Error).message})`, { cause: error })
  }
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (v.kind === 'fence') {
    if (isString(v.origin) && isCount(v.incarnation) && v.incarnation >= 1 && isCount(v.controllerTerm) && isCount(v.frozenSeq)) {
      return { kind: 'fence', fence: { origin: v.origin, incarnation: v.incarnation, controllerTerm: v.controllerTerm, frozenSeq: v.frozenSeq } }
    }
  } else if (v.kind === 'close') {
    const close = closeFromJson(v)
    if (close !== undefined) return { kind: 'close', close }
  }
  throw new Error('persistent engine: a decision record is malformed')
}
