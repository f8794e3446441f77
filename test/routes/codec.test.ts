// The route channel's frames (server/routes/codec.ts): forwarded messages, chunked snapshots and
// deltas round-trip (fast-check, non-ASCII subjects included); fixtures pin the layout; corrupt
// input — truncated, over a limit, invalid subjects, bad UTF-8, unknown kinds, random bytes — is
// a RouteFrameError value (RG_ERR_MALFORMED_ROUTE_FRAME), never a throw.
import t from 'tap'
import type { Test } from 'tap'
import fc from 'fast-check'
import {
  RouteFrameError,
  decodeRouteFrame,
  encodeBatch,
  encodeDeltas,
  encodeMessage,
  encodeResync,
  encodeSnapshot,
  messageFrameBytes,
  routeFrameKinds,
  routeLimits,
} from '../../server/routes/index.js'
import type { InterestEntry, RouteDecodeResult, RouteFrame } from '../../server/routes/index.js'
import { entryArb, messageArb, opArb } from './arbitraries.js'

function decoded(result: RouteDecodeResult): RouteFrame {
  if (!result.ok) throw new Error(`expected a frame, got ${result.error.message}`)
  return result.frame
}

function batchOf(messages: readonly Uint8Array[]): Uint8Array {
  return encodeBatch(messages, messages.reduce((sum, message) => sum + message.length, 0))
}

function failure(t: Test, bytes: Uint8Array, pattern: RegExp, what: string): void {
  const result = decodeRouteFrame(bytes)
  if (result.ok) {
    t.fail(`${what}: decoded as ${result.frame.kind}`)
    return
  }
  t.ok(result.error instanceof RouteFrameError, `${what}: a RouteFrameError`)
  t.equal(result.error.code, 'RG_ERR_MALFORMED_ROUTE_FRAME')
  t.match(result.error.message, pattern, `${what}: ${result.error.message}`)
}

t.test('fixture: a message frame is kind, flags, subject, reply, queues, headers, payload', async (t) => {
  const bytes = encodeMessage('a.b', 'r', ['q'], Uint8Array.of(9, 9), Uint8Array.of(7))
  t.same([...bytes], [1, 3, 0, 3, 0x61, 0x2e, 0x62, 0, 1, 0x72, 1, 0, 1, 0x71, 0, 0, 0, 2, 9, 9, 7])
  t.equal(messageFrameBytes('a.b', 'r', ['q'], Uint8Array.of(9, 9), Uint8Array.of(7)), bytes.length, 'size computed without encoding')
  t.same([...encodeMessage('x', undefined, [], undefined, new Uint8Array(0))], [1, 0, 0, 1, 0x78, 0], 'the minimal message')
  t.same([...encodeResync()], [routeFrameKinds.resync])
})

t.test('messages round-trip (fast-check, UTF-8 subjects, headers or not)', async (t) => {
  fc.assert(
    fc.property(messageArb, (message) => {
      const bytes = encodeMessage(message.subject, message.replyTo, message.queues, message.headerBlock, message.payload)
      if (bytes.length !== messageFrameBytes(message.subject, message.replyTo, message.queues, message.headerBlock, message.payload)) return false
      const frame = decoded(decodeRouteFrame(bytes))
      if (frame.kind !== 'message') return false
      return (
        frame.subject === message.subject &&
        frame.replyTo === message.replyTo &&
        JSON.stringify(frame.queues) === JSON.stringify(message.queues) &&
        (message.headerBlock === undefined ? frame.headerBlock === undefined : Buffer.from(frame.headerBlock ?? []).equals(Buffer.from(message.headerBlock))) &&
        Buffer.from(frame.payload).equals(Buffer.from(message.payload))
      )
    }),
    { numRuns: 500 },
  )
  t.pass('500 random messages round-trip')
})

