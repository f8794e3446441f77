// Typed views of the JSON argument of CONNECT and INFO. Pure: no node:* imports.
// A field of the wrong JSON type is an error (nats-server's json.Unmarshal fails the same way);
// null counts as absent; unknown fields are kept.
import { protocolLimits } from './types.js'
import type { ConnectOptions, ServerInfo } from './types.js'

type FieldType = 'boolean' | 'string' | 'number' | 'string[]'

const connectFieldTypes: Readonly<Record<string, FieldType>> = {
  verbose: 'boolean',
  pedantic: 'boolean',
  tls_required: 'boolean',
  auth_token: 'string',
  user: 'string',
  pass: 'string',
  name: 'string',
  lang: 'string',
  version: 'string',
  protocol: 'number',
  echo: 'boolean',
  headers: 'boolean',
  no_responders: 'boolean',
}

const infoFieldTypes: Readonly<Record<string, FieldType>> = {
  server_id: 'string',
  server_name: 'string',
  version: 'string',
  proto: 'number',
  go: 'string',
  host: 'string',
  port: 'number',
  headers: 'boolean',
  max_payload: 'number',
  client_id: 'number',
  client_ip: 'string',
  auth_required: 'boolean',
  tls_required: 'boolean',
  tls_available: 'boolean',
  connect_urls: 'string[]',
}

/** Defaults for INFO fields the contract requires but an older or foreign server may omit. */
const infoDefaults = {
  server_id: '',
  server_name: '',
  version: '',
  proto: 1,
  host: '',
  port: 0,
  headers: false,
  max_payload: protocolLimits.payloadBytesMaxDefault,
} as const

function hasType(value: unknown, type: FieldType): boolean {
  if (type === 'string[]') return Array.isArray(value) && value.every((v) => typeof v === 'string')
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value)
  return typeof value === type
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Copies the typed fields present in `json`; returns a reason string on a type mismatch. */
function typedFields(
  json: Record<string, unknown>,
  types: Readonly<Record<string, FieldType>>,
): Record<string, unknown> | string {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(types)) {
    const value = json[key]
    if (value === undefined || value === null) continue
    const type = types[key] as FieldType
    if (!hasType(value, type)) return `field ${key} should be a ${type}`
    out[key] = value
  }
  return out
}

/** CONNECT's JSON as ConnectOptions (every field kept in `raw`), or the reason it is malformed. */
export function connectOptionsFrom(json: unknown): ConnectOptions | string {
  if (!isRecord(json)) return 'CONNECT argument is not a JSON object'
  const fields = typedFields(json, connectFieldTypes)
  if (typeof fields === 'string') return `CONNECT ${fields}`
  return { ...fields, raw: json } as ConnectOptions
}

/** INFO's JSON as ServerInfo (unknown fields kept, missing required ones defaulted), or why not. */
export function serverInfoFrom(json: unknown): ServerInfo | string {
  if (!isRecord(json)) return 'INFO argument is not a JSON object'
  const fields = typedFields(json, infoFieldTypes)
  if (typeof fields === 'string') return `INFO ${fields}`
  // Unknown fields pass through as sent; known ones only as typed (so a null never replaces a default).
  const extras: Record<string, unknown> = { ...json }
  for (const key of Object.keys(infoFieldTypes)) delete extras[key]
  return { ...infoDefaults, ...extras, ...fields } as ServerInfo
}

/** The JSON object CONNECT writes: `raw` overlaid with the typed fields (which win). */
export function connectOptionsJson(options: ConnectOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options.raw }
  for (const key of Object.keys(connectFieldTypes)) {
    const value = (options as unknown as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out
}
