// Can an Automerge document hold a consumer group's progress (heads + outstanding set) at
// realistic rates? Measures, for 1k / 10k / 100k outstanding ids, against the custom CRDTs —
// GroupProgress (data-plane/persistent/group-progress.ts) and ProgressState
// (data-plane/persistent/consumer/progress-state.ts, what the group controller persists and
// replicates):
//   - single-op changes/s at that size (one dispatch or ack per change, as an SCC would commit),
//   - batched ops/s (1,000 ops per change),
//   - merge time of two replicas that diverged by 1,000 ops each,
//   - saved size,
//   - bytes persisted per single op: Automerge's `saveIncremental` after each change; for
//     ProgressState what the group store writes for it (the dirty meta record + entries, as JSON);
//   - snapshot encode time (ProgressState: the replication frame's JSON; Automerge: `save`).
// Prints a table; never passes or fails on a timing. Run: npx tsx bench/automerge-progress.ts
// (add --sizes 1000,10000 to shorten). Wall-clock times on a shared machine: read ratios, not digits.
import * as Automerge from '@automerge/automerge'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { GroupProgress } from '../data-plane/persistent/index.js'
import { ProgressState } from '../data-plane/persistent/consumer/index.js'

const { values: args } = parseArgs({ options: { sizes: { type: 'string', default: '1000,10000,100000' }, 'single-ops': { type: 'string', default: '400' } } })
const sizes = (args.sizes as string).split(',').map(Number)
const singleOps = Number(args['single-ops'])
const divergeOps = 1000
const batchOps = 1000

type ProgressDoc = {
  heads: Record<string, number>
  outstanding: Record<string, { position: number; attempts: number }>
}

interface Row {
  impl: string
  size: number
  singleOpsPerSec: number
  batchedOpsPerSec: number
  mergeMs: number
  savedBytes: number
  /** Bytes persisted per single op (undefined: the implementation has no incremental form). */
  bytesPerOp?: number
  /** One full snapshot encode, ms. */
  encodeMs?: number
}

function seconds(start: number): number {
  return (performance.now() - start) / 1000
}

function automergeRow(size: number): Row {
  let doc = Automerge.from<ProgressDoc>({ heads: {}, outstanding: {} })
  // Fill to `size` outstanding ids in batches (timed: batched rate).
  const fillStart = performance.now()
  for (let done = 0; done < size; done += batchOps) {
    doc = Automerge.change(doc, (d) => {
      for (let i = done; i < Math.min(size, done + batchOps); i++) d.outstanding[`id-${i}`] = { position: i, attempts: 1 }
      d.heads.n1 = Math.min(size, done + batchOps)
    })
  }
  const batchedOpsPerSec = size / seconds(fillStart)
  // One op per change at this size: an ack (delete) then a redelivery of the same id (put), so
  // the size stays put.
  Automerge.saveIncremental(doc)
  let incrementalBytes = 0
  let incrementalMs = 0
  const singleStart = performance.now()
  for (let i = 0; i < singleOps; i++) {
    const id = `id-${i >> 1}`
    doc = Automerge.change(doc, (d) => {
      if (i % 2 === 0) {
        delete d.outstanding[id]
      } else {
        d.outstanding[id] = { position: i >> 1, attempts: 2 }
        d.heads.n1 = size + i
      }
    })
    // What persisting this change costs (timed apart from the change rate).
    const t0 = performance.now()
    incrementalBytes += Automerge.saveIncremental(doc).length
    incrementalMs += performance.now() - t0
  }
  const singleOpsPerSec = singleOps / (seconds(singleStart) - incrementalMs / 1000)
  // Two replicas diverge by 1,000 ops each (acks on one, redeliveries on the other), then merge.
  let left = Automerge.clone(doc, { actor: '0a'.repeat(16) })
  let right = Automerge.clone(doc, { actor: '0b'.repeat(16) })
  left = Automerge.change(left, (d) => {
    for (let i = 0; i < divergeOps; i++) delete d.outstanding[`id-${size - 1 - i}`]
  })
  right = Automerge.change(right, (d) => {
    for (let i = 0; i < divergeOps; i++) d.outstanding[`redo-${i}`] = { position: i, attempts: 2 }
    d.heads.n2 = size + divergeOps
  })
  const mergeStart = performance.now()
  const mergedDoc = Automerge.merge(left, right)
  const mergeMs = performance.now() - mergeStart
  const encodeStart = performance.now()
  const savedBytes = Automerge.save(mergedDoc).length
  const encodeMs = performance.now() - encodeStart
  return { impl: 'automerge', size, singleOpsPerSec, batchedOpsPerSec, mergeMs, savedBytes, bytesPerOp: incrementalBytes / singleOps, encodeMs }
}

