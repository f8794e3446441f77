// The durable event store (data-plane/persistent/store) on RocksDB: synced group-commit append
// throughput and latency of 128 B events at 1, 100 and 1000 concurrent appenders (each append
// one event, resolved only after its batch is fsync'd), then a fill to --fill events (or as
// many as fit in --fill-seconds), the process RSS with that many stored, and the reopen time
// (RocksDB open + EventStore.open rebuilding its metadata). Figures are printed, never asserted.
//
// (RSS figures are truer with a collected heap: node --expose-gc --import tsx bench/event-store.ts …)
//   npx tsx bench/event-store.ts [--seconds 8] [--concurrency 1,100,1000] [--fill 10000000]
//                                [--fill-seconds 120] [--payload-bytes 128] [--dir D] [--keep]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { EventStore, HybridLogicalClock, eventStoreKeySpaces } from '../data-plane/persistent/index.js'
import type { StreamEvent } from '../data-plane/persistent/index.js'
import { openRocksStorage } from '../shared/storage/index.js'
import type { Storage } from '../shared/storage/index.js'
import { summarizeLatencies } from './lib/stats.js'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '1,100,1000' },
    fill: { type: 'string', default: '10000000' },
    'fill-seconds': { type: 'string', default: '120' },
    'payload-bytes': { type: 'string', default: '128' },
    'linger-ms': { type: 'string', default: '0' },
    'memtable-mb': { type: 'string', default: '8' },
    'wal-compression': { type: 'boolean', default: false },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'reopen-only': { type: 'boolean', default: false },
  },
})

const secondsPerLevel = Number(args.seconds)
const levels = (args.concurrency as string).split(',').map(Number)
const fillTarget = Number(args.fill)
const fillSeconds = Number(args['fill-seconds'])
const payloadBytes = Number(args['payload-bytes'])
const lingerMs = Number(args['linger-ms'])
const memtableMb = Number(args['memtable-mb'])
// Engine tuning (shared/storage RocksTuning): per column family a level-compaction memtable
// budget (write buffers of budget/4, at most 6 of them), index and filter blocks inside the
// (8 MB per family) block cache instead of beside it, and no ZSTD on the WAL (the synced
// write runs on the JS thread). --memtable-mb 0 --wal-compression = the binding's defaults.
const tuning = {
  ...(memtableMb > 0 ? { columnOptions: { compaction: 'level', memtableMemoryBudget: memtableMb * 1024 * 1024, cacheIndexAndFilterBlocks: true } } : {}),
  dbOptions: { walCompression: args['wal-compression'] === true },
}
const directory = args.dir ?? mkdtempSync(join(tmpdir(), 'railgun-event-store-bench-'))
const dbPath = join(directory, 'db')
const stream = 'bench/events'
const origin = 'n1'
const payload = new Uint8Array(payloadBytes).fill(0x61)
const clock = new HybridLogicalClock()
let seq = 0

function nextEvent(): StreamEvent {
  seq++
  return { stream, id: `id-${seq.toString(36).padStart(18, '0')}`, hlc: clock.now(Date.now()), origin, incarnation: 1, originSeq: seq, headers: [], payload }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0)
const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

async function open(): Promise<{ storage: Storage; store: EventStore; openMs: number }> {
  const started = performance.now()
  const storage = await openRocksStorage(dbPath, { keySpaces: eventStoreKeySpaces, tuning })
  const store = await EventStore.open(storage, { lingerMs })
  return { storage, store, openMs: performance.now() - started }
}

async function level(store: EventStore, workers: number): Promise<void> {
  const latencies: number[] = []
  const batchesBefore = store.commitStats.batches
  const deadline = performance.now() + secondsPerLevel * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        const callMs = performance.now()
        await store.append(stream, [nextEvent()])
        latencies.push(performance.now() - callMs)
      }
    }),
  )
  const elapsedMs = performance.now() - started
  const summary = summarizeLatencies(latencies)
  const batches = store.commitStats.batches - batchesBefore
  console.log(
    `| ${workers} | ${Math.round((summary.count * 1000) / elapsedMs).toLocaleString('en-US')} | ${summary.p50Ms.toFixed(2)} | ${summary.p99Ms.toFixed(2)} | ${batches.toLocaleString('en-US')} | ${(summary.count / batches).toFixed(1)} |`,
  )
}

