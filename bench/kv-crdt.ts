// Throughput and memory of the CRDT KV bucket state (data-plane/kv-crdt), pure and in-process:
// for LWW puts, counter increments and JSON merges, at each `--sizes` key count (default
// 1k,10k,100k):
//   - write ops/s at the writer (makes the operation: for merges an Automerge change) while
//     creating the keys, then for `--updates` × keys updates of random existing keys;
//   - apply ops/s at another replica fed those operations (create phase, update phase);
//   - memory per key of a state holding every key (heap + external + array buffers, and RSS;
//     each run is its own process, so WASM memory of one run does not hide in another).
// JSON values: one Automerge document per key; at most `jsonDocsLoadedMax` (10k) stay loaded, the
// rest are hibernated (saved bytes + cached value), so updates of random keys at 100k keys pay a
// load each. Prints a table, writes JSON to bench/results/kv-crdt-<time>.json. Never passes or
// fails on a timing. Rates are per second of the process's CPU time (the machine is shared).
// Run: node --expose-gc --import tsx bench/kv-crdt.ts [--sizes 10000,100000] [--kinds put,increment,merge] [--updates 1]
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CrdtKvState } from '../data-plane/kv-crdt/index.js'
import type { KvOp } from '../data-plane/kv-crdt/index.js'
import type { Outcome } from '../data-plane/persistent/index.js'

const kinds = ['put', 'increment', 'merge'] as const
type Kind = (typeof kinds)[number]

interface Row {
  kind: Kind
  keys: number
  updates: number
  writeCreateOpsPerSec: number
  writeUpdateOpsPerSec: number
  applyCreateOpsPerSec: number
  applyUpdateOpsPerSec: number
  /** heapUsed + external + arrayBuffers per key. */
  bytesPerKey: number
  rssBytesPerKey: number
  loadedDocs: number
}

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    kinds: { type: 'string', default: kinds.join(',') },
    updates: { type: 'string', default: '1' },
    child: { type: 'string' },
    'results-dir': { type: 'string', default: 'bench/results' },
  },
})

/** mulberry32 */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const valueBytes = new TextEncoder().encode('x'.repeat(64))
const keyOf = (i: number): string => `flow/tcp/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:443`

function make(state: CrdtKvState, kind: Kind, key: string, i: number, physicalMs: number): KvOp {
  let outcome: Outcome<KvOp>
  if (kind === 'put') outcome = state.put(key, valueBytes, physicalMs)
  else if (kind === 'increment') outcome = state.increment(key, 1n, physicalMs)
  else outcome = state.merge(key, i % 2 === 0 ? { backend: `b${i % 7}`, state: 'open', packets: i } : { packets: i, bytes: i * 1500 }, physicalMs)
  if (!outcome.ok) throw outcome.error
  return outcome.value
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.()
const memory = (): { heap: number; rss: number } => {
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss }
}

/**
 * Operations per second of CPU time this process used (user + system): on a shared machine the
 * wall clock mostly measures the neighbours, CPU time the work.
 */
function timed(run: () => void, ops: number): number {
  const start = process.cpuUsage()
  run()
  const used = process.cpuUsage(start)
  return Math.round(ops / ((used.user + used.system) / 1e6))
}

function measure(kind: Kind, keys: number, updatesPerKey: number): Row {
  const random = seeded(keys)
  const updates = Math.round(keys * updatesPerKey)
  // Memory: one state holding every key, nothing else retained.
  const before = memory()
  const alone = new CrdtKvState({ bucket: 'bench', origin: 'm', incarnation: 1 })
  for (let i = 0; i < keys; i++) make(alone, kind, keyOf(i), i, 1_000 + i)
  const after = memory()
  const loadedDocs = alone.loadedDocCount
  alone.dispose()
  // Throughput: a writer makes the operations, a replica applies them.
  const writer = new CrdtKvState({ bucket: 'bench', origin: 'w', incarnation: 1 })
  const creates: KvOp[] = []
  const writeCreateOpsPerSec = timed(() => {
    for (let i = 0; i < keys; i++) creates.push(make(writer, kind, keyOf(i), i, 1_000 + i))
  }, keys)
  const updateOps: KvOp[] = []
  const writeUpdateOpsPerSec = timed(() => {
    for (let i = 0; i < updates; i++) updateOps.push(make(writer, kind, keyOf(Math.floor(random() * keys)), keys + i, 1_000 + keys + i))
  }, updates)
  writer.dispose()
  const replica = new CrdtKvState({ bucket: 'bench', origin: 'r', incarnation: 1 })
  const applyCreateOpsPerSec = timed(() => {
    for (const op of creates) replica.apply(op)
  }, keys)
  const applyUpdateOpsPerSec = timed(() => {
    for (const op of updateOps) replica.apply(op)
  }, updates)
  replica.dispose()
  return {
    kind,
    keys,
    updates,
    writeCreateOpsPerSec,
    writeUpdateOpsPerSec,
    applyCreateOpsPerSec,
    applyUpdateOpsPerSec,
    bytesPerKey: Math.round((after.heap - before.heap) / keys),
    rssBytesPerKey: Math.round((after.rss - before.rss) / keys),
    loadedDocs,
  }
}

if (args.child !== undefined) {
  const [kind, keys, updates] = args.child.split(':')
  console.log(JSON.stringify(measure(kind as Kind, Number(keys), Number(updates))))
} else {
  const sizes = args.sizes.split(',').map(Number)
  const wanted = args.kinds.split(',') as Kind[]
  const rows: Row[] = []
  const loadBefore = loadavg()
  const self = fileURLToPath(import.meta.url)
  for (const keys of sizes) {
    for (const kind of wanted) {
      const child = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', '--import', 'tsx', self, '--child', `${kind}:${keys}:${args.updates}`], { encoding: 'utf8', maxBuffer: 1 << 20 })
      const line = child.stdout.trim().split('\n').at(-1) ?? ''
      if (child.status !== 0 || !line.startsWith('{')) {
        console.log(`${kind} × ${keys}: failed (${child.status}) ${child.stderr.slice(-400)}`)
        continue
      }
      const row = JSON.parse(line) as Row
      rows.push(row)
      console.log(
        `${kind.padEnd(9)} ${String(keys).padStart(7)} keys | write ${row.writeCreateOpsPerSec.toLocaleString('en')}/s create, ${row.writeUpdateOpsPerSec.toLocaleString('en')}/s update | apply ${row.applyCreateOpsPerSec.toLocaleString('en')}/s create, ${row.applyUpdateOpsPerSec.toLocaleString('en')}/s update | ${row.bytesPerKey} B/key heap+external, ${row.rssBytesPerKey} B/key RSS${kind === 'merge' ? `, ${row.loadedDocs} docs loaded` : ''}`,
      )
    }
  }
  mkdirSync(args['results-dir'], { recursive: true })
  const file = `${args['results-dir']}/kv-crdt-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
  writeFileSync(file, JSON.stringify({ loadBefore, loadAfter: loadavg(), updatesPerKey: Number(args.updates), rows }, null, 2))
  console.log(`load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} → ${loadavg().map((l) => l.toFixed(1)).join(' ')}; wrote ${file}`)
}