t.test('batches of messages round-trip; a batch holds messages only', async (t) => {
  fc.assert(
    fc.property(fc.array(messageArb, { minLength: 2, maxLength: 10 }), (messages) => {
      const encoded = messages.map((m) => encodeMessage(m.subject, m.replyTo, m.queues, m.headerBlock, m.payload))
      const frame = decoded(decodeRouteFrame(batchOf(encoded)))
      if (frame.kind !== 'batch' || frame.messages.length !== messages.length) return false
      return frame.messages.every(
        (message, index) =>
          message.subject === messages[index]?.subject && message.replyTo === messages[index]?.replyTo && Buffer.from(message.payload).equals(Buffer.from(messages[index]?.payload ?? [])),
      )
    }),
    { numRuns: 200 },
  )
  t.throws(() => encodeBatch([Uint8Array.of(1)], 5), /do not match/, 'a wrong byte count is a caller bug')
  failure(t, Uint8Array.of(routeFrameKinds.batch), /empty batch/, 'an empty batch')
  const resync = encodeResync()
  const nested = batchOf([resync])
  failure(t, nested, /messages only/, 'a resync inside a batch')
  failure(t, Uint8Array.of(routeFrameKinds.batch, 0, 0, 0, 9, 1), /truncated batched message/, 'a length past the end')
})

t.test('snapshots chunk within the frame limit and round-trip in order with consecutive seqs', async (t) => {
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 60 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 1300, max: 4000 }), (entries, session, firstSeq, frameBytesMax) => {
      const frames = encodeSnapshot(entries, session, firstSeq, frameBytesMax)
      const back: InterestEntry[] = []
      for (const [index, bytes] of frames.entries()) {
        if (bytes.length > frameBytesMax) return false
        const frame = decoded(decodeRouteFrame(bytes))
        if (frame.kind !== 'snapshot') return false
        if (frame.seq !== (firstSeq + index) >>> 0 || frame.session !== session) return false
        if (frame.first !== (index === 0) || frame.last !== (index === frames.length - 1)) return false
        back.push(...frame.entries)
      }
      return JSON.stringify(back) === JSON.stringify(entries.map(({ pattern, queue }) => ({ pattern, queue })))
    }),
    { numRuns: 300 },
  )
  const empty = encodeSnapshot([], 7, 0)
  t.equal(empty.length, 1, 'an empty snapshot is one frame')
  const frame = decoded(decodeRouteFrame(empty[0] as Uint8Array))
  t.match(frame, { kind: 'snapshot', first: true, last: true, entries: [] }, 'first and last at once')
  const many = Array.from({ length: 5000 }, (_, index) => ({ pattern: `orders.region-${index}.>`, queue: index % 3 === 0 ? 'workers' : undefined }))
  const chunks = encodeSnapshot(many, 1, 0)
  t.ok(chunks.length > 1, `5,000 entries travel in ${chunks.length} frames`)
  t.ok(chunks.every((chunk) => chunk.length <= routeLimits.interestFrameBytesMax), 'each within interestFrameBytesMax')
})

t.test('deltas round-trip in order (adds and removes)', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.integer({ min: 0, max: 0xffff_ffff }), (ops, firstSeq) => {
      const frames = encodeDeltas(ops, firstSeq, 1400)
      if (ops.length === 0) return frames.length === 0
      const back = frames.flatMap((bytes, index) => {
        const frame = decoded(decodeRouteFrame(bytes))
        if (frame.kind !== 'delta' || frame.seq !== (firstSeq + index) >>> 0) throw new Error('not a delta in sequence')
        return frame.ops
      })
      return JSON.stringify(back) === JSON.stringify(ops.map(({ op, pattern, queue }) => ({ op, pattern, queue })))
    }),
    { numRuns: 300 },
  )
  t.pass('300 random delta batches round-trip')
})