async function main(): Promise<void> {
  console.log(`event store bench: ${new Date().toISOString()}, node ${process.version}, dir ${directory}, tuning ${JSON.stringify(tuning)}`)
  const { storage, store } = await open()
  await store.ensureStream(stream, { dedupWindowMs: 120_000 })
  console.log(`\nsynced group commit, ${payloadBytes} B events, one event per append, ${secondsPerLevel} s per row, lingerMs ${lingerMs}`)
  console.log('| appenders | appends/s | p50 ms | p99 ms | synced batches | events/batch |')
  console.log('|---:|---:|---:|---:|---:|---:|')
  for (const workers of levels) await level(store, workers)

  // Fill: 8 appenders × 2,000 events per append (each still resolved only after its sync).
  const fillStarted = performance.now()
  const fillFrom = seq
  const fillDeadline = fillStarted + fillSeconds * 1000
  const perAppend = 2000
  // RSS while filling, every 15 s: does memory grow with the number of events stored?
  const progress = setInterval(() => {
    const m = process.memoryUsage()
    console.log(`  … ${seq.toLocaleString('en-US')} events, RSS ${mb(m.rss)} MB, JS heap used ${mb(m.heapUsed)} MB`)
  }, 15_000)
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (seq < fillTarget && performance.now() < fillDeadline) {
        const events: StreamEvent[] = []
        for (let i = 0; i < perAppend && seq < fillTarget; i++) events.push(nextEvent())
        await store.append(stream, events)
      }
    }),
  )
  clearInterval(progress)
  const fillMs = performance.now() - fillStarted
  const stored = store.info(stream).count
  gc()
  const memory = process.memoryUsage()
  console.log(
    `\nfill: ${stored.toLocaleString('en-US')} events stored (target ${fillTarget.toLocaleString('en-US')}, limit ${fillSeconds} s), ${Math.round(((seq - fillFrom) * 1000) / (fillMs + 1)).toLocaleString('en-US')} events/s while filling (8 appenders × ${perAppend} events per append, each synced); ` +
      `RSS ${mb(memory.rss)} MB, JS heap used ${mb(memory.heapUsed)} of ${mb(memory.heapTotal)} MB, external ${mb(memory.external)} MB, store bytes ${mb(store.info(stream).bytes)} MB`,
  )
  await store.close()
  await storage.close()
  // Reopen in a fresh process: what a restarted node holding these events costs (this process
  // still carries the allocator's memory from the fill).
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, '--reopen-only', '--dir', directory, '--memtable-mb', String(memtableMb), ...(args['wal-compression'] === true ? ['--wal-compression'] : [])], { encoding: 'utf8' })
  process.stdout.write(child.stdout)
  process.stderr.write(child.stderr)
  if (!args.keep && args.dir === undefined) rmSync(directory, { recursive: true, force: true })
}

/** A restarted node: open, read the newest events, take 10,000 more synced appends. */
async function reopenOnly(): Promise<void> {
  const rssBefore = process.memoryUsage().rss
  const { storage, store, openMs } = await open()
  const info = store.info(stream)
  const vector = store.versionVector(stream)
  const held = vector.get(`${origin}#1`) ?? 0
  const afterOpen = process.memoryUsage()
  const tail = await store.readByOriginRange(stream, { originKey: `${origin}#1`, fromSeq: held - 999, toSeq: held }, 1000)
  seq = held
  clock.receive(tail[tail.length - 1]?.hlc ?? { wallMs: 0, logical: 0 }, Date.now())
  for (let i = 0; i < 100; i++) await store.append(stream, Array.from({ length: 100 }, () => nextEvent()))
  gc()
  const afterWrites = process.memoryUsage()
  console.log(
    `reopen (fresh process): ${openMs.toFixed(0)} ms (RocksDB open + EventStore.open) holding ${info.count.toLocaleString('en-US')} events (${mb(info.bytes)} MB); ` +
      `RSS ${mb(rssBefore)} MB before open → ${mb(afterOpen.rss)} MB after open → ${mb(afterWrites.rss)} MB after reading the newest ${tail.length} and appending 10,000 more; JS heap used ${mb(afterWrites.heapUsed)} MB`,
  )
  await store.close()
  await storage.close()
}

if (args['reopen-only']) await reopenOnly()
else await main()
