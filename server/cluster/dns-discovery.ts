// Discovery through DNS SRV records: each record `priority weight port target` becomes a seed
// `target:port` (its id derived from that address, as the node there derives its own when it
// advertises the same `target:port`). Resolved at start and every `discoveryIntervalMs`.
import { promises as dns } from 'node:dns'
import { parseSeed } from './peer-address.js'
import type { Seed } from './peer-address.js'

export interface SrvRecord {
  readonly name: string
  readonly port: number
  readonly priority: number
  readonly weight: number
}

export type ResolveSrv = (name: string) => Promise<readonly SrvRecord[]>

/** Seeds from the SRV records of `name`, in (priority, target, port) order; unparsable records are skipped. */
export async function discoverSrvSeeds(name: string, resolveSrv: ResolveSrv = (srv) => dns.resolveSrv(srv)): Promise<Seed[]> {
  const records = [...(await resolveSrv(name))].sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port))
  const seeds: Seed[] = []
  for (const record of records) {
    const target = record.name.endsWith('.') ? record.name.slice(0, -1) : record.name
    const parsed = parseSeed(`${target}:${record.port}`)
    if (parsed.ok && !seeds.some((seed) => seed.nodeId === parsed.value.nodeId)) seeds.push(parsed.value)
  }
  return seeds
}
