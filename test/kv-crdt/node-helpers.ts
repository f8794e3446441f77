// Test machinery for CRDT buckets on real nodes (server/kv-crdt): Railgun clients that close when
// the test ends, a raw `$RG.KVC` request for answers the client API hides, waits (bounded) for a
// bucket's replica to be ready on a node, and a watch recorder. Nodes come from the stream and
// cluster helpers (test/streams/helpers.ts, test/server/cluster-helpers.ts).
import type { Subscription } from 'rxjs'
import type { Test } from 'tap'
import { connect } from '../../client/index.js'
import type { ClientOptions, CrdtKvWatchEvent, RailgunClient } from '../../client/index.js'
import type { RunningNode } from '../../server/node.js'

export async function client(t: Test, url: string, options: ClientOptions = {}): Promise<RailgunClient> {
  const c = await connect(url, { name: 'kv-crdt-test', ...options })
  t.teardown(() => c.close())
  return c
}

/** One `$RG.KVC.<bucket>.<verb>` request; the answer as JSON (ok or not). */
export async function kvc(c: RailgunClient, bucket: string, verb: string, body: unknown, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const reply = await c.requestPromise(`$RG.KVC.${bucket}.${verb}`, typeof body === 'string' ? body : JSON.stringify(body), { timeoutMs })
  return reply.json<Record<string, unknown>>()
}

export async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits until `node` holds a ready replica of `bucket` (it serves reads and, if writable, writes). */
export async function untilReplicaReady(node: RunningNode, bucket: string, timeoutMs = 20_000): Promise<void> {
  await until(`the replica of ${bucket} on ${node.config.server.name}`, () => node.crdtKv()?.replica(bucket)?.ready === true, timeoutMs)
}

export async function untilWritable(node: RunningNode, bucket: string, timeoutMs = 20_000): Promise<void> {
  await until(`a writable replica of ${bucket} on ${node.config.server.name}`, () => node.crdtKv()?.replica(bucket)?.writable === true, timeoutMs)
}

/** Records a watch's events until stopped (by the test's end at the latest). */
export class WatchRecorder {
  readonly events: CrdtKvWatchEvent[] = []
  error: Error | undefined
  readonly #subscription: Subscription

  constructor(t: Test, source: { subscribe(observer: { next(event: CrdtKvWatchEvent): void; error(error: unknown): void }): Subscription }) {
    this.#subscription = source.subscribe({ next: (event) => this.events.push(event), error: (error: unknown) => (this.error = error as Error) })
    t.teardown(() => this.stop())
  }

  /** `key=value` lines of the value/delete events (`initial` marked `*`), and `ready`/`reset`. */
  lines(): string[] {
    return this.events.map((event) => {
      switch (event.type) {
        case 'value': {
          const value = event.entry.type === 'bytes' ? event.entry.string() : event.entry.type === 'json' ? JSON.stringify(event.entry.json()) : String(event.entry.count())
          return `${event.initial ? '*' : ''}${event.key}=${value}`
        }
        case 'delete':
          return `${event.initial ? '*' : ''}${event.key} deleted`
        default:
          return event.type
      }
    })
  }

  async until(what: string, predicate: (lines: string[]) => boolean, timeoutMs = 15_000): Promise<void> {
    await until(`watch: ${what} (so far: ${this.lines().join(' | ')})`, () => {
      if (this.error !== undefined) throw this.error
      return predicate(this.lines())
    }, timeoutMs)
  }

  stop(): void {
    this.#subscription.unsubscribe()
  }
}
