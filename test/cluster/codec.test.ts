// The command codec: deterministic bytes, exact round trips, malformed entries rejected clearly.
import t from 'tap'
import { apply, applyEntry, commandTypes, decodeCommand, emptyState, encodeCommand, parseCommand, stateToJson } from '../../control-plane/cluster/index.js'
import type { Command } from '../../control-plane/cluster/index.js'
import { bytes, groupCommand, nodeCommand, pipelineCommand, streamCommand } from './helpers.js'

const samples: Command[] = [
  { type: 'ensureNamespace', name: 'payments', description: 'd' },
  { type: 'removeNamespace', name: 'payments' },
  { type: 'ensureRegion', name: 'eu' },
  streamCommand(),
  streamCommand({ update: true }),
  { type: 'removeStream', namespace: 'default', name: 'orders' },
  groupCommand({ start: { from: 'time', timeMs: 1234 } }),
  { type: 'removeConsumerGroup', namespace: 'default', stream: 'orders', name: 'g' },
  pipelineCommand(),
  { type: 'removePipeline', namespace: 'default', name: 'p' },
  nodeCommand('n1', 'us-east', { zone: 'a' }),
  { type: 'drainNode', nodeId: 'n1' },
  { type: 'markNodeDead', nodeId: 'n1' },
  { type: 'removeNode', nodeId: 'n1', force: true },
  { type: 'setNodeTags', nodeId: 'n1', tags: { zone: 'b' } },
  { type: 'replicaCaughtUp', namespace: 'default', stream: 'orders', region: 'us-east', nodeId: 'n1' },
  { type: 'designate', controller: 'scc/x', holder: 'n1', controllerTerm: 3, region: 'us-east' },
  { type: 'redesignate', controller: 'scc/x' },
  { type: 'ensureUser', name: 'alice', passwordHash: 'h', roles: ['r'] },
  { type: 'removeUser', name: 'alice' },
  { type: 'addToken', id: 't1', hash: 'h', user: 'alice', expiresAtMs: 99 },
  { type: 'revokeToken', id: 't1' },
  { type: 'ensureRole', name: 'r', grants: [{ permission: 'write', region: '*', stream: 'default/*' }] },
  { type: 'removeRole', name: 'r' },
  { type: 'ensureBucket', name: 'b', maxValueBytes: 10 },
  { type: 'removeBucket', name: 'b' },
  { type: 'kvPut', bucket: 'b', key: 'k', value: bytes('hello\u0000world') },
  { type: 'kvDelete', bucket: 'b', key: 'k', expectedRevision: 4 },
  { type: 'kvCas', bucket: 'b', key: 'k', value: new Uint8Array([0, 255, 128]), expectedRevision: 0 },
]

t.test('every command type has a sample', async (t) => {
  t.same(new Set(samples.map((s) => s.type)), new Set(commandTypes))
})

t.test('round trip: decode(encode(c)) equals c, and re-encoding gives the same bytes', async (t) => {
  for (const command of samples) {
    const encoded = encodeCommand(command, 1_700_000_000_123)
    const decoded = decodeCommand(encoded)
    t.ok(decoded.ok, command.type)
    if (!decoded.ok) continue
    t.same(decoded.command, command, `${command.type} round-trips`)
    t.equal(decoded.timeMs, 1_700_000_000_123)
    t.same(encodeCommand(decoded.command, decoded.timeMs), encoded, `${command.type} re-encodes byte for byte`)
  }
})

t.test('encoding is canonical: key order in the input does not matter', async (t) => {
  const a = encodeCommand({ type: 'ensureBucket', name: 'b', maxValueBytes: 10 })
  const b = encodeCommand({ maxValueBytes: 10, name: 'b', type: 'ensureBucket' } as Command)
  t.same(a, b)
  t.equal(new TextDecoder().decode(a), '{"command":{"maxValueBytes":10,"name":"b","type":"ensureBucket"},"timeMs":0,"v":1}')
  t.equal(new TextDecoder().decode(encodeCommand({ type: 'removeBucket', name: 'b' }, 42)), '{"command":{"name":"b","type":"removeBucket"},"timeMs":42,"v":1}')
})

