// Parser fuzz: 100,000+ random and mutated frames, in random chunkings, through both roles.
// Invariants: push never throws or hangs; bufferedBytes never exceeds bufferedBytesBound(limits);
// every error is one of the four kinds; a dead parser keeps returning its error; every op that
// comes out is well-formed and within the payload limit. Seeded: a failure prints its seed, and
// FUZZ_SEED=<n> replays from it.
import t from 'tap'
import { encodeOp } from '../../shared/protocol/encoder.js'
import { headersFrom } from '../../shared/protocol/headers.js'
import { bufferedBytesBound, createParser } from '../../shared/protocol/parser.js'
import { parserErrorTexts } from '../../shared/protocol/types.js'
import type { ParserOptions, ParserRole, ProtocolOp } from '../../shared/protocol/types.js'
import { bytes, chunksAt, randomCuts, seededRandom } from './fixtures/feed.js'

const iterations = 100_000
const baseSeed = Number(process.env.FUZZ_SEED ?? 20261121)
const slowInputMs = 1000

const errorKinds = new Set(Object.keys(parserErrorTexts))
const opNames = new Set(['INFO', 'CONNECT', 'PUB', 'HPUB', 'SUB', 'UNSUB', 'MSG', 'HMSG', 'PING', 'PONG', 'OK', 'ERR'])

const payload = new Uint8Array([0, 13, 10, 255, 80, 85, 66, 32, 13, 10])
const headers = headersFrom([['A', '1'], ['a', '2'], ['Nats-Msg-Id', 'x']], 503, 'No Responders')
const validOps: ProtocolOp[] = [
  { op: 'CONNECT', options: { verbose: false, echo: true, name: 'fuzz', raw: { verbose: false, echo: true, name: 'fuzz' } } },
  { op: 'PUB', subject: 'orders.eu.created', payload },
  { op: 'PUB', subject: 'a', replyTo: '_INBOX.1', payload: new Uint8Array(0) },
  { op: 'HPUB', subject: 'a.b', replyTo: 'r', headers, payload },
  { op: 'SUB', subject: 'orders.*', queue: 'q', sid: '12' },
  { op: 'UNSUB', sid: '12', maxMsgs: 3 },
  { op: 'PING' },
  { op: 'PONG' },
  { op: 'INFO', info: { server_id: 'S', server_name: 'n', version: '1', proto: 1, host: 'h', port: 4222, headers: true, max_payload: 1024 } },
  { op: 'MSG', subject: 'orders.eu', sid: '1', replyTo: 'r', payload },
  { op: 'HMSG', subject: 'x', sid: '2', headers, payload },
  { op: 'OK' },
  { op: 'ERR', message: 'Unknown Protocol Operation' },
]
const validFrames = validOps.map(encodeOp)
const hugeLengthFrames = [
  'PUB a 99999999999999999999999999\r\n',
  'HPUB a 5 999999999999\r\n',
  'HPUB a 999999999 999999999\r\n',
  'MSG a 1 4294967296\r\n',
  'HMSG a 1 r 70000 70000\r\n',
  'PUB a 1048577\r\n',
  `PUB ${'x'.repeat(5000)} 1\r\n`,
  'UNSUB 1 99999999999999999999\r\n',
].map(bytes)

type Random = () => number
const int = (random: Random, below: number): number => Math.floor(random() * below)
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)] as T

function randomBytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length)
  // Bias towards protocol-ish bytes so mutations reach deep states, not just "unknown verb".
  const alphabet = bytes('PUBHSMGINFOCTKREpubhsmg +-0123456789\r\n\t.{}":')
  for (let i = 0; i < length; i++) out[i] = random() < 0.7 ? (alphabet[int(random, alphabet.length)] as number) : int(random, 256)
  return out
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

