// Per-peer state with deduplicated transitions, published as an Observable.
import { Subject } from 'rxjs'
import type { PeerState, PeerStatus } from './types.js'

export class PeerStatusBoard {
  private readonly subject = new Subject<PeerStatus>()
  readonly status$ = this.subject.asObservable()
  private readonly states = new Map<string, PeerState>()

  get(peer: string): PeerState | undefined {
    return this.states.get(peer)
  }

  /** Publishes only a change of state (a new reason for the same state is not a change). */
  set(peer: string, state: PeerState, reason?: string): void {
    if (this.states.get(peer) === state) return
    if (state === 'down' && !this.states.has(peer)) return
    this.states.set(peer, state)
    this.subject.next(reason === undefined || state !== 'down' ? { peer, state } : { peer, state, reason })
  }

  complete(): void {
    this.subject.complete()
  }
}
