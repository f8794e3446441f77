// System events on `$RG.events.>`: every node publishes the ClusterEvents it applies to its own
// local subscribers. Every node applies every committed entry, and a client is connected to one
// node, so each subscriber gets each event exactly once, from the node it is connected to.
// A node also publishes `$RG.events.leader.elected` when it sees a new (leader, term), checked
// every `leaderPollMs` and after each applied event.
import type { Subscription } from 'rxjs'
import type { ClusterEvent } from '../../control-plane/cluster/index.js'
import { leaderElectedSubject } from '../../shared/api/index.js'
import type { Logger } from '../../shared/log.js'
import type { Router } from '../router.js'
import type { ControlPlane } from './control-plane-port.js'

export const leaderPollMsDefault = 100

const textEncoder = new TextEncoder()

export interface SystemEventsPublisher {
  stop(): void
}

export function publishSystemEvents(router: Router, controlPlane: ControlPlane, logger: Logger, leaderPollMs = leaderPollMsDefault): SystemEventsPublisher {
  let lastLeader: string | null = null
  let lastTerm = -1
  const checkLeader = (): void => {
    const status = controlPlane.status()
    if (status.lead === null || (status.lead === lastLeader && status.term === lastTerm)) return
    lastLeader = status.lead
    lastTerm = status.term
    const payload = { leader: status.lead, term: status.term, observer: controlPlane.id, timeMs: Date.now() }
    router.publishLocal(leaderElectedSubject, undefined, undefined, textEncoder.encode(JSON.stringify(payload)))
  }
  const subscription: Subscription = controlPlane.events$.subscribe({
    next: (event: ClusterEvent) => {
      router.publishLocal(event.subject, undefined, undefined, textEncoder.encode(JSON.stringify(event.payload)))
      checkLeader()
    },
    error: (error: unknown) => logger.warn({ err: (error as Error).message }, 'cluster events ended with an error'),
  })
  const timer = setInterval(() => {
    try {
      checkLeader()
    } catch (error) {
      logger.debug({ err: (error as Error).message }, 'leader check failed')
    }
  }, leaderPollMs)
  timer.unref()
  checkLeader()
  return {
    stop: () => {
      clearInterval(timer)
      subscription.unsubscribe()
    },
  }
}
