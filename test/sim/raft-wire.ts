// What travels on the simulated network between servers and clients, and its one-line trace form.

import type { Message } from '../../control-plane/raft/index.js'
import type { KvInput, KvOutput } from '../lincheck/index.js'

export type SimWireMessage =
  | { readonly kind: 'raft'; readonly message: Message }
  | { readonly kind: 'request'; readonly requestId: number; readonly op: KvInput }
  | { readonly kind: 'response'; readonly requestId: number; readonly output: KvOutput }
  /** The server refused before appending anything (no leader...): the operation did not happen. */
  | { readonly kind: 'rejected'; readonly requestId: number; readonly reason: string }

export function describeWire(wire: SimWireMessage): string {
  switch (wire.kind) {
    case 'raft': {
      const m = wire.message
      const entries = m.entries.length > 0 ? ` e${m.entries[0]!.index}+${m.entries.length}` : ''
      const snapshot = m.snapshot ? ` s${m.snapshot.metadata.index}` : ''
      return `${m.type} t${m.term} i${m.index} lt${m.logTerm} c${m.commit}${entries}${snapshot}${m.reject ? ` R${m.rejectHint}` : ''}`
    }
    case 'request':
      return `req#${wire.requestId} ${JSON.stringify(wire.op)}`
    case 'response':
      return `resp#${wire.requestId} ${JSON.stringify(wire.output)}`
    case 'rejected':
      return `rejected#${wire.requestId} ${wire.reason}`
  }
}
