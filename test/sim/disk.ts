// A simulated disk holding one append-only journal of records per node (a write-ahead log).
// Writes land in a volatile buffer (the page cache) until `sync()`. A crash loses the volatile
// buffer, except that — with `tornTailProbability` — a random prefix of it survives, cut at a
// record boundary anywhere, which may keep some earlier unsynced writes whole and the last
// surviving write only in part (a torn tail). Records are atomic (a real log checksums each
// record and discards a torn one), so a record never survives half-written.

import type { SimRandom } from './random.js'
import type { TraceRecorder } from './trace.js'

export interface DiskConfig {
  /** Chance that a crash keeps some prefix of the unsynced records instead of none. */
  readonly tornTailProbability: number
  /** Bound on records held; exceeding it is a bug in the user (compact!), not a disk error. */
  readonly recordsMax: number
}

export const defaultDiskConfig: DiskConfig = { tornTailProbability: 0.5, recordsMax: 1_000_000 }

export class SimDisk<R> {
  private durableRecords: R[] = []
  private volatileRecords: R[] = []
  private readonly config: DiskConfig

  constructor(
    readonly name: string,
    private readonly random: SimRandom,
    private readonly trace: TraceRecorder,
    private readonly nowMs: () => number,
    config: Partial<DiskConfig> = {},
  ) {
    this.config = { ...defaultDiskConfig, ...config }
  }

  /** Append a batch; not durable until `sync()`. */
  write(records: readonly R[]): void {
    if (this.durableRecords.length + this.volatileRecords.length + records.length > this.config.recordsMax) {
      throw new Error(`SimDisk ${this.name}: more than ${this.config.recordsMax} records`)
    }
    this.volatileRecords.push(...records)
  }

  sync(): void {
    if (this.volatileRecords.length === 0) return
    this.durableRecords.push(...this.volatileRecords)
    this.volatileRecords = []
  }

  /** Atomically replace the whole journal, durably (write a new file, fsync, rename): compaction. */
  replaceDurably(records: readonly R[]): void {
    if (this.volatileRecords.length !== 0) throw new Error(`SimDisk ${this.name}: replace with unsynced writes pending`)
    this.durableRecords = [...records]
    this.trace.record(this.nowMs(), 'diskReplace', `${this.name} records=${records.length}`)
  }

  /** What the running process reads back: durable then volatile records. */
  read(): readonly R[] {
    return this.volatileRecords.length === 0 ? this.durableRecords : [...this.durableRecords, ...this.volatileRecords]
  }

  get unsyncedCount(): number {
    return this.volatileRecords.length
  }

  get recordCount(): number {
    return this.durableRecords.length + this.volatileRecords.length
  }

  /** Power loss: unsynced records vanish, or a random prefix of them survives (torn tail). */
  crash(): { readonly lost: number; readonly kept: number } {
    const unsynced = this.volatileRecords.length
    let kept = 0
    if (unsynced > 0 && this.random.chance(this.config.tornTailProbability)) kept = this.random.int(unsynced + 1)
    this.durableRecords.push(...this.volatileRecords.slice(0, kept))
    this.volatileRecords = []
    this.trace.record(this.nowMs(), 'diskCrash', `${this.name} kept=${kept} lost=${unsynced - kept}`)
    return { lost: unsynced - kept, kept }
  }
}
