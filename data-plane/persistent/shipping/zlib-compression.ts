// The batch-body compressions of the shipping codec, on node:zlib's synchronous API. The one
// file of this folder that imports a node:* module (README: zlib is deterministic CPU work — no
// I/O, clock or randomness — so the codec's tests and the simulator use it as is). Decompression
// is capped at the announced raw size (`maxOutputLength`): a body that inflates further is refused,
// so a small frame cannot expand into unbounded memory.
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import type { ShipCompression } from './codec.js'

/** zlib level: 6 is zlib's default balance of speed and ratio. */
const deflateLevel = 6
/** Brotli quality: 5 keeps compression fast enough for a shipping path (11, the default, is for static assets). */
const brotliQuality = 5

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

export const deflateRawCompression: ShipCompression = {
  id: 1,
  name: 'deflate-raw',
  compress: (raw) => view(deflateRawSync(raw, { level: deflateLevel })),
  decompress: (body, rawBytes) => view(inflateRawSync(body, { maxOutputLength: Math.max(1, rawBytes) })),
}

export const brotliCompression: ShipCompression = {
  id: 2,
  name: 'brotli',
  compress: (raw) => view(brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: brotliQuality, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })),
  decompress: (body, rawBytes) => view(brotliDecompressSync(body, { maxOutputLength: Math.max(1, rawBytes) })),
}

export const shipCompressions: readonly ShipCompression[] = [deflateRawCompression, brotliCompression]
