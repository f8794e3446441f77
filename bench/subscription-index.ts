// Subscription index micro-benchmark: match rate for published subjects against a realistic
// interest graph (literal, `*`, `>` and queue subscriptions; optionally `#`), with the match
// cache warm (repeated subjects) and cold (every subject new). Prints figures; never fails on
// timing. Rates are per second of this process's CPU time. Run: npx tsx bench/subscription-index.ts
import { chooseDeliveries } from '../data-plane/ephemeral/fanout.js'
import { SubscriptionIndex } from '../data-plane/ephemeral/subscription-index.js'

interface Sub {
  readonly subject: string
  readonly queue?: string
  readonly sid: number
}

const regions = ['eu', 'us', 'ap', 'sa', 'af']
const events = ['created', 'paid', 'shipped', 'cancelled']
const streams = Array.from({ length: 200 }, (_, i) => `stream${i}`)

function build(withHash: boolean): SubscriptionIndex<Sub> {
  const index = new SubscriptionIndex<Sub>()
  let sid = 0
  for (const stream of streams) {
    for (const region of regions) for (const event of events) index.insert({ subject: `${stream}.${region}.${event}`, sid: sid++ })
    index.insert({ subject: `${stream}.*.created`, sid: sid++ })
    index.insert({ subject: `${stream}.>`, sid: sid++ })
    for (let member = 0; member < 3; member++) index.insert({ subject: `${stream}.>`, queue: 'workers', sid: sid++ })
    if (withHash) index.insert({ subject: `${stream}.#.paid`, sid: sid++ })
  }
  return index
}

function measure(name: string, index: SubscriptionIndex<Sub>, subjects: readonly string[], rounds: number): void {
  let random = 1
  const next = (): number => {
    random = (random * 48271) % 2147483647
    return random / 2147483647
  }
  let deliveries = 0
  const before = process.cpuUsage()
  for (let round = 0; round < rounds; round++) {
    for (const subject of subjects) deliveries += chooseDeliveries(index.match(subject), { random: next }).length
  }
  const cpu = process.cpuUsage(before)
  const seconds = (cpu.user + cpu.system) / 1e6
  const matches = subjects.length * rounds
  console.log(`${name.padEnd(44)} ${(matches / seconds / 1e6).toFixed(2)} M match+fanout/s CPU (${(deliveries / matches).toFixed(1)} deliveries each)`)
}

const published = streams.flatMap((s) => regions.flatMap((r) => events.map((e) => `${s}.${r}.${e}`)))
for (const withHash of [false, true]) {
  const index = build(withHash)
  const label = withHash ? ', with # patterns' : ''
  console.log(`${index.size} subscriptions, ${index.nodeCount} trie nodes${label}`)
  // 2,000 hot subjects fit one cache generation (2,048): after two rounds every match hits.
  measure(`2,000 hot subjects (fit the cache)${label}`, index, published.slice(0, 2000), 100)
  // 4,000 hot subjects exceed a generation: the two generations keep rotating.
  measure(`4,000 hot subjects (over half the cache)${label}`, index, published, 50)
  // Unique subjects each time: every match walks the trie (and evicts a cache entry).
  const unique = Array.from({ length: 200_000 }, (_, i) => `${streams[i % streams.length]}.${regions[i % 5]}.${events[i % 4]}x${i}`)
  measure(`cold (every subject new)${label}`, index, unique, 1)
}
