// Test helpers for the cluster state machine: a harness that applies commands with increasing
// log indexes and checks the invariants after every step, plus command builders with defaults.
import { apply, assertInvariants, emptyState } from '../../control-plane/cluster/index.js'
import type { ApplyOutput, ClusterState, Command, CommandOf } from '../../control-plane/cluster/index.js'

export class Harness {
  state: ClusterState = emptyState()
  index = 0
  timeMs = 1_700_000_000_000

  run(command: Command): ApplyOutput {
    this.index += 1
    this.timeMs += 10
    const previous = this.state
    const output = apply(previous, command, { index: this.index, timeMs: this.timeMs })
    assertInvariants(output.state, previous)
    if (!output.result.ok && output.state.lastAppliedIndex !== this.index) throw new Error('rejected entry not recorded as applied')
    this.state = output.state
    return output
  }

  /** Runs and requires success; returns the output. */
  must(command: Command): ApplyOutput {
    const output = this.run(command)
    if (!output.result.ok) throw new Error(`${command.type} failed: ${output.result.code} ${output.result.message}`)
    return output
  }
}

export function streamCommand(overrides: Partial<CommandOf<'ensureStream'>> = {}): CommandOf<'ensureStream'> {
  return {
    type: 'ensureStream',
    namespace: 'default',
    name: 'orders',
    kind: 'persistent',
    regions: ['us-east'],
    replicasPerRegion: 3,
    dedupWindowMs: 120_000,
    retention: { maxAgeMs: 0, maxBytes: 0, maxEvents: 0 },
    ackDefault: 'majority',
    deadLetter: { maxDeliveries: 5, maxLag: 10_000 },
    ...overrides,
  }
}

export function nodeCommand(nodeId: string, region = 'us-east', tags: Record<string, string> = {}): CommandOf<'addNode'> {
  return {
    type: 'addNode',
    nodeId,
    clientAddress: `${nodeId}.example:4222`,
    peerAddress: `${nodeId}.example:6222`,
    adminAddress: `http://${nodeId}.example:8222`,
    region,
    masterEligible: true,
    tags,
  }
}

export function groupCommand(overrides: Partial<CommandOf<'ensureConsumerGroup'>> = {}): CommandOf<'ensureConsumerGroup'> {
  return {
    type: 'ensureConsumerGroup',
    namespace: 'default',
    stream: 'orders',
    name: 'billing',
    mode: 'load-balanced',
    maxInFlight: 100,
    ackWaitMs: 30_000,
    maxDeliveries: 5,
    start: { from: 'beginning' },
    ...overrides,
  }
}

export function pipelineCommand(overrides: Partial<CommandOf<'ensurePipeline'>> = {}): CommandOf<'ensurePipeline'> {
  return {
    type: 'ensurePipeline',
    namespace: 'default',
    name: 'fulfil',
    triggerStream: 'orders',
    stages: [
      { name: 'validate', after: [], dependencies: [] },
      { name: 'charge', after: [], dependencies: ['validate'] },
      { name: 'ship', after: ['charge'], dependencies: [] },
    ],
    ...overrides,
  }
}

/** Three active nodes in us-east, zones a/b/c. */
export function threeNodeCluster(): Harness {
  const h = new Harness()
  h.must(nodeCommand('n1', 'us-east', { zone: 'a' }))
  h.must(nodeCommand('n2', 'us-east', { zone: 'b' }))
  h.must(nodeCommand('n3', 'us-east', { zone: 'c' }))
  return h
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
export const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value))
