// A bounded FIFO of encoded frames waiting for the socket, drained in coalesced chunks
// (many small frames become one write). Pure: the connection decides when to drain.

export interface OutboundLimits {
  /** Most frames waiting per peer. */
  readonly framesMax: number
  /** Most bytes waiting per peer (headers included). */
  readonly bytesMax: number
  /** Largest single write built from several frames (a larger frame is written alone). */
  readonly coalesceBytesMax: number
}

export const defaultOutboundLimits: OutboundLimits = {
  framesMax: 10_000,
  bytesMax: 32 * 1024 * 1024,
  coalesceBytesMax: 256 * 1024,
}

export class OutboundQueue {
  private frames: Uint8Array[] = []
  private head = 0
  private queuedBytes = 0

  constructor(readonly limits: OutboundLimits) {}

  get frameCount(): number {
    return this.frames.length - this.head
  }

  get byteCount(): number {
    return this.queuedBytes
  }

  /** False (and nothing queued) when the frame would exceed either bound. */
  push(frame: Uint8Array): boolean {
    if (this.frameCount + 1 > this.limits.framesMax) return false
    if (this.queuedBytes + frame.byteLength > this.limits.bytesMax) return false
    this.frames.push(frame)
    this.queuedBytes += frame.byteLength
    return true
  }

  /** Removes and returns the next write: one or more whole frames, concatenated. */
  takeChunk(): Uint8Array | undefined {
    if (this.frameCount === 0) return undefined
    const first = this.frames[this.head]!
    let endIndex = this.head + 1
    let chunkBytes = first.byteLength
    while (endIndex < this.frames.length && chunkBytes + this.frames[endIndex]!.byteLength <= this.limits.coalesceBytesMax) {
      chunkBytes += this.frames[endIndex]!.byteLength
      endIndex += 1
    }
    let chunk: Uint8Array
    if (endIndex === this.head + 1) {
      chunk = first
    } else {
      chunk = new Uint8Array(chunkBytes)
      let offset = 0
      for (let i = this.head; i < endIndex; i += 1) {
        chunk.set(this.frames[i]!, offset)
        offset += this.frames[i]!.byteLength
      }
    }
    this.head = endIndex
    this.queuedBytes -= chunkBytes
    this.compact()
    return chunk
  }

  clear(): void {
    this.frames = []
    this.head = 0
    this.queuedBytes = 0
  }

  private compact(): void {
    if (this.head === this.frames.length) {
      this.frames = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head)
      this.head = 0
    }
  }
}
