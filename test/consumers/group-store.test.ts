// GroupStore (data-plane/persistent/store/group-store.ts): a group's progress copy survives a
// reopen exactly (random histories, saves at random points, on the in-memory storage and on
// RocksDB); saves of one group before its batch is sealed share one synced write; a write carries
// only what changed; groups are listed and removed; a refused save does not stick.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { ProgressState } from '../../data-plane/persistent/consumer/index.js'
import { GroupStore, consumerKeySpace } from '../../data-plane/persistent/store/group-store.js'
import { createMemoryLocation, openMemoryStorage, openRocksStorage } from '../../shared/storage/index.js'
import type { BatchOperation, Storage } from '../../shared/storage/index.js'

type Op = { kind: 'dispatch'; index: number } | { kind: 'ack'; index: number } | { kind: 'save' } | { kind: 'merge-newer' }
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('dispatch' as const), index: fc.nat(30) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), index: fc.nat(30) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('save' as const) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('merge-newer' as const) }), weight: 1 },
)

t.test('property: what was saved reads back exactly after a reopen (memory storage)', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 80 }), async (ops) => {
      const location = createMemoryLocation()
      let storage = await openMemoryStorage(location, { keySpaces: [consumerKeySpace] })
      let store = GroupStore.open(storage)
      // As a controller starts: restore marks the meta dirty, so even an empty state is written.
      const start = ProgressState.restore(1, [])
      if (!start.ok) throw start.error
      const state = start.value.state
      let term = 1
      const saves: Array<Promise<void>> = []
      for (const op of ops) {
        if (op.kind === 'dispatch') state.dispatch({ node: 'n', term, index: op.index })
        else if (op.kind === 'ack') state.ack({ term, index: op.index })
        else if (op.kind === 'save') saves.push(store.save('default/s/g', state))
        else {
          // A replica adopting a newer controller's state: everything it held is replaced.
          const newer = ProgressState.restore(term + 1, [state])
          if (!newer.ok) throw newer.error
          newer.value.state.dispatch({ node: 'other', term: term + 1, index: 99 })
          term += 1
          state.merge(newer.value.state)
        }
      }
      saves.push(store.save('default/s/g', state))
      await Promise.all(saves)
      await store.close()
      await storage.close()
      storage = await openMemoryStorage(location, { keySpaces: [consumerKeySpace] })
      store = GroupStore.open(storage)
      const loaded = await store.load('default/s/g')
      await store.close()
      await storage.close()
      return loaded !== undefined && loaded.canonical() === state.canonical()
    }),
    { numRuns: 150 },
  )
  t.pass('round trips')
})

t.test('RocksDB: saves coalesce per group, carry only the changes, survive a reopen; groups listed and removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'railgun-group-store-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const written: BatchOperation[][] = []
  const open = async (): Promise<Storage> => {
    const inner = await openRocksStorage(join(dir, 'db'), { keySpaces: [consumerKeySpace] })
    return new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'batch') {
          return (operations: readonly BatchOperation[], options?: { sync?: boolean }) => {
            written.push([...operations])
            return target.batch(operations, options)
          }
        }
        const value = Reflect.get(target, property, receiver) as unknown
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
  }
  let storage = await open()
  let store = GroupStore.open(storage)
  const a = new ProgressState(3)
  for (let i = 0; i < 100; i++) a.dispatch({ node: 'n', term: 3, index: i })
  const b = new ProgressState(3)
  b.dispatch({ node: 'n', term: 3, index: 5 })
  await Promise.all([store.save('default/orders/a', a), store.save('default/orders/a', a), store.save('default/orders/b', b)])
  t.equal(written.length, 1, 'one synced batch for three saves of two groups')
  t.equal(written[0]?.length, 1 + 100 + 1 + 1, 'meta + 100 entries for a, meta + 1 entry for b')
  for (let i = 0; i < 100; i += 2) a.ack({ term: 3, index: i })
  await store.save('default/orders/a', a)
  t.equal(written[1]?.length, 50, 'then only the 50 acked entries (deletes): acks do not touch the meta')
  t.ok(written[1]?.every((op) => op.type === 'delete'))
  t.same((await store.groups()).sort(), ['default/orders/a', 'default/orders/b'])
  await store.close()
  await storage.close()

  storage = await open()
  store = GroupStore.open(storage)
  t.teardown(async () => {
    await store.close()
    await storage.close()
  })
  t.equal((await store.load('default/orders/a'))?.canonical(), a.canonical(), 'a after reopen')
  t.equal((await store.load('default/orders/b'))?.canonical(), b.canonical(), 'b after reopen')
  t.equal(await store.load('default/orders/none'), undefined)
  await store.remove('default/orders/a')
  t.equal(await store.load('default/orders/a'), undefined, 'removed')
  t.same(await store.groups(), ['default/orders/b'])
})

t.test('a save refused by a stopped committer does not stick; the storage must have the key space', async (t) => {
  const location = createMemoryLocation()
  const storage = await openMemoryStorage(location, { keySpaces: ['other'] })
  t.throws(() => GroupStore.open(storage), { code: 'RG_ERR_INVALID_STATE' })
  await storage.close()
  const good = await openMemoryStorage(createMemoryLocation(), { keySpaces: [consumerKeySpace] })
  const store = GroupStore.open(good)
  await store.close()
  await t.rejects(store.save('default/s/g', new ProgressState(1)), { code: 'RG_ERR_NOT_READY' })
  await good.close()
})
