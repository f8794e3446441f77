// The one conformance suite every `Storage` passes (automerge-repo style): RocksDB and the
// in-memory twin run exactly these checks.
import type { Test } from 'tap'
import { StorageClosedError, StorageIoError, StorageKeySpaceError } from '../../shared/errors.js'
import { compareBytes } from '../../shared/storage/index.js'
import type { Storage, StorageEntry, RangeOptions } from '../../shared/storage/index.js'

/** One location (a directory, or a memory location) that can be opened again and again. */
export interface StorageHarness {
  open(keySpaces: readonly string[]): Promise<Storage>
  cleanup(): Promise<void>
}

export type StorageHarnessFactory = () => Promise<StorageHarness>

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8')
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : Buffer.from(value).toString('utf8')

async function collect(iterable: AsyncIterable<StorageEntry>): Promise<StorageEntry[]> {
  const entries: StorageEntry[] = []
  for await (const entry of iterable) entries.push(entry)
  return entries
}

/** A seeded generator so a failure replays (mulberry32). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state)
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
  }
}

function referenceRange(keys: readonly Uint8Array[], options: RangeOptions): Uint8Array[] {
  const sorted = [...keys].sort(compareBytes).filter((key) => {
    if (options.gt !== undefined && compareBytes(key, options.gt) <= 0) return false
    if (options.gte !== undefined && compareBytes(key, options.gte) < 0) return false
    if (options.lt !== undefined && compareBytes(key, options.lt) >= 0) return false
    if (options.lte !== undefined && compareBytes(key, options.lte) > 0) return false
    return true
  })
  if (options.reverse === true) sorted.reverse()
  return options.limit === undefined ? sorted : sorted.slice(0, options.limit)
}

export function runStorageConformance(t: Test, factory: StorageHarnessFactory): void {
  const withStorage = (name: string, body: (t: Test, harness: StorageHarness) => Promise<void>): void => {
    t.test(name, async (t) => {
      const harness = await factory()
      t.teardown(() => harness.cleanup())
      await body(t, harness)
    })
  }

  withStorage('put, get, delete; values are copies', async (t, harness) => {
    const storage = await harness.open(['events'])
    t.same(storage.keySpaces, ['events'])
    t.equal(storage.isOpen, true)
    t.equal(await storage.get('events', bytes('missing')), undefined)
    const value = Buffer.from('hello')
    await storage.put('events', bytes('k'), value)
    value[0] = 0x4a
    t.equal(text(await storage.get('events', bytes('k'))), 'hello', 'stored value unaffected by later mutation')
    await storage.put('events', bytes('k'), bytes('again'))
    t.equal(text(await storage.get('events', bytes('k'))), 'again', 'put overwrites')
    await storage.delete('events', bytes('k'))
    t.equal(await storage.get('events', bytes('k')), undefined)
    await storage.delete('events', bytes('never-there'))
    await storage.close()
  })

  withStorage('key spaces are independent', async (t, harness) => {
    const storage = await harness.open(['a', 'b'])
    await storage.put('a', bytes('k'), bytes('in-a'))
    t.equal(await storage.get('b', bytes('k')), undefined)
    t.same((await collect(storage.range('b'))).length, 0)
    await t.rejects(storage.get('c', bytes('k')), StorageKeySpaceError)
    await t.rejects(storage.put('c', bytes('k'), bytes('v')), { code: 'RG_ERR_STORAGE_KEY_SPACE' })
    await storage.close()
  })

  withStorage('range: byte-wise order and bounds match a reference (seeded)', async (t, harness) => {
    const storage = await harness.open(['ordered'])
    const random = seededRandom(0x5eed)
    const keys = new Map<string, Uint8Array>()
    for (let index = 0; index < 300; index += 1) {
      const length = Math.floor(random() * 6)
      const key = Uint8Array.from({ length }, () => (random() < 0.2 ? (random() < 0.5 ? 0 : 255) : Math.floor(random() * 256)))
      keys.set(Buffer.from(key).toString('hex'), key)
    }
    await storage.batch(
      [...keys.values()].map((key) => ({ type: 'put' as const, keySpace: 'ordered', key, value: key })),
      { sync: true },
    )
    const all = [...keys.values()]
    const probe = (): Uint8Array => all[Math.floor(random() * all.length)] as Uint8Array
    const cases: RangeOptions[] = [{}, { reverse: true }, { limit: 7 }, { reverse: true, limit: 3 }]
    for (let index = 0; index < 40; index += 1) {
      const [low, high] = [probe(), probe()].sort(compareBytes) as [Uint8Array, Uint8Array]
      const choice = index % 4
      cases.push(
        choice === 0 ? { gte: low, lt: high } : choice === 1 ? { gt: low, lte: high, reverse: true } : choice === 2 ? { gte: low, limit: 5 } : { lt: high },
      )
    }
    for (const options of cases) {
      const got = (await collect(storage.range('ordered', options))).map(([key]) => Buffer.from(key).toString('hex'))
      const expected = referenceRange(all, options).map((key) => Buffer.from(key).toString('hex'))
      t.same(got, expected, `range ${JSON.stringify(Object.keys(options))}`)
      // Values only: the same values in the same order (keys may come back empty).
      const values = (await collect(storage.range('ordered', { ...options, keys: false }))).map(([, value]) => Buffer.from(value).toString('hex'))
      t.same(values, expected, `range ${JSON.stringify(Object.keys(options))}, keys: false`)
    }
    const entries = await collect(storage.range('ordered'))
    t.ok(entries.every(([key, value]) => compareBytes(key, value) === 0), 'values belong to their keys')
    await storage.close()
  })

  withStorage('range reads a consistent view and can stop early', async (t, harness) => {
    const storage = await harness.open(['view'])
    for (const key of ['a', 'c', 'e']) await storage.put('view', bytes(key), bytes(key))
    const seen: string[] = []
    for await (const [key] of storage.range('view')) {
      seen.push(text(key) ?? '')
      if (seen.length === 1) await storage.put('view', bytes('d'), bytes('d'))
    }
    t.same(seen, ['a', 'c', 'e'], 'a write during iteration is not seen by it')
    for await (const [key] of storage.range('view')) {
      t.equal(text(key), 'a')
      break
    }
    t.same((await collect(storage.range('view'))).map(([key]) => text(key)), ['a', 'c', 'd', 'e'])
    await storage.close()
  })

  withStorage('batch is atomic', async (t, harness) => {
    const storage = await harness.open(['x', 'y'])
    await storage.put('x', bytes('keep'), bytes('1'))
    await t.rejects(
      storage.batch([
        { type: 'put', keySpace: 'x', key: bytes('new'), value: bytes('2') },
        { type: 'delete', keySpace: 'x', key: bytes('keep') },
        { type: 'put', keySpace: 'nope', key: bytes('bad'), value: bytes('3') },
      ]),
      StorageKeySpaceError,
    )
    t.equal(await storage.get('x', bytes('new')), undefined, 'no operation of a failed batch applied')
    t.equal(text(await storage.get('x', bytes('keep'))), '1')
    await storage.batch(
      [
        { type: 'put', keySpace: 'x', key: bytes('p'), value: bytes('1') },
        { type: 'put', keySpace: 'y', key: bytes('q'), value: bytes('2') },
        { type: 'delete', keySpace: 'x', key: bytes('keep') },
        { type: 'put', keySpace: 'x', key: bytes('p'), value: bytes('last') },
      ],
      { sync: true },
    )
    t.equal(text(await storage.get('x', bytes('p'))), 'last', 'later operation in a batch wins')
    t.equal(text(await storage.get('y', bytes('q'))), '2', 'across key spaces')
    t.equal(await storage.get('x', bytes('keep')), undefined)
    await storage.batch([])
    await storage.close()
  })

  withStorage('reopen keeps synced data', async (t, harness) => {
    const first = await harness.open(['durable'])
    await first.put('durable', bytes('one'), bytes('1'), { sync: true })
    await first.batch(
      [
        { type: 'put', keySpace: 'durable', key: bytes('two'), value: bytes('2') },
        { type: 'put', keySpace: 'durable', key: bytes('three'), value: bytes('3') },
      ],
      { sync: true },
    )
    await first.delete('durable', bytes('three'), { sync: true })
    await first.close()
    const second = await harness.open(['durable', 'added-later'])
    t.equal(text(await second.get('durable', bytes('one'))), '1')
    t.equal(text(await second.get('durable', bytes('two'))), '2')
    t.equal(await second.get('durable', bytes('three')), undefined)
    await second.put('added-later', bytes('k'), bytes('v'), { sync: true })
    await second.close()
  })

  withStorage('deleteRange removes exactly [gte, lt) of one key space and survives reopen', async (t, harness) => {
    const storage = await harness.open(['dr', 'other'])
    if (storage.deleteRange === undefined) {
      t.fail('both adapters implement deleteRange')
      await storage.close()
      return
    }
    const random = seededRandom(0xde1)
    const keys = new Map<string, Uint8Array>()
    for (let index = 0; index < 200; index += 1) {
      const key = Uint8Array.from({ length: 1 + Math.floor(random() * 4) }, () => (random() < 0.2 ? (random() < 0.5 ? 0 : 255) : Math.floor(random() * 256)))
      keys.set(Buffer.from(key).toString('hex'), key)
    }
    const all = [...keys.values()]
    await storage.batch(all.flatMap((key) => [{ type: 'put' as const, keySpace: 'dr', key, value: key }, { type: 'put' as const, keySpace: 'other', key, value: key }]), { sync: true })
    let remaining = all
    for (let round = 0; round < 8; round += 1) {
      const [low, high] = [all[Math.floor(random() * all.length)], all[Math.floor(random() * all.length)]].sort((a, b) => compareBytes(a as Uint8Array, b as Uint8Array)) as [Uint8Array, Uint8Array]
      await storage.deleteRange('dr', { gte: low, lt: high })
      remaining = remaining.filter((key) => compareBytes(key, low) < 0 || compareBytes(key, high) >= 0)
      const got = (await collect(storage.range('dr'))).map(([key]) => Buffer.from(key).toString('hex'))
      t.same(got, referenceRange(remaining, {}).map((key) => Buffer.from(key).toString('hex')), `round ${round}: what remains matches a reference`)
    }
    await storage.deleteRange('dr', { gte: bytes('z'), lt: bytes('a') })
    t.equal((await collect(storage.range('other'))).length, all.length, 'other key spaces untouched; an empty or inverted range is a no-op')
    await t.rejects(storage.deleteRange('missing', { gte: bytes('a'), lt: bytes('b') }), StorageKeySpaceError)
    await storage.put('dr', bytes('sync-marker'), bytes('x'), { sync: true })
    await storage.close()
    await t.rejects(storage.deleteRange('dr', { gte: bytes('a'), lt: bytes('b') }), StorageClosedError)
    const again = await harness.open(['dr', 'other'])
    const afterReopen = (await collect(again.range('dr'))).map(([key]) => Buffer.from(key).toString('hex')).filter((key) => key !== Buffer.from('sync-marker').toString('hex'))
    t.same(afterReopen, referenceRange(remaining, {}).map((key) => Buffer.from(key).toString('hex')), 'range deletes followed by a synced write survive reopen')
    await again.close()
  })

  withStorage('use after close fails clearly; close is idempotent', async (t, harness) => {
    const storage = await harness.open(['s'])
    await storage.close()
    t.equal(storage.isOpen, false)
    await storage.close()
    await t.rejects(storage.get('s', bytes('k')), { name: 'StorageClosedError', code: 'RG_ERR_STORAGE_CLOSED', message: /storage is closed: cannot get/ })
    await t.rejects(storage.put('s', bytes('k'), bytes('v')), StorageClosedError)
    await t.rejects(storage.delete('s', bytes('k')), StorageClosedError)
    await t.rejects(storage.batch([{ type: 'put', keySpace: 's', key: bytes('k'), value: bytes('v') }]), StorageClosedError)
    await t.rejects(storage.batch([]), StorageClosedError)
    await t.rejects(collect(storage.range('s')), StorageClosedError)
  })

  withStorage('engine failures surface as typed errors', async (t, harness) => {
    const storage = await harness.open(['e'])
    await t.rejects(harness.open(['e']), { name: 'StorageIoError', code: 'RG_ERR_STORAGE_IO' }, 'second open of a locked location')
    await storage.put('e', bytes('still'), bytes('works'))
    t.equal(text(await storage.get('e', bytes('still'))), 'works', 'the first handle is unaffected')
    await storage.close()
    await t.rejects(harness.open([]), StorageIoError, 'opening without an existing key space')
    await t.rejects(harness.open(['Bad Name']), StorageKeySpaceError, 'invalid key space name')
    const again = await harness.open(['e'])
    t.equal(text(await again.get('e', bytes('still'))), 'works', 'a failed open leaves the data intact')
    await again.close()
  })
}
