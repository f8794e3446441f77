// Watches served by this node: each one follows a bucket replica's change feed and publishes it
// to the watcher's inbox (`deliver`, an `_INBOX.` subject, reached through cluster routing when
// the watcher is connected to another node) as messages of at most `watchEventsPerMessageMax`
// events, numbered from 1 (`seq`: a gap tells the client messages were lost). Events gathered
// in one turn go out together at the end of it.
//
// A watch stops when the watcher says so (UNWATCH), when nobody anywhere subscribes to its
// deliver subject any more (checked every `watchInterestCheckMs`, and at every publish that
// reaches no one: a client that went away needs no UNWATCH), or when the replica ends it (state
// rebuilt, node stopping, bucket removed) — then a last message carries `{type: 'end', code,
// message}` so the client resubscribes.
import type { Subscription } from 'rxjs'
import type { KvSelector, KvWatchOptions } from '../../data-plane/kv-crdt/index.js'
import { RailgunError } from '../../shared/errors.js'
import { kvCrdtWireLimits } from '../../shared/api/index.js'
import type { KvCrdtWatchEventView, KvCrdtWatchMessage } from '../../shared/api/index.js'
import type { Logger } from '../../shared/log.js'
import type { Router } from '../router.js'
import type { BucketReplica } from './bucket-replica.js'
import { WatchEndedError } from './bucket-replica.js'
import { watchInterestCheckMsDefault, watchesPerNodeMax } from './limits.js'
import type { KvcFailure } from './replies.js'
import { failure } from './replies.js'
import { watchEventView } from './views.js'

interface Session {
  readonly id: string
  readonly bucket: string
  readonly deliver: string
  readonly replica: string
  subscription: Subscription | undefined
  seq: number
  buffer: KvCrdtWatchEventView[]
  flushQueued: boolean
  ended: boolean
}

const encoder = new TextEncoder()

export class WatchSessions {
  readonly #router: Router
  readonly #nodeId: string
  readonly #logger: Logger
  readonly #sessions = new Map<string, Session>()
  readonly #timer: NodeJS.Timeout
  #counter = 0

  constructor(options: { readonly router: Router; readonly nodeId: string; readonly logger: Logger; readonly interestCheckMs?: number }) {
    this.#router = options.router
    this.#nodeId = options.nodeId
    this.#logger = options.logger
    this.#timer = setInterval(() => this.#checkInterest(), options.interestCheckMs ?? watchInterestCheckMsDefault)
    this.#timer.unref()
  }

  get size(): number {
    return this.#sessions.size
  }

  /** Whether the watch id names a watch of this node (ids are `<node>.<n>`). */
  owns(watchId: string): boolean {
    return watchId.startsWith(`${this.#nodeId}.`)
  }

  /** Starts a watch of `replica`; its messages go to `deliver` from the next turn on. */
  start(replica: BucketReplica, selector: KvSelector, options: KvWatchOptions, deliver: string): { readonly watchId: string; readonly replica: string } | KvcFailure {
    if (this.#sessions.size >= watchesPerNodeMax) return failure('RG_ERR_LIMIT_EXCEEDED', `this node serves ${watchesPerNodeMax} watches`, { limit: 'watchesPerNodeMax' })
    this.#counter += 1
    const session: Session = { id: `${this.#nodeId}.${this.#counter}`, bucket: replica.bucket, deliver, replica: replica.replicaId, subscription: undefined, seq: 0, buffer: [], flushQueued: false, ended: false }
    this.#sessions.set(session.id, session)
    session.subscription = replica.watch(selector, options).subscribe({
      next: (event) => this.#push(session, watchEventView(event)),
      error: (error: unknown) => {
        const code = error instanceof WatchEndedError || error instanceof RailgunError ? error.code : 'RG_ERR_SERVER'
        this.#push(session, { type: 'end', code, message: (error as Error).message })
        this.#end(session, false)
      },
      complete: () => this.#end(session, true),
    })
    return { watchId: session.id, replica: session.replica }
  }

  /** UNWATCH: false when this node serves no such watch. */
  stop(watchId: string): boolean {
    const session = this.#sessions.get(watchId)
    if (session === undefined) return false
    this.#end(session, true)
    return true
  }

  #push(session: Session, event: KvCrdtWatchEventView): void {
    if (session.ended) return
    session.buffer.push(event)
    if (session.buffer.length >= kvCrdtWireLimits.watchEventsPerMessageMax) this.#flush(session)
    else if (!session.flushQueued) {
      session.flushQueued = true
      setImmediate(() => {
        session.flushQueued = false
        this.#flush(session)
      })
    }
  }

  #flush(session: Session): void {
    if (session.buffer.length === 0) return
    const events = session.buffer
    session.buffer = []
    session.seq += 1
    const message: KvCrdtWatchMessage = { watchId: session.id, seq: session.seq, replica: session.replica, events }
    const copies = this.#router.publishLocal(session.deliver, undefined, undefined, encoder.encode(JSON.stringify(message)))
    if (copies === 0 && !session.ended) {
      this.#logger.debug({ watch: session.id, bucket: session.bucket }, 'crdt kv: a watch reached no one; stopped')
      this.#end(session, false)
    }
  }

  /** `flushFirst`: send what is buffered (a stop asked for); else it was sent or is moot. */
  #end(session: Session, flushFirst: boolean): void {
    if (flushFirst) this.#flush(session)
    if (!session.ended) {
      session.ended = true
      this.#sessions.delete(session.id)
      session.subscription?.unsubscribe()
    }
    // The last message (an `end`) was pushed before: send it now.
    if (!flushFirst) this.#flush(session)
  }

  #checkInterest(): void {
    for (const session of [...this.#sessions.values()]) {
      if (!this.#router.hasInterest(session.deliver)) this.#end(session, false)
    }
  }

  /** Ends every watch (the node is stopping; replicas sent their `end` as they stopped). */
  close(): void {
    clearInterval(this.#timer)
    for (const session of [...this.#sessions.values()]) this.#end(session, true)
  }
}
