// The CRDT KV operation codec (codec.ts): round trips, and bad bytes become
// RG_ERR_MALFORMED_KV_OP values — never a throw, never a wrong operation — for every truncation,
// single-byte corruption, trailing bytes, unknown versions and kinds, fields over their limits,
// bad UTF-8 and Automerge changes that do not parse.
import fc from 'fast-check'
import t from 'tap'
import type { Test } from 'tap'
import { decodeKvOp, encodeKvOp, kvCrdtLimits, opProblem } from '../../data-plane/kv-crdt/index.js'
import type { KvOp, KvOpBase, KvOpId } from '../../data-plane/kv-crdt/index.js'
import { bytes, historyArb, runHistory, unwrap, newState } from './helpers.js'

const hlcArb = fc.record({ wallMs: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 2 ** 48 - 1 })), logical: fc.integer({ min: 0, max: 2 ** 16 - 1 }) })
const idArb: fc.Arbitrary<KvOpId> = fc.record({
  hlc: hlcArb,
  origin: fc.constantFrom('a', 'node-1', 'Z_9', 'x'.repeat(64)),
  incarnation: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  originSeq: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
})
const keyArb = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('flow/10.0.0.1:443', 'caf\u00e9', '\u65e5\u672c', '\ud83d\ude00'))
const baseFor = (id: KvOpId): fc.Arbitrary<KvOpBase> =>
  fc.oneof(
    hlcArb.map((hlc) => ({ kind: 'floor' as const, hlc })),
    fc.constant({ kind: 'reset' as const, id: { ...id, hlc: { wallMs: 0, logical: 0 }, origin: 'base' } }),
  )
const deltaArb = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(1n, -1n, 2n ** 63n - 1n, -(2n ** 63n)))

/** Valid operations, merges with real Automerge changes. */
const changeSource = newState('maker')
const realChange = unwrap(changeSource.merge('k', { state: 'open', n: 1, list: [1, 'two', null], nested: { deep: true } }, 1_000)).change

const opArb: fc.Arbitrary<KvOp> = fc.tuple(idArb, keyArb).chain(([id, key]) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((value): KvOp => ({ kind: 'put', id, key, value })),
    fc.constant<KvOp>({ kind: 'delete', id, key }),
    baseFor(id).map((base): KvOp => ({ kind: 'merge', id, key, base, change: realChange })),
    fc.tuple(baseFor(id), deltaArb).map(([base, delta]): KvOp => ({ kind: 'increment', id, key, base, delta })),
  ),
).filter((op) => opProblem(op) === null)

const same = (a: KvOp, b: KvOp): boolean => JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v)) === JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v))

t.test('property: encode → decode is the identity', async () => {
  fc.assert(
    fc.property(opArb, (op) => {
      const decoded = decodeKvOp(encodeKvOp(op))
      return decoded.ok && same(decoded.value, op)
    }),
    { numRuns: 500 },
  )
})

t.test('operations made by writers round-trip (real merges, bases of both kinds)', async (t) => {
  const samples = fc.sample(historyArb(), { numRuns: 20, seed: 7 })
  let count = 0
  for (const commands of samples) {
    const { ops, writers } = runHistory(commands)
    for (const op of ops) {
      const decoded = decodeKvOp(encodeKvOp(op))
      if (!decoded.ok || !same(decoded.value, op)) t.fail(`round trip of ${op.kind}`)
      count++
    }
    for (const writer of writers) writer.dispose()
  }
  t.ok(count > 100, `${count} operations`)
})

t.test('property: every strict prefix is refused as malformed', async () => {
  fc.assert(
    fc.property(opArb, (op) => {
      const encoded = encodeKvOp(op)
      for (let length = 0; length < encoded.length; length++) {
        const decoded = decodeKvOp(encoded.subarray(0, length))
        if (decoded.ok || decoded.error.code !== 'RG_ERR_MALFORMED_KV_OP') return false
      }
      return true
    }),
    { numRuns: 100 },
  )
})

t.test('property: single-byte corruption and garbage never throw; a success re-encodes to the same bytes', async () => {
  fc.assert(
    fc.property(opArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (op, at, xor) => {
      const encoded = encodeKvOp(op)
      const corrupt = encoded.slice()
      const index = at % corrupt.length
      corrupt[index] = (corrupt[index] as number) ^ xor
      const decoded = decodeKvOp(corrupt)
      if (!decoded.ok) return decoded.error.code === 'RG_ERR_MALFORMED_KV_OP'
      return Buffer.from(encodeKvOp(decoded.value)).equals(Buffer.from(corrupt))
    }),
    { numRuns: 1000 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
      const decoded = decodeKvOp(garbage)
      return decoded.ok || decoded.error.code === 'RG_ERR_MALFORMED_KV_OP'
    }),
    { numRuns: 1000 },
  )
})