function mutate(random: Random, input: Uint8Array): Uint8Array {
  let out = input
  const edits = 1 + int(random, 3)
  for (let e = 0; e < edits; e++) {
    const at = int(random, out.length + 1)
    switch (int(random, 6)) {
      case 0: // flip a bit
        if (out.length > 0) {
          out = out.slice()
          const i = Math.min(at, out.length - 1)
          out[i] = (out[i] as number) ^ (1 << int(random, 8))
        }
        break
      case 1: // insert random bytes
        out = concat([out.subarray(0, at), randomBytes(random, 1 + int(random, 8)), out.subarray(at)])
        break
      case 2: // delete a range
        out = concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + int(random, 8)))])
        break
      case 3: // duplicate a range
        out = concat([out.subarray(0, at), out.subarray(at, at + int(random, 16)), out.subarray(at)])
        break
      case 4: // replace a digit run with a huge or odd number
        out = bytes(new TextDecoder('latin1').decode(out).replace(/\d+/, pick(random, ['0', '9999999999999999', '-1', '1e3', '65536', '00'])))
        break
      default: // truncate
        out = out.subarray(0, at)
    }
  }
  return out
}

function makeInput(random: Random): { input: Uint8Array; frames: number } {
  const mode = int(random, 10)
  if (mode === 0) return { input: randomBytes(random, int(random, 200)), frames: 1 }
  if (mode === 1) return { input: pick(random, hugeLengthFrames), frames: 1 }
  const count = 1 + int(random, 4)
  const frames = Array.from({ length: count }, () => pick(random, validFrames))
  const input = concat(frames)
  return { input: mode <= 3 ? input : mutate(random, input), frames: count }
}

function checkOp(op: ProtocolOp, options: Required<ParserOptions>): string | undefined {
  if (!opNames.has(op.op)) return `unknown op ${op.op}`
  if ('payload' in op) {
    if (!(op.payload instanceof Uint8Array)) return 'payload is not bytes'
    if (op.payload.length > options.payloadBytesMax) return `payload ${op.payload.length} over the limit`
  }
  return undefined
}

t.test(`parser survives ${iterations} random and mutated inputs (seed ${baseSeed})`, async (t) => {
  const random = seededRandom(baseSeed)
  const failures: string[] = []
  let frames = 0
  let errors = 0
  const kindsSeen = new Set<string>()
  const started = performance.now()
  for (let i = 0; i < iterations && failures.length < 5; i++) {
    const role: ParserRole = random() < 0.5 ? 'server' : 'client'
    const small = random() < 0.3
    const options: Required<ParserOptions> = small
      ? { role, controlLineBytesMax: 64, payloadBytesMax: 256, headerBytesMax: 128 }
      : { role, controlLineBytesMax: 4096, payloadBytesMax: 1024 * 1024, headerBytesMax: 64 * 1024 }
    const bound = bufferedBytesBound(options)
    const made = makeInput(random)
    frames += made.frames
    const chunks = made.input.length < 64 && random() < 0.2
      ? Array.from(made.input, (_, j) => made.input.subarray(j, j + 1))
      : chunksAt(made.input, randomCuts(made.input.length, random))
    const parser = createParser(options)
    const inputStarted = performance.now()
    try {
      for (const chunk of chunks) {
        const result = parser.push(chunk)
        for (const op of result.ops) {
          const problem = checkOp(op, options)
          if (problem !== undefined) failures.push(`input ${i}: ${problem}`)
        }
        if (parser.bufferedBytes > bound) failures.push(`input ${i}: bufferedBytes ${parser.bufferedBytes} > ${bound}`)
        if (result.error !== undefined) {
          errors++
          kindsSeen.add(result.error.kind)
          if (!errorKinds.has(result.error.kind)) failures.push(`input ${i}: error kind ${result.error.kind}`)
          const again = parser.push(bytes('PING\r\n'))
          if (again.error?.kind !== result.error.kind || again.ops.length > 0) failures.push(`input ${i}: parser came back to life`)
          break
        }
      }
    } catch (error) {
      failures.push(`input ${i}: threw ${String(error)}`)
    }
    if (performance.now() - inputStarted > slowInputMs) failures.push(`input ${i}: took over ${slowInputMs} ms`)
  }
  const seconds = (performance.now() - started) / 1000
  t.strictSame(failures, [], `no invariant broken (replay with FUZZ_SEED=${baseSeed})`)
  t.ok(frames >= 100_000, `${frames} frames fed`)
  t.ok(errors > iterations / 10, `errors were exercised (${errors} inputs ended in an error)`)
  t.strictSame([...kindsSeen].sort(), [...errorKinds].sort(), 'all four error kinds were produced')
  t.comment(`${iterations} inputs, ${frames} frames, ${errors} errors in ${seconds.toFixed(1)} s`)
})
