// Handshake rules as pure functions: every refusal reason, the control-message codec, and
// connection arbitration (both nodes must keep the same connection).
import t from 'tap'
import fc from 'fast-check'
import { decodeControl, encodeControl, peerProtocolVersion } from '../../shared/transport/control-messages.js'
import type { ControlMessage, Hello } from '../../shared/transport/control-messages.js'
import { arbitrate, checkHello, sameTokenVerifier } from '../../shared/transport/handshake.js'
import type { ArbitrationInput, ConnectionDirection, LocalIdentity } from '../../shared/transport/handshake.js'

const token = new TextEncoder().encode('secret')
const local: LocalIdentity = { clusterName: 'prod', nodeId: 'n1', region: 'eu', incarnation: 'i1', credentials: token }
const goodHello: Hello = { protocolVersion: peerProtocolVersion, clusterName: 'prod', nodeId: 'n2', region: 'us', incarnation: 'i2', credentials: token }
const verifyCredentials = sameTokenVerifier(token)

t.test('a matching hello is accepted', async (t) => {
  t.same(checkHello({ local, remote: goodHello, ready: true, verifyCredentials }), { accept: true })
})

t.test('each refusal carries its reason and a readable detail', async (t) => {
  const cases: [string, Partial<Hello>, boolean, string | undefined, string, RegExp][] = [
    ['not ready', {}, false, undefined, 'notReady', /not ready/],
    ['version', { protocolVersion: peerProtocolVersion + 1 }, true, undefined, 'versionMismatch', /version 2, this node speaks 1/],
    ['cluster', { clusterName: 'staging' }, true, undefined, 'wrongCluster', /'staging'.*'prod'/],
    ['credentials', { credentials: new TextEncoder().encode('guess') }, true, undefined, 'badCredentials', /refused/],
    ['own id', { nodeId: 'n1' }, true, undefined, 'duplicateId', /own id/],
    ['wrong node answered', {}, true, 'n3', 'unexpectedPeer', /dialed node 'n3' but 'n2' answered/],
  ]
  for (const [name, change, ready, expectedPeerId, reason, detail] of cases) {
    const verdict = checkHello({
      local,
      remote: { ...goodHello, ...change },
      ready,
      ...(expectedPeerId === undefined ? {} : { expectedPeerId }),
      verifyCredentials,
    })
    t.match(verdict, { accept: false, reason, detail }, name)
  }
})

t.test('control messages round trip and reject truncation, trailing bytes and unknown kinds', async (t) => {
  const messages: ControlMessage[] = [
    { kind: 'hello', hello: goodHello },
    { kind: 'reject', reason: 'wrongCluster', detail: 'no' },
    { kind: 'heartbeat' },
    { kind: 'goodbye', detail: 'stopping' },
  ]
  for (const message of messages) {
    const bytes = encodeControl(message)
    t.same(decodeControl(bytes), { ok: true, message }, `${message.kind} round trips`)
    for (let cut = 0; cut < bytes.byteLength; cut += 1) {
      const result = decodeControl(bytes.subarray(0, cut))
      if (result.ok) t.fail(`${message.kind} truncated to ${cut} bytes decoded`)
    }
    const trailing = decodeControl(Uint8Array.of(...bytes, 0))
    t.match(trailing, { ok: false, error: /trailing/ }, `${message.kind} with a trailing byte`)
  }
  t.match(decodeControl(Uint8Array.of(99)), { ok: false, error: /unknown control kind 99/ })
  t.match(decodeControl(Uint8Array.of(2, 200, 0, 0)), { ok: false, error: /unknown reject reason/ })
  t.match(decodeControl(Uint8Array.of(4, 0, 2, 0xff, 0xfe)), { ok: false, error: /UTF-8/ })
})

t.test('fuzz: random bytes never throw from decodeControl', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeControl(bytes)
    }),
    { numRuns: 1000 },
  )
})

