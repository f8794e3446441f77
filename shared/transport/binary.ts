// Tiny bounds-checked binary writer/reader for the transport's control messages.
// Every read checks the remaining length first: a short or corrupt buffer is a BinaryReadError,
// never an out-of-range read or an allocation larger than the input.

export class BinaryReadError extends Error {
  override readonly name = 'BinaryReadError'
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`)
  }
}

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export class BinaryWriter {
  private readonly parts: Uint8Array[] = []
  private byteCount = 0

  u8(value: number): this {
    return this.push(Uint8Array.of(value & 0xff))
  }

  u16(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`u16 out of range: ${value}`)
    return this.push(Uint8Array.of(value >>> 8, value & 0xff))
  }

  /** u16 length + bytes. */
  bytes16(value: Uint8Array): this {
    this.u16(value.byteLength)
    return this.push(value)
  }

  /** u16 length + UTF-8 bytes. */
  string16(value: string): this {
    return this.bytes16(utf8Encoder.encode(value))
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.byteCount)
    let offset = 0
    for (const part of this.parts) {
      out.set(part, offset)
      offset += part.byteLength
    }
    return out
  }

  private push(part: Uint8Array): this {
    this.parts.push(part)
    this.byteCount += part.byteLength
    return this
  }
}

export class BinaryReader {
  private offset = 0
  constructor(private readonly bytes: Uint8Array) {}

  remaining(): number {
    return this.bytes.byteLength - this.offset
  }

  u8(what: string): number {
    this.need(1, what)
    const value = this.bytes[this.offset]!
    this.offset += 1
    return value
  }

  u16(what: string): number {
    this.need(2, what)
    const value = this.bytes[this.offset]! * 256 + this.bytes[this.offset + 1]!
    this.offset += 2
    return value
  }

  bytes16(what: string): Uint8Array {
    const length = this.u16(`${what} length`)
    this.need(length, what)
    const value = this.bytes.slice(this.offset, this.offset + length)
    this.offset += length
    return value
  }

  string16(what: string): string {
    const start = this.offset
    const raw = this.bytes16(what)
    try {
      return utf8Decoder.decode(raw)
    } catch (cause) {
      throw new BinaryReadError(`${what} is not valid UTF-8: ${String(cause)}`, start)
    }
  }

  /** Trailing bytes mean a different layout than the reader expects. */
  end(what: string): void {
    if (this.remaining() !== 0) throw new BinaryReadError(`${this.remaining()} unexpected trailing bytes after ${what}`, this.offset)
  }

  private need(byteCount: number, what: string): void {
    if (this.remaining() < byteCount) {
      throw new BinaryReadError(`truncated ${what}: need ${byteCount} bytes, ${this.remaining()} left`, this.offset)
    }
  }
}
