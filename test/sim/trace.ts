// The trace recorder: every simulated event becomes one line `timeMs kind detail`. The run's
// trace hash (two FNV-1a lanes, 64 bits) identifies the run: the same seed must give the same
// hash. Lines are kept only when asked (printing a trace); hashing is always on.

export class TraceRecorder {
  private laneA = 0x811c9dc5
  private laneB = 0x01000193 ^ 0x5bd1e995
  private eventCount = 0
  readonly lines: string[] | null

  constructor(options: { keepLines?: boolean; linesMax?: number } = {}) {
    this.lines = options.keepLines ? [] : null
    this.linesMax = options.linesMax ?? 5_000_000
  }
  private readonly linesMax: number

  record(timeMs: number, kind: string, detail: string): void {
    const line = `${timeMs} ${kind} ${detail}`
    this.eventCount++
    let a = this.laneA
    let b = this.laneB
    for (let i = 0; i < line.length; i++) {
      const code = line.charCodeAt(i)
      a = Math.imul(a ^ code, 0x01000193)
      b = Math.imul(b ^ code, 0x2f8b6d2d)
    }
    // Line separator, so ["ab","c"] and ["a","bc"] differ.
    this.laneA = Math.imul(a ^ 10, 0x01000193)
    this.laneB = Math.imul(b ^ 10, 0x2f8b6d2d)
    if (this.lines !== null && this.lines.length < this.linesMax) this.lines.push(line)
  }

  get count(): number {
    return this.eventCount
  }

  hash(): string {
    return (this.laneA >>> 0).toString(16).padStart(8, '0') + (this.laneB >>> 0).toString(16).padStart(8, '0')
  }
}