function customRow(size: number): Row {
  const state = new GroupProgress(1)
  const fillStart = performance.now()
  for (let i = 0; i < size; i++) state.dispatch({ node: 'n1', term: 1, id: `id-${i}`, position: i })
  const batchedOpsPerSec = size / seconds(fillStart)
  // The custom CRDT has no change/transaction cost: a "single op" is one call. Same pattern.
  const ops = Math.max(singleOps, 10_000)
  const singleStart = performance.now()
  for (let i = 0; i < ops; i++) {
    const id = `id-${(i >> 1) % size}`
    if (i % 2 === 0) state.ack({ term: 1, id })
    else state.dispatch({ node: 'n1', term: 1, id, position: (i >> 1) % size })
  }
  const singleOpsPerSec = ops / seconds(singleStart)
  const left = state.clone()
  const right = state.clone()
  for (let i = 0; i < divergeOps; i++) left.ack({ term: 1, id: `id-${size - 1 - i}` })
  for (let i = 0; i < divergeOps; i++) right.dispatch({ node: 'n2', term: 1, id: `redo-${i}`, position: i })
  const mergeStart = performance.now()
  left.merge(right)
  const mergeMs = performance.now() - mergeStart
  const savedBytes = Buffer.byteLength(left.canonical())
  return { impl: 'custom', size, singleOpsPerSec, batchedOpsPerSec, mergeMs, savedBytes }
}

function progressStateRow(size: number): Row {
  const state = new ProgressState(1)
  const fillStart = performance.now()
  for (let i = 0; i < size; i++) state.dispatch({ node: 'n1', term: 1, index: i })
  const batchedOpsPerSec = size / seconds(fillStart)
  state.takeDirty()
  const ops = Math.max(singleOps, 10_000)
  const singleStart = performance.now()
  for (let i = 0; i < ops; i++) {
    const index = (i >> 1) % size
    if (i % 2 === 0) state.ack({ term: 1, index })
    else state.dispatch({ node: 'n1', term: 1, index })
  }
  const singleOpsPerSec = ops / seconds(singleStart)
  state.takeDirty()
  // What the group store writes per op: the dirty parts after each op, as JSON (keys not counted).
  let persisted = 0
  const sample = Math.min(ops, 2_000)
  for (let i = 0; i < sample; i++) {
    const index = (i >> 1) % size
    if (i % 2 === 0) state.ack({ term: 1, index })
    else state.dispatch({ node: 'n1', term: 1, index })
    const dirt = state.takeDirty()
    if (dirt.meta) persisted += JSON.stringify(state.meta()).length
    for (const changed of dirt.indexes) persisted += JSON.stringify(state.entry(changed) ?? null).length
  }
  const left = state.clone()
  const right = state.clone()
  for (let i = 0; i < divergeOps; i++) left.ack({ term: 1, index: size - 1 - i })
  for (let i = 0; i < divergeOps; i++) right.dispatch({ node: 'n2', term: 1, index: size + i })
  const mergeStart = performance.now()
  left.merge(right)
  const mergeMs = performance.now() - mergeStart
  const encodeStart = performance.now()
  const savedBytes = Buffer.byteLength(JSON.stringify(left.snapshot()))
  const encodeMs = performance.now() - encodeStart
  return { impl: 'progress-state', size, singleOpsPerSec, batchedOpsPerSec, mergeMs, savedBytes, bytesPerOp: persisted / sample, encodeMs }
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1))
const rows: Row[] = []
// Warm-up (JIT, Automerge's wasm): measured once and discarded.
customRow(1000)
progressStateRow(1000)
automergeRow(1000)
for (const size of sizes) {
  for (const measure of [customRow, progressStateRow, automergeRow]) {
    const row = measure(size)
    rows.push(row)
    console.error(`done ${row.impl} ${size}`)
  }
}
const automergeVersion = (JSON.parse(readFileSync(new URL('../node_modules/@automerge/automerge/package.json', import.meta.url), 'utf8')) as { version: string }).version
console.log(`automerge ${automergeVersion}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}; merge = two replicas diverged by ${divergeOps} ops each; custom size = canonical JSON`)
console.log('| impl | outstanding | single-op changes/s | batched ops/s | merge 1k+1k diverged (ms) | saved/serialized size (bytes) | persisted bytes/op | snapshot encode (ms) |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
const opt = (n: number | undefined): string => (n === undefined ? '—' : fmt(n))
for (const r of rows) console.log(`| ${r.impl} | ${r.size.toLocaleString('en-US')} | ${fmt(r.singleOpsPerSec)} | ${fmt(r.batchedOpsPerSec)} | ${fmt(r.mergeMs)} | ${r.savedBytes.toLocaleString('en-US')} | ${opt(r.bytesPerOp)} | ${opt(r.encodeMs)} |`)