const id: KvOpId = { hlc: { wallMs: 1_000, logical: 0 }, origin: 'a', incarnation: 1, originSeq: 1 }

function refused(t: Test, encoded: Uint8Array, pattern: RegExp, what: string): void {
  const decoded = decodeKvOp(encoded)
  t.notOk(decoded.ok, what)
  if (!decoded.ok) {
    t.equal(decoded.error.code, 'RG_ERR_MALFORMED_KV_OP')
    t.match(decoded.error.message, pattern, what)
  }
}

t.test('named refusals: trailing bytes, version, kind, limits, UTF-8, base tag, Automerge change', async (t) => {
  const put = encodeKvOp({ kind: 'put', id, key: 'k', value: bytes('v') })
  refused(t, new Uint8Array([...put, 0]), /1 trailing bytes/, 'trailing byte')
  refused(t, new Uint8Array([2, ...put.subarray(1)]), /unknown codec version 2/, 'version 2')
  refused(t, new Uint8Array([1, 9, ...put.subarray(2)]), /unknown kind 9/, 'kind 9')

  // A key one byte over the limit: the length field alone is refused, before reading the key.
  const longKey = 'k'.repeat(kvCrdtLimits.keyBytesMax + 1)
  const okKey = encodeKvOp({ kind: 'delete', id, key: 'k'.repeat(kvCrdtLimits.keyBytesMax) })
  t.ok(decodeKvOp(okKey).ok, 'a key at the limit decodes')
  const keyAt = okKey.length - kvCrdtLimits.keyBytesMax - 2
  const overKey = new Uint8Array([...okKey.subarray(0, keyAt), (longKey.length >> 8) & 0xff, longKey.length & 0xff, ...new TextEncoder().encode(longKey)])
  refused(t, overKey, /key of 1025 bytes is over 1024/, 'key over the limit')

  // A value length over the limit.
  const value = encodeKvOp({ kind: 'put', id, key: 'k', value: new Uint8Array(3) })
  const view = new DataView(value.buffer)
  view.setUint32(value.length - 7, kvCrdtLimits.valueBytesMax + 1)
  refused(t, value, /value of 1048577 bytes is over 1048576/, 'value over the limit')

  // Bad UTF-8 in the key.
  const badUtf8 = encodeKvOp({ kind: 'delete', id, key: 'ab' })
  badUtf8[badUtf8.length - 1] = 0xff
  refused(t, badUtf8, /key is not UTF-8/, 'bad UTF-8')

  // A control character in the key decodes as UTF-8 but is not a valid key.
  const control = encodeKvOp({ kind: 'delete', id, key: 'ab' })
  control[control.length - 1] = 0x07
  refused(t, control, /control characters/, 'control character')

  // Unknown base tag.
  const inc = encodeKvOp({ kind: 'increment', id, key: 'k', base: { kind: 'floor', hlc: { wallMs: 0, logical: 0 } }, delta: 1n })
  inc[inc.length - 8 - 8 - 1] = 7
  refused(t, inc, /unknown base tag 7/, 'base tag')

  // A merge whose change is not an Automerge change.
  const merge = encodeKvOp({ kind: 'merge', id, key: 'k', base: { kind: 'floor', hlc: { wallMs: 0, logical: 0 } }, change: new Uint8Array([1, 2, 3, 4]) })
  refused(t, merge, /Automerge change does not parse/, 'garbage change')

  // A base that is not below the operation.
  const aboveBase = encodeKvOp({ kind: 'increment', id, key: 'k', base: { kind: 'floor', hlc: { wallMs: 0, logical: 0 } }, delta: 1n })
  t.throws(() => encodeKvOp({ kind: 'increment', id, key: 'k', base: { kind: 'reset', id }, delta: 1n }), /a base must be below the operation/)
  t.ok(decodeKvOp(aboveBase).ok)

  // originSeq above 2^53.
  const seq = encodeKvOp({ kind: 'delete', id, key: 'k' })
  seq[2 + 8 + 4] = 0xff
  refused(t, seq, /invalid originSeq/, 'originSeq over 2^53')
})

t.test('encodeKvOp refuses invalid operations (a caller bug)', async (t) => {
  t.throws(() => encodeKvOp({ kind: 'delete', id, key: '' }), /non-empty/)
  t.throws(() => encodeKvOp({ kind: 'delete', id: { ...id, origin: 'bad origin' }, key: 'k' }), /origin/)
  t.throws(() => encodeKvOp({ kind: 'put', id, key: 'k', value: new Uint8Array(kvCrdtLimits.valueBytesMax + 1) }), /at most/)
  t.throws(() => encodeKvOp({ kind: 'increment', id, key: 'k', base: { kind: 'floor', hlc: { wallMs: 0, logical: 0 } }, delta: 2n ** 63n }), /64-bit/)
  t.throws(() => encodeKvOp({ kind: 'delete', id, key: '\ud800' }), /lone surrogates/)
})
