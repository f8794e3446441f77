// The pure parts of StreamMessage: a delivered message's headers → its fields (every malformed
// or missing delivery header is a ProtocolError), the ack bodies as the wire contract writes them
// (each one parsed back by the controller's parser, parseAckBody), and the settle-call checks.
import t from 'tap'
import { Message, ProtocolError } from '../../client/index.js'
import { ackBodyOf, deliveryOf, settlementOf } from '../../client/stream-message.js'
import { acksByGroup } from '../../client/group-requests.js'
import { StreamMessage } from '../../client/stream-message.js'
import { parseAckBody } from '../../shared/api/consumer-wire.js'

const good: Array<[string, string]> = [
  ['Rg-Stream', 'shop/orders'],
  ['Rg-Group', 'billing'],
  ['Rg-Index', '41'],
  ['Rg-Deliveries', '2'],
  ['Rg-Msg-Id', 'order-41'],
  ['Rg-Subject', 'orders.eu'],
  ['Rg-Time', '1700000000123'],
  ['Rg-Term', '3'],
  ['Trace', 'abc'],
  ['rg-index', '99'],
]
const delivered = (entries: Array<[string, string]>): { subject: string; headers: { entries: Array<[string, string]> }; replyTo: string | undefined } => ({ subject: '_INBOX.x', headers: { entries }, replyTo: '$RG.C.shop.orders.billing.ACK.41.2' })

t.test('deliveryOf reads the delivery headers', async (t) => {
  const delivery = deliveryOf(delivered(good))
  t.same(delivery.address, { namespace: 'shop', stream: 'orders', group: 'billing' })
  t.equal(delivery.index, 41)
  t.equal(delivery.deliveries, 2)
  t.equal(delivery.id, 'order-41')
  t.equal(delivery.subject, 'orders.eu')
  t.equal(delivery.time, 1_700_000_000_123)
  t.equal(delivery.controllerTerm, 3)
  t.equal(delivery.ackSubject, '$RG.C.shop.orders.billing.ACK.41.2')
  t.same(delivery.headers.entries, [['Trace', 'abc']], 'delivery headers removed (any case), the event headers kept')
  t.equal(deliveryOf(delivered(good.filter(([key]) => key !== 'Rg-Subject'))).subject, 'orders', 'no Rg-Subject: the stream name')
})

t.test('a malformed delivery is a ProtocolError', async (t) => {
  const without = (key: string): Array<[string, string]> => good.filter(([k]) => k !== key)
  const replaced = (key: string, value: string): Array<[string, string]> => good.map(([k, v]) => [k, k === key ? value : v])
  const cases: Array<[string, ReturnType<typeof delivered> | { subject: string; headers: undefined; replyTo: string }]> = [
    ['no headers', { subject: 'x', headers: undefined, replyTo: 'r' }],
    ['no stream', delivered(without('Rg-Stream'))],
    ['stream without namespace', delivered(replaced('Rg-Stream', 'orders'))],
    ['no group', delivered(without('Rg-Group'))],
    ['index not a number', delivered(replaced('Rg-Index', '4x'))],
    ['negative index', delivered(replaced('Rg-Index', '-1'))],
    ['deliveries 0', delivered(replaced('Rg-Deliveries', '0'))],
    ['no time', delivered(without('Rg-Time'))],
    ['no term', delivered(without('Rg-Term'))],
    ['no id', delivered(without('Rg-Msg-Id'))],
    ['no ack subject', { ...delivered(good), replyTo: undefined }],
  ]
  for (const [what, message] of cases) t.throws(() => deliveryOf(message), ProtocolError, what)
})

t.test('ack bodies: what the client writes, the controller parses back', async (t) => {
  const cases: Array<[ReturnType<typeof settlementOf>, string]> = [
    [settlementOf('ack'), 'ack'],
    [settlementOf('nack'), 'nack'],
    [settlementOf('nack', 0), 'nack'],
    [settlementOf('nack', 1_500), 'nack 1500'],
    [settlementOf('progress'), 'progress'],
    [settlementOf('term'), 'term'],
    [settlementOf('term', undefined, '  bad input  '), 'term bad input'],
  ]
  for (const [settlement, body] of cases) {
    t.equal(ackBodyOf(settlement), body)
    t.match(parseAckBody(body), { kind: settlement.kind, ...(settlement.delayMs ? { delayMs: settlement.delayMs } : {}), ...(settlement.reason ? { reason: settlement.reason } : {}) }, `${body} parses back`)
  }
  t.throws(() => settlementOf('nack', 1.5), { code: 'RG_ERR_INVALID_ARGUMENT' })
  t.throws(() => settlementOf('nack', 25 * 60 * 60_000), { code: 'RG_ERR_INVALID_ARGUMENT' }, 'over the wire limit')
  t.throws(() => settlementOf('term', undefined, 'x'.repeat(2_000)), { code: 'RG_ERR_INVALID_ARGUMENT' })
})

t.test('acksByGroup: one entry list per group, independent messages skipped', async (t) => {
  const settler = { settle: async () => undefined, settleNoWait: () => undefined }
  const message = (group: string, index: number, deliveries: number): StreamMessage =>
    StreamMessage.fromDelivery(
      new Message('_INBOX.x', new Uint8Array(0), 'ack.subject', { entries: good.map(([k, v]) => [k, k === 'Rg-Group' ? group : k === 'Rg-Index' ? String(index) : k === 'Rg-Deliveries' ? String(deliveries) : v]) }, undefined),
      settler,
    )
  const independent = StreamMessage.fromFetched('shop/orders', { index: 1, id: 'i', origin: 'o', incarnation: 1, seq: 1, hlc: { wallMs: 1, logical: 0 }, headers: [], data: '' })
  const groups = acksByGroup([message('a', 1, 1), message('b', 2, 3), message('a', 5, 2), independent])
  t.same([...groups.keys()], ['shop/orders/a', 'shop/orders/b'])
  t.same(groups.get('shop/orders/a')?.acks, [
    { index: 1, deliveries: 1, kind: 'ack' },
    { index: 5, deliveries: 2, kind: 'ack' },
  ])
  t.same(groups.get('shop/orders/b')?.acks, [{ index: 2, deliveries: 3, kind: 'ack' }])
})
