// Free loopback ports for benchmark and test processes: drawn from below the kernel's ephemeral
// range and checked by binding (see server/cluster/reserve-port.ts for why).
import { reservePort } from '../../server/cluster/reserve-port.js'

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return reservePort('127.0.0.1')
}