t.test('corrupt frames are clear errors', async (t) => {
  failure(t, new Uint8Array(0), /empty frame/, 'empty')
  failure(t, Uint8Array.of(99), /unknown frame kind 99/, 'unknown kind')
  failure(t, Uint8Array.of(routeFrameKinds.resync, 0), /trailing bytes/, 'resync with trailing bytes')
  failure(t, Uint8Array.of(routeFrameKinds.message, 0, 0, 5, 0x61), /truncated subject/, 'subject longer than the frame')
  failure(t, Uint8Array.of(routeFrameKinds.message, 8, 0, 1, 0x61, 0), /unknown message flags/, 'unknown flag bit')
  failure(t, encodeMessage('a b', undefined, [], undefined, new Uint8Array(0)), /invalid subject/, 'a space in the subject')
  failure(t, encodeMessage('a.>', undefined, [], undefined, new Uint8Array(0)), /invalid subject/, 'a wildcard publish subject')
  failure(t, encodeMessage('a', 'b\r\nPUB', [], undefined, new Uint8Array(0)), /invalid reply subject/, 'CRLF in the reply (no protocol injection)')
  failure(t, Uint8Array.of(routeFrameKinds.message, 0, 0, 2, 0xc3, 0x28, 0), /not valid UTF-8/, 'bad UTF-8')
  failure(t, Uint8Array.of(routeFrameKinds.message, 2, 0, 1, 0x61, 0, 0, 0, 0, 9), /truncated header block/, 'header length past the end')
  const oversized = new Uint8Array(routeLimits.interestFrameBytesMax + 1)
  oversized[0] = routeFrameKinds.delta
  failure(t, oversized, /exceeds/, 'an interest frame over interestFrameBytesMax')
  failure(t, Uint8Array.of(routeFrameKinds.delta, 0, 0, 0, 1), /empty delta/, 'a delta without entries')
  failure(t, Uint8Array.of(routeFrameKinds.delta, 0, 0, 0, 1, 7, 0, 1, 0x61, 0, 0), /unknown entry op 7/, 'unknown op')
  const removeInSnapshot = encodeDeltas([{ op: 'remove', pattern: 'a', queue: undefined }], 0)[0] as Uint8Array
  const asSnapshot = new Uint8Array(removeInSnapshot.length + 5)
  asSnapshot.set([routeFrameKinds.snapshot, 0, 0, 0, 0, 0, 0, 0, 0, 3])
  asSnapshot.set(removeInSnapshot.subarray(5), 10)
  failure(t, asSnapshot, /in a snapshot/, 'a remove inside a snapshot')
  const badPattern = encodeDeltas([{ op: 'add', pattern: 'a..b', queue: undefined }], 0)[0] as Uint8Array
  failure(t, badPattern, /invalid pattern/, 'an empty token in a pattern')
  const badQueue = encodeDeltas([{ op: 'add', pattern: 'a', queue: 'has space' }], 0)[0] as Uint8Array
  failure(t, badQueue, /invalid queue name/, 'a space in a queue name')
})

t.test('random and mutated bytes never throw (fuzz)', async (t) => {
  const valid = [
    encodeMessage('orders.eu', '_INBOX.x.1', ['workers'], Uint8Array.of(1, 2), Uint8Array.of(3, 4, 5)),
    ...encodeSnapshot([{ pattern: 'a.*', queue: 'q' }, { pattern: 'b.>', queue: undefined }], 5, 9),
    ...encodeDeltas([{ op: 'add', pattern: 'c.#', queue: undefined }, { op: 'remove', pattern: 'a.*', queue: 'q' }], 11),
    batchOf([encodeMessage('a', undefined, [], undefined, Uint8Array.of(1)), encodeMessage('b', 'c', ['q'], Uint8Array.of(2), Uint8Array.of(3))]),
  ]
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const result = decodeRouteFrame(bytes)
      return result.ok || result.error instanceof RouteFrameError
    }),
    { numRuns: 2000 },
  )
  fc.assert(
    fc.property(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (frame, flips, cut) => {
      const bytes = frame.slice(0, Math.max(1, frame.length - (cut % frame.length)))
      for (const [at, value] of flips) bytes[at % bytes.length] = value
      const result = decodeRouteFrame(bytes)
      return result.ok || result.error instanceof RouteFrameError
    }),
    { numRuns: 3000 },
  )
  t.pass('5,000 random and mutated frames decoded or refused, none threw')
})
