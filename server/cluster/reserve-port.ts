// Finding a free port to bind a moment later (`--peer-port 0`, `railgun dev`, test clusters): the
// node id may derive from the peer port, and the transport needs the id before it listens.
//
// The port is chosen BELOW the kernel's ephemeral range (Linux: 32768-60999, read from
// /proc/sys/net/ipv4/ip_local_port_range when present), then checked by binding it. A port from
// `listen(0)` would come from the ephemeral range, where every outgoing connection and every
// other `listen(0)` on the machine also draws: between "found" and "bound" it is often taken
// (seen with several clusters, proxies and clients starting at once). Below the range only
// another reservation can collide: a reservation also claims the port for a while with a marker
// file (created exclusively in `<tmpdir>/railgun-port-claims/`), so two processes reserving at
// the same time (parallel test files, `railgun dev`) do not pick the same port before either
// binds it.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'

/** Where reservations are drawn from when the ephemeral range is unknown or leaves no room below. */
export const reservedPortRange = { low: 20_000, high: 32_767 } as const
const attemptsMax = 64
/** How long a claim keeps other reservations off a port (time enough for its owner to bind it). */
export const portClaimMs = 120_000
const claimDirectory = join(tmpdir(), 'railgun-port-claims')

/** Claims `port` for `portClaimMs` across processes; false when someone else claimed it recently. */
function claim(port: number): boolean {
  const path = join(claimDirectory, String(port))
  try {
    mkdirSync(claimDirectory, { recursive: true })
    closeSync(openSync(path, 'wx'))
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return true // no claims possible here: rely on the bind check
  }
  try {
    if (Date.now() - statSync(path).mtimeMs < portClaimMs) return false
    unlinkSync(path) // a stale claim: take it over
    closeSync(openSync(path, 'wx'))
    return true
  } catch {
    return false // someone took it over first
  }
}

function rangeBelowEphemeral(): { low: number; high: number } {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low !== undefined && Number.isInteger(low) && low - 1 - reservedPortRange.low >= 1_000) return { low: reservedPortRange.low, high: low - 1 }
  } catch {
    // Not Linux (or no procfs): keep the default range.
  }
  return { ...reservedPortRange }
}

function tryBind(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen(port, host, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(bound > 0 ? bound : undefined))
    })
  })
}

/** A port that was free on `host` a moment ago, from below the ephemeral range (else any free port). */
export async function reservePort(host: string): Promise<number> {
  const { low, high } = rangeBelowEphemeral()
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const candidate = low + Math.floor(Math.random() * (high - low + 1))
    if (!claim(candidate)) continue
    const port = await tryBind(host, candidate)
    if (port !== undefined) return port
  }
  const port = await tryBind(host, 0)
  if (port === undefined) throw new Error(`no free port on ${host}`)
  return port
}
