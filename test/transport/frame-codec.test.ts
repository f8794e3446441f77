// Frame codec: fixtures whole and byte at a time, property round trips over random chunking,
// and a fuzzer over random and mutated bytes (no crash, bounded memory, clear error).
import t from 'tap'
import fc from 'fast-check'
import { FrameDecoder, encodeFrame, frameHeaderBytes } from '../../shared/transport/frame-codec.js'
import type { DecodedFrame, FrameError } from '../../shared/transport/frame-codec.js'

function decodeAll(decoder: FrameDecoder, chunks: readonly Uint8Array[]): { frames: DecodedFrame[]; error: FrameError | null } {
  const frames: DecodedFrame[] = []
  let error: FrameError | null = null
  for (const chunk of chunks) {
    error = decoder.push(chunk, (frame) => frames.push(frame))
    if (error !== null) break
  }
  return { frames, error }
}

function bytesOneByOne(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (byte) => Uint8Array.of(byte))
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

t.test('fixture: header layout is u32 big-endian length (channel + payload), u8 channel, payload', async (t) => {
  const frame = encodeFrame(2, Uint8Array.of(0xaa, 0xbb, 0xcc))
  t.same([...frame], [0, 0, 0, 4, 2, 0xaa, 0xbb, 0xcc])
  t.same([...encodeFrame(0, new Uint8Array(0))], [0, 0, 0, 1, 0], 'empty payload is a 1-byte frame')
})

t.test('fixtures decode the same whole and one byte at a time', async (t) => {
  const fixtures = [
    [encodeFrame(1, Uint8Array.of(1, 2, 3))],
    [encodeFrame(0, new Uint8Array(0)), encodeFrame(3, new Uint8Array(300).fill(9))],
    [encodeFrame(1, new TextEncoder().encode('raft')), encodeFrame(2, new TextEncoder().encode('data')), encodeFrame(255, Uint8Array.of(0))],
  ]
  for (const fixture of fixtures) {
    const stream = concat(fixture)
    const whole = decodeAll(new FrameDecoder(), [stream])
    const byteWise = decodeAll(new FrameDecoder(), bytesOneByOne(stream))
    t.equal(whole.error, null)
    t.equal(byteWise.error, null)
    t.equal(whole.frames.length, fixture.length)
    t.same(byteWise.frames, whole.frames, 'byte-at-a-time matches whole')
  }
})

t.test('property: any frames, any chunking, round trip', async () => {
  const frameArb = fc.record({ channelByte: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 600 }) })
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 50 }), (frames, cuts) => {
      const stream = concat(frames.map((f) => encodeFrame(f.channelByte, f.payload)))
      const chunks: Uint8Array[] = []
      let offset = 0
      let cutIndex = 0
      while (offset < stream.byteLength) {
        const size = cuts[cutIndex % cuts.length]!
        chunks.push(stream.subarray(offset, offset + size))
        offset += size
        cutIndex += 1
      }
      const decoder = new FrameDecoder(1024)
      const result = decodeAll(decoder, chunks)
      if (result.error !== null) throw new Error(result.error.message)
      if (result.frames.length !== frames.length) throw new Error('frame count differs')
      result.frames.forEach((decoded, i) => {
        const original = frames[i]!
        if (decoded.channelByte !== original.channelByte) throw new Error('channel differs')
        if (Buffer.compare(Buffer.from(decoded.payload), Buffer.from(original.payload)) !== 0) throw new Error('payload differs')
      })
      if (decoder.bufferedBytes() !== 0) throw new Error('bytes left over after whole frames')
    }),
    { numRuns: 300 },
  )
})

t.test('a zero length and an oversized length are clear, sticky errors', async (t) => {
  const empty = new FrameDecoder(100)
  t.match(empty.push(Uint8Array.of(0, 0, 0, 0), () => t.fail('no frame')), { kind: 'emptyFrame' })
  t.match(empty.push(encodeFrame(1, Uint8Array.of(1)), () => t.fail('stays failed')), { kind: 'emptyFrame' }, 'sticky')

  const large = new FrameDecoder(100)
  const error = large.push(Uint8Array.of(0, 0, 0, 101), () => t.fail('no frame'))
  t.match(error, { kind: 'frameTooLarge', message: /101 bytes exceeds the limit of 100/ })
  t.equal(large.bufferedBytes(), 0, 'nothing allocated for the announced frame')

  const fits = new FrameDecoder(100)
  const frames: DecodedFrame[] = []
  t.equal(fits.push(encodeFrame(1, new Uint8Array(99)), (f) => frames.push(f)), null)
  t.equal(frames.length, 1, 'exactly the limit is accepted')
  t.throws(() => encodeFrame(1, new Uint8Array(100), 100), RangeError, 'encoding over the limit is a caller bug')
})

t.test('the limit can be raised between frames (after a handshake)', async (t) => {
  const decoder = new FrameDecoder(10)
  const frames: DecodedFrame[] = []
  const stream = concat([encodeFrame(0, new Uint8Array(5)), encodeFrame(1, new Uint8Array(50))])
  const error = decoder.push(stream, (frame) => {
    frames.push(frame)
    decoder.setFrameBytesMax(1000)
  })
  t.equal(error, null)
  t.equal(frames.length, 2)
})

t.test('fuzz: random bytes never crash, memory stays bounded, errors are named', async () => {
  const frameBytesMax = 4096
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 512 }), { maxLength: 30 }), (chunks) => {
      const decoder = new FrameDecoder(frameBytesMax)
      for (const chunk of chunks) {
        const error = decoder.push(chunk, (frame) => {
          if (frame.payload.byteLength > frameBytesMax - 1) throw new Error('frame over the limit emitted')
        })
        if (decoder.bufferedBytes() > frameBytesMax) throw new Error(`buffered ${decoder.bufferedBytes()} bytes`)
        if (error !== null && error.kind !== 'emptyFrame' && error.kind !== 'frameTooLarge') throw new Error('unnamed error')
        if (error !== null) break
      }
    }),
    { numRuns: 500 },
  )
})

t.test('fuzz: mutated valid streams (flipped bytes, truncation) decode or fail cleanly', async () => {
  const frameBytesMax = 2048
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 6 }),
      fc.nat(),
      (payloads, flips, cut) => {
        const stream = concat(payloads.map((p, i) => encodeFrame(i % 4, p)))
        for (const flip of flips) stream[flip.at % stream.byteLength]! ^= flip.xor
        const truncated = stream.subarray(0, cut % (stream.byteLength + 1))
        const decoder = new FrameDecoder(frameBytesMax)
        let totalPayloadBytes = 0
        decoder.push(truncated, (frame) => (totalPayloadBytes += frame.payload.byteLength))
        if (totalPayloadBytes + decoder.bufferedBytes() > truncated.byteLength) throw new Error('more bytes out than in')
        if (decoder.bufferedBytes() > frameBytesMax) throw new Error('unbounded buffering')
      },
    ),
    { numRuns: 500 },
  )
})

t.test('header bytes constant matches the layout', async (t) => {
  t.equal(frameHeaderBytes, 5)
})