t.test('malformed entries are rejected with the reason', async (t) => {
  const enc = (text: string): Uint8Array => new TextEncoder().encode(text)
  const cases: [Uint8Array, string][] = [
    [new Uint8Array([0xff, 0xfe]), 'not valid UTF-8'],
    [enc('{'), 'not JSON'],
    [enc('[]'), 'envelope is not an object'],
    [enc('{"v":2,"command":{}}'), 'unsupported version 2'],
    [enc('{"v":1,"command":{"type":"ensureBucket","name":"b","maxValueBytes":1},"timeMs":0,"x":1}'), 'unknown envelope fields x'],
    [enc('{"v":1,"command":{"type":"ensureBucket","name":"b","maxValueBytes":1}}'), 'timeMs'],
    [enc('{"v":1,"command":{"type":"ensureBucket","name":"b","maxValueBytes":1},"timeMs":-5}'), 'timeMs'],
    [enc('{"v":1,"timeMs":0,"command":{"type":"launchMissiles"}}'), 'type'],
    [enc('{"v":1,"timeMs":0,"command":{"type":"ensureBucket","name":"b"}}'), 'maxValueBytes'],
    [enc('{"v":1,"timeMs":0,"command":{"type":"ensureBucket","name":"b","maxValueBytes":-1}}'), 'maxValueBytes'],
    [enc('{"v":1,"timeMs":0,"command":{"type":"ensureBucket","name":"b","maxValueBytes":1,"extra":true}}'), 'extra'],
    [enc('{"v":1,"timeMs":0,"command":{"type":"kvPut","bucket":"b","key":"k","value":"not base64!"}}'), 'value: not canonical base64'],
    [enc('{"v":1,"timeMs":0,"command":{"type":"designate","controller":"c","holder":"n","controllerTerm":1.5}}'), 'controllerTerm'],
  ]
  for (const [input, reason] of cases) {
    const result = decodeCommand(input)
    t.notOk(result.ok, reason)
    if (result.ok) continue
    t.equal(result.code, 'RG_ERR_MALFORMED_COMMAND')
    t.match(result.message, reason)
  }
  t.equal(decodeCommand(new Uint8Array(4 * 1024 * 1024 + 1)).ok, false, 'oversized entries are rejected before parsing')
})

t.test('parseCommand accepts API-style JSON with base64 values', async (t) => {
  const parsed = parseCommand({ type: 'kvPut', bucket: 'b', key: 'k', value: 'aGk=' })
  t.ok(parsed.ok)
  if (parsed.ok && parsed.command.type === 'kvPut') t.same([...parsed.command.value], [104, 105])
  t.throws(() => encodeCommand({ type: 'ensureBucket', name: 'b', maxValueBytes: 0 }), /maxValueBytes/)
})

t.test('applyEntry: no-op and malformed entries advance the applied index and change nothing else', async (t) => {
  const state = emptyState()
  const noop = applyEntry(state, { index: 1, data: new Uint8Array(0) })
  t.same(noop.result, { ok: true, outcome: 'unchanged', details: { noop: true } })
  t.equal(noop.state.lastAppliedIndex, 1)
  const bad = applyEntry(noop.state, { index: 2, data: new TextEncoder().encode('garbage') })
  t.equal(bad.result.ok ? 'ok' : bad.result.code, 'RG_ERR_MALFORMED_COMMAND')
  t.same(stateToJson(bad.state), stateToJson({ ...state, lastAppliedIndex: 2 }))
  const good = applyEntry(bad.state, { index: 3, data: encodeCommand({ type: 'ensureNamespace', name: 'x' }, 1234) })
  t.equal(good.result.ok ? good.result.outcome : 'error', 'created')
  t.same(good.events[0]?.payload.timeMs, 1234, 'the time stamped by the proposer is the time applied')
  t.throws(() => applyEntry(good.state, { index: 3, data: new Uint8Array(0) }))
})

t.test('apply validates in-process commands against the same schema', async (t) => {
  const output = apply(emptyState(), { type: 'ensureBucket', name: 'b', maxValueBytes: 2.5 }, { index: 1, timeMs: 0 })
  t.equal(output.result.ok ? 'ok' : output.result.code, 'RG_ERR_MALFORMED_COMMAND')
  if (!output.result.ok) t.match(output.result.message, 'maxValueBytes')
  t.equal(output.state.lastAppliedIndex, 1)
  t.equal(output.state.buckets.size, 0)
})
