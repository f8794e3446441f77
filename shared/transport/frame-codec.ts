// Length-prefixed binary frames: u32 big-endian length | u8 channel | payload.
// The length counts the channel byte plus the payload, so it is never 0.
// The decoder is resumable and byte-at-a-time safe (nats.js parser style): explicit states,
// a hard size limit, memory proportional to bytes actually received (a header announcing
// a large frame allocates nothing until those bytes arrive). Pure: no node:* imports.

/** Bytes of the length prefix. */
export const frameLengthBytes = 4
/** Bytes of the header: length prefix plus channel byte. */
export const frameHeaderBytes = frameLengthBytes + 1
/** Hard ceiling for any transport's configured frame size (channel byte + payload). */
export const frameBytesCeiling = 64 * 1024 * 1024
/** Default limit on one frame (channel byte + payload): 8 MiB. Larger values must be chunked. */
export const defaultFrameBytesMax = 8 * 1024 * 1024
/** The transport's own channel byte (handshake, heartbeat, goodbye). */
export const controlChannelByte = 0

export interface DecodedFrame {
  readonly channelByte: number
  readonly payload: Uint8Array
}

export const frameErrorKinds = ['emptyFrame', 'frameTooLarge'] as const
export type FrameErrorKind = (typeof frameErrorKinds)[number]

export interface FrameError {
  readonly kind: FrameErrorKind
  readonly message: string
}

/** Encodes one frame. A payload over `frameBytesMax - 1` is a caller bug: it throws. */
export function encodeFrame(channelByte: number, payload: Uint8Array, frameBytesMax = defaultFrameBytesMax): Uint8Array {
  if (!Number.isInteger(channelByte) || channelByte < 0 || channelByte > 255) {
    throw new RangeError(`frame channel byte must be 0..255, got ${channelByte}`)
  }
  const frameBytes = payload.byteLength + 1
  if (frameBytes > frameBytesMax) {
    throw new RangeError(`frame of ${frameBytes} bytes exceeds the limit of ${frameBytesMax}`)
  }
  const out = new Uint8Array(frameLengthBytes + frameBytes)
  new DataView(out.buffer).setUint32(0, frameBytes, false)
  out[frameLengthBytes] = channelByte
  out.set(payload, frameHeaderBytes)
  return out
}

export const frameDecoderStates = ['length', 'channel', 'payload', 'failed'] as const
type DecoderState = (typeof frameDecoderStates)[number]

/**
 * Resumable frame decoder. Feed it chunks of any size (one byte included); it calls `onFrame`
 * for each complete frame and returns null, or returns a FrameError and stays failed (every
 * later call returns the same error: the connection must be closed).
 */
export class FrameDecoder {
  private state: DecoderState = 'length'
  private lengthValue = 0
  private lengthBytesSeen = 0
  private frameBytes = 0
  private channelByte = 0
  private payloadChunks: Uint8Array[] = []
  private payloadBytesSeen = 0
  private error: FrameError | null = null

  private frameBytesMaxValue: number

  constructor(frameBytesMax: number = defaultFrameBytesMax) {
    this.frameBytesMaxValue = checkFrameBytesMax(frameBytesMax)
  }

  get frameBytesMax(): number {
    return this.frameBytesMaxValue
  }

  /** Change the limit for frames whose header has not been read yet (e.g. after a handshake). */
  setFrameBytesMax(frameBytesMax: number): void {
    this.frameBytesMaxValue = checkFrameBytesMax(frameBytesMax)
  }

  /** Bytes held for the frame in progress (bounded by frameBytesMax). */
  bufferedBytes(): number {
    return this.payloadBytesSeen
  }

  push(chunk: Uint8Array, onFrame: (frame: DecodedFrame) => void): FrameError | null {
    let offset = 0
    while (offset < chunk.byteLength) {
      switch (this.state) {
        case 'failed':
          return this.error
        case 'length': {
          this.lengthValue = this.lengthValue * 256 + chunk[offset]!
          offset += 1
          this.lengthBytesSeen += 1
          if (this.lengthBytesSeen === frameLengthBytes) {
            const failure = this.checkLength(this.lengthValue)
            if (failure !== null) return this.fail(failure)
            this.frameBytes = this.lengthValue
            this.lengthValue = 0
            this.lengthBytesSeen = 0
            this.state = 'channel'
          }
          break
        }
        case 'channel': {
          this.channelByte = chunk[offset]!
          offset += 1
          if (this.frameBytes === 1) this.emit(onFrame)
          else this.state = 'payload'
          break
        }
        case 'payload': {
          const wantedBytes = this.frameBytes - 1 - this.payloadBytesSeen
          const takeBytes = Math.min(wantedBytes, chunk.byteLength - offset)
          this.payloadChunks.push(chunk.subarray(offset, offset + takeBytes))
          this.payloadBytesSeen += takeBytes
          offset += takeBytes
          if (this.payloadBytesSeen === this.frameBytes - 1) this.emit(onFrame)
          break
        }
      }
    }
    return this.error
  }

  private checkLength(frameBytes: number): FrameError | null {
    if (frameBytes === 0) return { kind: 'emptyFrame', message: 'frame length 0 (a frame holds at least its channel byte)' }
    if (frameBytes > this.frameBytesMaxValue) {
      return { kind: 'frameTooLarge', message: `frame of ${frameBytes} bytes exceeds the limit of ${this.frameBytesMaxValue}` }
    }
    return null
  }

  private emit(onFrame: (frame: DecodedFrame) => void): void {
    const payload = concatChunks(this.payloadChunks, this.payloadBytesSeen)
    const channelByte = this.channelByte
    this.payloadChunks = []
    this.payloadBytesSeen = 0
    this.frameBytes = 0
    this.state = 'length'
    onFrame({ channelByte, payload })
  }

  private fail(error: FrameError): FrameError {
    this.state = 'failed'
    this.error = error
    this.payloadChunks = []
    this.payloadBytesSeen = 0
    return error
  }
}

function checkFrameBytesMax(frameBytesMax: number): number {
  if (!Number.isInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > frameBytesCeiling) {
    throw new RangeError(`frameBytesMax must be 1..${frameBytesCeiling}, got ${frameBytesMax}`)
  }
  return frameBytesMax
}

function concatChunks(chunks: readonly Uint8Array[], totalBytes: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!.slice()
  const out = new Uint8Array(totalBytes)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
