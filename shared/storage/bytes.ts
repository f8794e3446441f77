// Byte helpers shared by the storage implementations.

/** Byte-wise order: negative when a < b. Matches RocksDB's default comparator. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

export function copyBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes)
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export const utf8Bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8')