function arbitrateBoth(
  a: string,
  b: string,
  options: { existingAt: Record<string, ConnectionDirection | undefined>; candidateDialer: string; pendingAt: Record<string, boolean> },
): [ReturnType<typeof arbitrate>, ReturnType<typeof arbitrate>] {
  const at = (self: string, other: string): ArbitrationInput => {
    const existingDirection = options.existingAt[self]
    return {
      localId: self,
      remoteId: other,
      remoteIncarnation: `inc-${other}`,
      candidateDirection: options.candidateDialer === self ? 'outbound' : 'inbound',
      existing: existingDirection === undefined ? undefined : { direction: existingDirection, incarnation: `inc-${other}`, lastHeardMs: 0 },
      ownDialPending: options.pendingAt[self] ?? false,
      nowMs: 0,
      deadAfterMs: 1000,
    }
  }
  return [arbitrate(at(a, b)), arbitrate(at(b, a))]
}

t.test('simultaneous dials: the dial of the smaller id wins on both sides', async (t) => {
  // a < b. Both dialed; each receives the other's hello while its own dial is pending.
  const atA = arbitrate({ localId: 'a', remoteId: 'b', remoteIncarnation: 'ib', candidateDirection: 'inbound', existing: undefined, ownDialPending: true, nowMs: 0, deadAfterMs: 1000 })
  const atB = arbitrate({ localId: 'b', remoteId: 'a', remoteIncarnation: 'ia', candidateDirection: 'inbound', existing: undefined, ownDialPending: true, nowMs: 0, deadAfterMs: 1000 })
  t.match(atA, { keep: 'existing', reason: 'duplicateConnection' }, "a refuses b's dial")
  t.match(atB, { keep: 'candidate', abortOwnDial: true }, "b accepts a's dial and drops its own")
})

t.test('an established connection meets a second one: both sides keep the same one', async (t) => {
  // Existing connection dialed by b (larger); a new connection dialed by a completes.
  const [atA, atB] = arbitrateBoth('a', 'b', { existingAt: { a: 'inbound', b: 'outbound' }, candidateDialer: 'a', pendingAt: {} })
  t.match(atA, { keep: 'candidate', closeExisting: true })
  t.match(atB, { keep: 'candidate', closeExisting: true })
  // Existing dialed by a (smaller); b dials again: refused at a; b would also drop it.
  const [again, _] = arbitrateBoth('a', 'b', { existingAt: { a: 'outbound', b: 'inbound' }, candidateDialer: 'b', pendingAt: {} })
  t.match(again, { keep: 'existing', reason: 'duplicateConnection' })
  // The same dialer re-dials (it dropped its old connection): the new one replaces the old.
  const redial = arbitrate({ localId: 'a', remoteId: 'b', remoteIncarnation: 'ib', candidateDirection: 'inbound', existing: { direction: 'inbound', incarnation: 'ib', lastHeardMs: 0 }, ownDialPending: false, nowMs: 0, deadAfterMs: 1000 })
  t.match(redial, { keep: 'candidate', closeExisting: true })
})

t.test('another process with the same id: refused while the first is live, accepted once it is silent', async (t) => {
  const input: ArbitrationInput = {
    localId: 'a',
    remoteId: 'b',
    remoteIncarnation: 'new',
    candidateDirection: 'inbound',
    existing: { direction: 'inbound', incarnation: 'old', lastHeardMs: 1_000 },
    ownDialPending: false,
    nowMs: 1_500,
    deadAfterMs: 1_000,
  }
  t.match(arbitrate(input), { keep: 'existing', reason: 'duplicateId', detail: /already connected \(incarnation old/ })
  t.match(arbitrate({ ...input, nowMs: 2_001 }), { keep: 'candidate', closeExisting: true }, 'silent past deadAfterMs: a restart')
  t.match(arbitrate({ ...input, candidateDirection: 'outbound' }), { keep: 'candidate', closeExisting: true }, 'our own dial reached the new incarnation')
})
