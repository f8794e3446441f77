// The replicated key-value state machine the Raft simulation drives: commands are put / get /
// cas / delete tagged with (clientId, requestId). Deduplication is part of the state machine:
// a client's request applies at most once (the network duplicates messages, and a retried or
// forwarded proposal may be committed twice), and a request older than the client's latest
// applied one is ignored — allowed, since its client already gave up on it.

import type { KvInput, KvOutput } from '../lincheck/index.js'

export interface KvCommand {
  readonly clientId: string
  readonly requestId: number
  readonly op: KvInput
}

interface ClientRecord {
  readonly requestId: number
  readonly output: KvOutput
}

export interface KvSnapshotData {
  readonly values: Readonly<Record<string, string>>
  readonly clients: Readonly<Record<string, ClientRecord>>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command))
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand
}

export type ApplyOutcome =
  | { readonly kind: 'applied'; readonly output: KvOutput }
  /** The same request applied before: answer with the recorded output. */
  | { readonly kind: 'duplicate'; readonly output: KvOutput }
  /** Older than the client's latest: the client stopped waiting for it. */
  | { readonly kind: 'stale' }

export class KvStateMachine {
  private values = new Map<string, string>()
  private clients = new Map<string, ClientRecord>()

  static fromSnapshot(data: Uint8Array): KvStateMachine {
    const machine = new KvStateMachine()
    if (data.length === 0) return machine
    const parsed = JSON.parse(decoder.decode(data)) as KvSnapshotData
    machine.values = new Map(Object.entries(parsed.values))
    machine.clients = new Map(Object.entries(parsed.clients))
    return machine
  }

  snapshot(): Uint8Array {
    const sorted = <V>(map: Map<string, V>): Record<string, V> =>
      Object.fromEntries([...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    const data: KvSnapshotData = { values: sorted(this.values), clients: sorted(this.clients) }
    return encoder.encode(JSON.stringify(data))
  }

  /** A read served from local state (after ReadIndex, or stale when the bug is on). */
  read(key: string): string | null {
    return this.values.get(key) ?? null
  }

  apply(command: KvCommand): ApplyOutcome {
    const previous = this.clients.get(command.clientId)
    if (previous !== undefined) {
      if (command.requestId === previous.requestId) return { kind: 'duplicate', output: previous.output }
      if (command.requestId < previous.requestId) return { kind: 'stale' }
    }
    const output = this.execute(command.op)
    this.clients.set(command.clientId, { requestId: command.requestId, output })
    return { kind: 'applied', output }
  }

  private execute(op: KvInput): KvOutput {
    switch (op.kind) {
      case 'put':
        this.values.set(op.key, op.value)
        return { kind: 'put' }
      case 'delete':
        this.values.delete(op.key)
        return { kind: 'delete' }
      case 'get':
        return { kind: 'get', value: this.read(op.key) }
      case 'cas': {
        const ok = this.read(op.key) === op.expected
        if (ok) this.values.set(op.key, op.value)
        return { kind: 'cas', ok }
      }
    }
  }
}
