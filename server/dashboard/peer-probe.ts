// Readiness of the other nodes, for the dashboard: while someone watches (a snapshot was built in
// the last `probeIdleStopMs`), every `probeIntervalMs` this node asks each other node's admin
// endpoint `GET /readyz` (open even with access control on) and keeps the answer. A node that
// does not answer within `probeTimeoutMs` is shown as unreachable. Nothing runs while nobody looks.

export const probeIntervalMs = 2_000
export const probeTimeoutMs = 1_000
/** The probe stops this long after the last snapshot that asked for it. */
export const probeIdleStopMs = 30_000
/** Named limit: nodes probed per round. */
export const probeNodesMax = 64

export interface ProbeResult {
  readonly ready: boolean | null
  readonly reason?: string
  readonly checkedAtMs: number
}

export interface ProbeTarget {
  readonly id: string
  /** `host:port` or a URL of the node's admin endpoint. */
  readonly adminAddress: string
}

function readyzUrl(adminAddress: string): string {
  const base = /^https?:\/\//.test(adminAddress) ? adminAddress : `http://${adminAddress}`
  return `${base.replace(/\/+$/, '')}/readyz`
}

export class PeerProbe {
  readonly #results = new Map<string, ProbeResult>()
  #targets: readonly ProbeTarget[] = []
  #lastWantedMs = 0
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined
  #closed = false

  constructor(private readonly nowMs: () => number) {}

  /** Marks the probe as wanted for these nodes (starts it if idle) and returns what is known. */
  want(targets: readonly ProbeTarget[]): ReadonlyMap<string, ProbeResult> {
    this.#targets = targets.slice(0, probeNodesMax)
    this.#lastWantedMs = this.nowMs()
    if (this.#timer === undefined && !this.#closed) {
      this.#runRound()
      this.#timer = setInterval(() => {
        if (this.nowMs() - this.#lastWantedMs > probeIdleStopMs) this.#stopTimer()
        else this.#runRound()
      }, probeIntervalMs)
      this.#timer.unref()
    }
    return this.#results
  }

  #runRound(): void {
    if (this.#round !== undefined) return // the previous round is still waiting for answers
    const targets = this.#targets
    this.#round = Promise.all(targets.map((target) => this.#probe(target))).then(() => {
      this.#round = undefined
      const wanted = new Set(targets.map((target) => target.id))
      for (const id of [...this.#results.keys()]) if (!wanted.has(id)) this.#results.delete(id)
    })
  }

  async #probe(target: ProbeTarget): Promise<void> {
    let result: ProbeResult
    try {
      const response = await fetch(readyzUrl(target.adminAddress), { signal: AbortSignal.timeout(probeTimeoutMs) })
      const body = (await response.json().catch(() => ({}))) as { ready?: unknown; reason?: unknown }
      const ready = response.status === 200 && body.ready === true
      result = { ready, checkedAtMs: this.nowMs(), ...(ready ? {} : { reason: typeof body.reason === 'string' ? body.reason : `HTTP ${response.status}` }) }
    } catch (error) {
      result = { ready: null, reason: `unreachable: ${(error as Error).message}`, checkedAtMs: this.nowMs() }
    }
    if (!this.#closed) this.#results.set(target.id, result)
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  close(): void {
    this.#closed = true
    this.#stopTimer()
  }
}
