// The outbound queue against a naive reference: same bytes out, in order, chunks bounded.
import t from 'tap'
import fc from 'fast-check'
import { OutboundQueue } from '../../shared/transport/outbound-queue.js'

t.test('property: drained chunks concatenate to the accepted frames, in order, within bounds', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 100, max: 5_000 }),
      fc.integer({ min: 50, max: 1_000 }),
      (frames, framesMax, bytesMax, coalesceBytesMax) => {
        const queue = new OutboundQueue({ framesMax, bytesMax, coalesceBytesMax })
        const accepted: number[] = []
        let queuedBytes = 0
        for (const frame of frames) {
          const fits = queue.frameCount + 1 <= framesMax && queuedBytes + frame.byteLength <= bytesMax
          if (queue.push(frame) !== fits) throw new Error('push disagrees with the bounds')
          if (fits) {
            accepted.push(...frame)
            queuedBytes += frame.byteLength
          }
        }
        if (queue.byteCount !== queuedBytes) throw new Error('byte count differs')
        const out: number[] = []
        for (let chunk = queue.takeChunk(); chunk !== undefined; chunk = queue.takeChunk()) {
          if (chunk.byteLength > Math.max(coalesceBytesMax, 300)) throw new Error('chunk over the coalescing bound')
          out.push(...chunk)
        }
        if (out.length !== accepted.length || out.some((byte, i) => byte !== accepted[i])) throw new Error('bytes differ')
        if (queue.frameCount !== 0 || queue.byteCount !== 0) throw new Error('not empty after draining')
      },
    ),
    { numRuns: 300 },
  )
})

t.test('small frames coalesce into one write; a large frame goes alone', async (t) => {
  const queue = new OutboundQueue({ framesMax: 100, bytesMax: 10_000, coalesceBytesMax: 10 })
  for (let i = 0; i < 5; i += 1) queue.push(Uint8Array.of(i, i))
  queue.push(new Uint8Array(50))
  t.same([...queue.takeChunk()!], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
  t.equal(queue.takeChunk()!.byteLength, 50)
  t.equal(queue.takeChunk(), undefined)
})
