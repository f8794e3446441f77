// A one-line progress bar on stderr while the geo benchmark runs — only when stderr is a
// terminal (a pipe, a CI log or the smoke test get nothing), redrawn at most every
// `redrawIntervalMs`, cleared before any other line is printed.

export const progressLimits = {
  redrawIntervalMs: 200,
  barWidth: 28,
} as const

export interface Progress {
  /** `fraction` 0..1 of the current phase; `detail()` (called only when the line is redrawn) is printed after the bar. */
  update(phase: string, fraction: number, detail: () => string): void
  /** Clears the line (call before printing anything else). */
  clear(): void
}

export function createProgress(stream: NodeJS.WriteStream, now: () => number = () => Date.now()): Progress {
  if (stream.isTTY !== true) return { update: () => undefined, clear: () => undefined }
  let lastDrawMs = Number.NEGATIVE_INFINITY
  let drawn = false
  return {
    update(phase, fraction, detail) {
      const at = now()
      if (at - lastDrawMs < progressLimits.redrawIntervalMs && fraction < 1) return
      lastDrawMs = at
      const share = Math.max(0, Math.min(1, fraction))
      const filled = Math.round(share * progressLimits.barWidth)
      const bar = `${'█'.repeat(filled)}${'░'.repeat(progressLimits.barWidth - filled)}`
      const columns = stream.columns ?? 120
      const line = `${phase} ${bar} ${(share * 100).toFixed(0).padStart(3)}% ${detail()}`
      stream.write(`\r\x1b[2K${line.slice(0, Math.max(10, columns - 1))}`)
      drawn = true
    },
    clear() {
      if (!drawn) return
      stream.write('\r\x1b[2K')
      drawn = false
    },
  }
}
