// The recorder's export feeds test/lincheck's checker directly.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkLinearizable, kvModel } from '../lincheck/index.js'
import type { KvInput, KvOutput } from '../lincheck/index.js'
import { HistoryRecorder } from './history.js'

function manualNow(): { now: () => number; set: (ms: number) => void } {
  let currentMs = 0
  return { now: () => currentMs, set: (ms) => (currentMs = ms) }
}

t.test('ok, fail, info and pending operations export in the checker format', async (t) => {
  const clock = manualNow()
  const history = new HistoryRecorder<KvInput, KvOutput>({ now: clock.now })
  clock.set(1)
  const put = history.invoke('c1', { kind: 'put', key: 'x', value: '1' })
  clock.set(2)
  const refused = history.invoke('c2', { kind: 'put', key: 'x', value: '2' })
  clock.set(3)
  put.ok({ kind: 'put' })
  refused.fail('not leader')
  clock.set(4)
  const lost = history.invoke('c2', { kind: 'put', key: 'x', value: '3' })
  clock.set(5)
  lost.info('timeout')
  clock.set(6)
  history.invoke('c3', { kind: 'get', key: 'x' })
  t.same(history.toLincheck(), [
    { clientId: 'c1', input: { kind: 'put', key: 'x', value: '1' }, callMs: 1, returnMs: 3, output: { kind: 'put' } },
    { clientId: 'c2', input: { kind: 'put', key: 'x', value: '3' }, callMs: 4, returnMs: undefined, output: undefined },
    { clientId: 'c3', input: { kind: 'get', key: 'x' }, callMs: 6, returnMs: undefined, output: undefined },
  ])
  t.same(history.summary(), { ok: 1, fail: 1, info: 1, pending: 1 })
  t.throws(() => put.ok({ kind: 'put' }), /completed twice/)
  t.same(
    history.allEvents().map((e) => e.type),
    ['invoke', 'invoke', 'ok', 'fail', 'invoke', 'info', 'invoke'],
  )
})

t.test('a linearizable concurrent history checks ok; a stale read is illegal', async (t) => {
  // A fake store with real async gaps: writes apply at once, replies come later.
  const store = new Map<string, string>()
  const history = new HistoryRecorder<KvInput, KvOutput>()
  const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1))
  await Promise.all(
    ['a', 'b', 'c'].map(async (client, i) => {
      for (let n = 0; n < 5; n += 1) {
        await history.record(client, { kind: 'put', key: 'k', value: `${client}${n}` }, async () => {
          await tick()
          store.set('k', `${client}${n}`)
          await tick()
          return { kind: 'put' }
        })
        await history.record(client, { kind: 'get', key: 'k' }, async () => {
          await tick()
          const value = store.get('k') ?? null
          await tick()
          return { kind: 'get', value }
        })
        if (i === 2 && n === 2) {
          await history.record(client, { kind: 'get', key: 'k' }, async () => {
            throw new Error('connection lost')
          })
        }
      }
    }),
  )
  t.match(checkLinearizable(kvModel, history.toLincheck()), { result: 'ok' })

  let nowMs = 0
  const stale = new HistoryRecorder<KvInput, KvOutput>({ now: () => (nowMs += 1) })
  stale.invoke('w', { kind: 'put', key: 'k', value: 'new' }).ok({ kind: 'put' })
  stale.invoke('r', { kind: 'get', key: 'k' }).ok({ kind: 'get', value: null })
  t.match(checkLinearizable(kvModel, stale.toLincheck()), { result: 'illegal' }, 'a read after a completed write must see it')
})

t.test('events are written as JSON lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'railgun-history-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const history = new HistoryRecorder<KvInput, KvOutput>()
  history.invoke(1, { kind: 'delete', key: 'k' }).info('killed')
  const path = join(dir, 'history.jsonl')
  history.writeJsonLines(path)
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string; error?: string })
  t.same(lines.map((l) => l.type), ['invoke', 'info'])
  t.equal(lines[1]!.error, 'killed')
})
