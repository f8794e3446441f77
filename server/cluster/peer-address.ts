// Peer addresses and seed entries: `host:port`, `[v6]:port`, seeds as `nodeId@host:port`, and
// peer routes as `nodeId=host:port`.
// Pure parsing with errors as values; `cluster-settings.ts` turns them into config errors.
import { nodeIdFromAddress } from './node-id.js'

export interface HostPort {
  readonly host: string
  readonly port: number
}

export interface Seed extends HostPort {
  /** The `nodeId@` part, else the hash of `host:port` (what the seed derives for itself). */
  readonly nodeId: string
  /** True when the entry named the id. */
  readonly explicitId: boolean
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string }

/** `host:port` (IPv6 in brackets) with a port in 1..65535. */
export function parseHostPort(text: string): Parsed<HostPort> {
  const trimmed = text.trim()
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:@/[\]]+)):(\d{1,5})$/.exec(trimmed)
  if (match === null) return { ok: false, problem: `"${text}" is not host:port` }
  const port = Number(match[3])
  if (port < 1 || port > 65535) return { ok: false, problem: `"${text}": port ${port} is out of range (1-65535)` }
  return { ok: true, value: { host: match[1] ?? match[2] ?? '', port } }
}

/** The canonical text of an address: what ids are derived from. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

/** A seed entry: `host:port` or `nodeId@host:port`. The id's name rules are checked by the caller. */
export function parseSeed(entry: string): Parsed<Seed> {
  const at = entry.indexOf('@')
  const idPart = at === -1 ? '' : entry.slice(0, at).trim()
  if (at !== -1 && idPart.length === 0) return { ok: false, problem: `"${entry}": empty node id before "@"` }
  const address = parseHostPort(at === -1 ? entry : entry.slice(at + 1))
  if (!address.ok) return { ok: false, problem: `seed ${address.problem} (expected host:port or nodeId@host:port)` }
  const nodeId = idPart === '' ? nodeIdFromAddress(formatHostPort(address.value)) : idPart
  return { ok: true, value: { ...address.value, nodeId, explicitId: idPart !== '' } }
}

export interface PeerRoute extends HostPort {
  readonly nodeId: string
}

/** A peer route: `nodeId=host:port` (dial that node there). The id's name rules are checked by the caller. */
export function parsePeerRoute(entry: string): Parsed<PeerRoute> {
  const equals = entry.indexOf('=')
  if (equals === -1) return { ok: false, problem: `"${entry}" is not nodeId=host:port` }
  const nodeId = entry.slice(0, equals).trim()
  if (nodeId.length === 0) return { ok: false, problem: `"${entry}": empty node id before "="` }
  const address = parseHostPort(entry.slice(equals + 1))
  if (!address.ok) return { ok: false, problem: `route ${address.problem} (expected nodeId=host:port)` }
  return { ok: true, value: { ...address.value, nodeId } }
}

/** The host others reach a listener bound to `bindHost` at: a wildcard becomes 127.0.0.1. */
export function reachableHost(bindHost: string): string {
  return bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '' ? '127.0.0.1' : bindHost
}
