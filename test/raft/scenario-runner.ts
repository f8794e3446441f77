// An interpreter for readable Raft scenario scripts (etcd-raft `testdata` style). A script is a
// list of commands, one per line; `#` starts a comment. Every `expect` line asserts a fact; a
// failure names the script file and line. After every command the runner also checks the
// safety invariants itself: at most one leader per term, and every node applies the same entry
// at a given index. See test/raft/README.md for the command reference.
import type { ConfChangeKind, Entry, Message, MessageType, NodeId, Ready } from '../../control-plane/raft/index.js'
import { MemoryStorage, ProposalDropped, RaftFatalError, RawNode, messageTypes, storageOperations } from '../../control-plane/raft/index.js'
import type { StorageOperation } from '../../control-plane/raft/index.js'
import type { Args, NodeOptions, SimNode } from './scenario-support.js'
import {
  ScriptFailure,
  describeEntry,
  describeMessage,
  idList,
  makeRandom,
  parseArgs,
  parseBoolean,
  parseInteger,
  textDecoder,
  textEncoder,
} from './scenario-support.js'
import type { ScenarioView } from './scenario-expectations.js'
import { expectFact } from './scenario-expectations.js'

export interface ScenarioResult {
  readonly failures: string[]
  readonly trace: string[]
}

const maxStabilizeRounds = 10_000

export function runScenario(text: string, fileName: string): ScenarioResult {
  return new ScenarioEnvironment(fileName).run(text)
}

class ScenarioEnvironment implements ScenarioView {
  readonly nodes = new Map<NodeId, SimNode>()
  network: Message[] = []
  private partition: NodeId[][] | undefined = undefined
  private bootstrapVoters: NodeId[] = []
  private verbose = false
  private readonly trace: string[] = []
  private readonly failures: string[] = []
  private readonly leaderOfTerm = new Map<number, NodeId>()
  private readonly appliedAt = new Map<number, string>()
  readonly expectedStopped = new Set<NodeId>()

  constructor(private readonly fileName: string) {}

  run(text: string): ScenarioResult {
    const lines = text.split('\n')
    let sawCommand = false
    for (const [i, rawLine] of lines.entries()) {
      const line = rawLine.replace(/#.*$/, '').trim()
      if (line === '') continue
      sawCommand = true
      const where = `${this.fileName}:${i + 1}`
      this.trace.push(`> ${line}`)
      try {
        this.execute(line.split(/\s+/))
        this.checkInvariants()
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        this.failures.push(`${where}: ${line}: ${message}`)
        if (!(error instanceof ScriptFailure)) break // an unexpected crash ends the script
      }
    }
    if (!sawCommand) this.failures.push(`${this.fileName}: the script has no commands`)
    for (const node of this.nodes.values()) {
      if (node.stoppedReason !== null && node.stoppedReason !== 'stopped by script' && !this.expectedStopped.has(node.id)) {
        this.failures.push(`${this.fileName}: node ${node.id} stopped unexpectedly: ${node.stoppedReason}`)
      }
    }
    return { failures: this.failures, trace: this.trace }
  }

  private log(line: string): void {
    if (this.verbose) this.trace.push(`  ${line}`)
  }

  node(id: string | undefined): SimNode {
    const node = id === undefined ? undefined : this.nodes.get(id)
    if (node === undefined) throw new ScriptFailure(`unknown node ${String(id)}`)
    return node
  }

  running(id: string | undefined): RawNode {
    const node = this.node(id)
    if (node.raw === undefined) throw new ScriptFailure(`node ${node.id} is stopped (${String(node.stoppedReason)})`)
    return node.raw
  }

  /** Node selectors: "1", "1,2,3" or "all". */
  select(spec: string | undefined): SimNode[] {
    if (spec === 'all') return [...this.nodes.values()]
    return idList(spec).map((id) => this.node(id))
  }

  private stopNode(node: SimNode, reason: string): void {
    node.raw = undefined
    node.stoppedReason = reason
    this.trace.push(`  node ${node.id} stopped: ${reason}`)
  }

  /** Runs an action on a node; a RaftFatalError stops that node (as a real driver must). */
  private onNode(node: SimNode, action: (raw: RawNode) => void): void {
    if (node.raw === undefined) return
    try {
      action(node.raw)
    } catch (error) {
      if (error instanceof RaftFatalError) this.stopNode(node, error.message)
      else throw error
    }
  }

  private execute(tokens: string[]): void {
    const [command = '', ...rest] = tokens
    const args = parseArgs(rest)
    const p = args.positional
    switch (command) {
      case 'add-nodes':
        return this.addNodes(args)
      case 'campaign':
        return this.onNode(this.node(p[0]), (raw) => raw.campaign())
      case 'propose':
        return this.propose(args, (raw) => {
          const size = args.named.get('bytes')
          const data = size === undefined ? (p[1] ?? '') : 'x'.repeat(parseInteger(size, 'bytes'))
          raw.propose(textEncoder.encode(data))
        })
      case 'propose-conf-change':
        return this.propose(args, (raw) => raw.proposeConfChange({ kind: this.confChangeKind(p[1]), nodeId: this.requireString(p[2], 'node id') }))
      case 'tick':
        for (const node of this.select(p[0])) for (let i = 0; i < parseInteger(p[1] ?? '1', 'ticks'); i++) this.onNode(node, (raw) => raw.tick())
        return
      case 'run': {
        // run N: N rounds of "tick every running node once, then stabilize" (virtual time).
        const rounds = parseInteger(p[0], 'rounds')
        for (let round = 0; round < rounds; round++) {
          for (const node of this.nodes.values()) this.onNode(node, (raw) => raw.tick())
          this.stabilize()
        }
        return
      }
      case 'tick-election':
        for (const node of this.select(p[0])) for (let i = 0; i < node.options.electionTicks; i++) this.onNode(node, (raw) => raw.tick())
        return
      case 'tick-heartbeat':
        for (const node of this.select(p[0])) for (let i = 0; i < node.options.heartbeatTicks; i++) this.onNode(node, (raw) => raw.tick())
        return
      case 'process-ready':
        for (const node of this.select(p[0] ?? 'all')) this.processReady(node)
        return
      case 'deliver':
        return this.deliver(args)
      case 'duplicate':
        this.network.push(...this.network.filter((m) => this.matches(m, args.named)))
        return
      case 'stabilize':
        return this.stabilize()
      case 'partition':
        return this.setPartition(rest)
      case 'heal':
        this.partition = undefined
        return
      case 'restart':
        return this.restart(this.node(p[0]), args)
      case 'stop':
        return this.stopNode(this.node(p[0]), 'stopped by script')
      case 'fail-storage':
        return this.node(p[0]).storage.failNext(this.storageOperation(p[1]), parseInteger(args.named.get('count') ?? '1', 'count'))
      case 'compact': {
        // compact 1 5, or compact 1 applied (at the applied index; a no-op if nothing new)
        const node = this.node(p[0])
        if (p[1] !== 'applied') return this.compact(node, parseInteger(p[1], 'compact index'))
        if (node.raw === undefined) return
        const applied = node.raw.status().applied
        if (applied > node.storage.snapshot().metadata.index && applied <= node.storage.lastIndex()) this.compact(node, applied)
        return
      }
      case 'read-index':
        return this.onNode(this.node(p[0]), (raw) => raw.readIndex(textEncoder.encode(this.requireString(p[1], 'context'))))
      case 'transfer-leader':
        return this.onNode(this.node(p[0]), (raw) => raw.transferLeadership(this.requireString(p[1], 'transferee')))
      case 'report-unreachable':
        return this.onNode(this.node(p[0]), (raw) => raw.reportUnreachable(this.requireString(p[1], 'peer')))
      case 'report-snapshot':
        return this.onNode(this.node(p[0]), (raw) => raw.reportSnapshot(this.requireString(p[1], 'peer'), p[2] !== 'fail'))
      case 'status':
        for (const node of this.select(p[0] ?? 'all')) this.trace.push(`  status ${node.id}: ${node.raw === undefined ? 'stopped' : JSON.stringify(node.raw.status())}`)
        return
      case 'log-level':
        this.verbose = p[0] === 'debug'
        return
      case 'expect':
        return this.expect(rest)
      default:
        throw new ScriptFailure(`unknown command ${command}`)
    }
  }

  requireString(value: string | undefined, what: string): string {
    if (value === undefined || value === '') throw new ScriptFailure(`missing ${what}`)
    return value
  }

  private confChangeKind(text: string | undefined): ConfChangeKind {
    switch (text) {
      case 'add-voter':
        return 'addVoter'
      case 'add-learner':
        return 'addLearner'
      case 'remove':
        return 'removeNode'
      default:
        throw new ScriptFailure(`conf change kind must be add-voter, add-learner or remove, got ${String(text)}`)
    }
  }

  private storageOperation(text: string | undefined): StorageOperation {
    const operation = storageOperations.find((op) => op === text)
    if (operation === undefined) throw new ScriptFailure(`unknown storage operation ${String(text)}`)
    return operation
  }

  private addNodes(args: Args): void {
    const count = parseInteger(args.positional[0], 'node count')
    const first = this.nodes.size + 1
    const newIds = Array.from({ length: count }, (_, i) => String(first + i))
    const votersText = args.named.get('voters')
    const voters = votersText !== undefined ? idList(votersText) : this.nodes.size === 0 ? newIds : this.bootstrapVoters
    const learners = idList(args.named.get('learners'))
    if (this.nodes.size === 0) this.bootstrapVoters = voters
    const named = args.named
    const optionalInt = (key: string): number | undefined => (named.has(key) ? parseInteger(named.get(key), key) : undefined)
    const options: NodeOptions = {
      electionTicks: optionalInt('election') ?? 10,
      heartbeatTicks: optionalInt('heartbeat') ?? 1,
      preVote: parseBoolean(named.get('prevote'), false),
      checkQuorum: parseBoolean(named.get('checkquorum'), false),
      disableProposalForwarding: !parseBoolean(named.get('forwarding'), true),
    }
    const maxInflightMsgs = optionalInt('max-inflight')
    if (maxInflightMsgs !== undefined) options.maxInflightMsgs = maxInflightMsgs
    const maxInflightBytes = optionalInt('max-inflight-bytes')
    if (maxInflightBytes !== undefined) options.maxInflightBytes = maxInflightBytes
    const maxSizePerMsg = optionalInt('max-msg-bytes')
    if (maxSizePerMsg !== undefined) options.maxSizePerMsg = maxSizePerMsg
    const maxUncommitted = optionalInt('max-uncommitted')
    if (maxUncommitted !== undefined) options.maxUncommittedEntriesSize = maxUncommitted
    const seed = optionalInt('seed')
    if (seed !== undefined) options.seed = seed
    for (const [i, id] of newIds.entries()) {
      const storage = new MemoryStorage({ voters, learners })
      const node: SimNode = { id, storage, options: { ...options, ...(seed === undefined ? {} : { seed: seed + i }) }, raw: undefined, stoppedReason: null, applied: [], readStates: [] }
      node.raw = this.createRawNode(node, 0)
      this.nodes.set(id, node)
    }
    this.trace.push(`  added ${newIds.join(',')} voters=${voters.join(',')} learners=${learners.join(',') || 'none'}`)
  }

  private createRawNode(node: SimNode, applied: number): RawNode {
    const o = node.options
    return new RawNode({
      id: node.id,
      storage: node.storage,
      random: makeRandom(o.seed),
      electionTicks: o.electionTicks,
      heartbeatTicks: o.heartbeatTicks,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      disableProposalForwarding: o.disableProposalForwarding,
      applied,
      ...(o.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: o.maxInflightMsgs }),
      ...(o.maxInflightBytes === undefined ? {} : { maxInflightBytes: o.maxInflightBytes }),
      ...(o.maxSizePerMsg === undefined ? {} : { maxSizePerMsg: o.maxSizePerMsg }),
      ...(o.maxUncommittedEntriesSize === undefined ? {} : { maxUncommittedEntriesSize: o.maxUncommittedEntriesSize }),
    })
  }

  private propose(args: Args, action: (raw: RawNode) => void): void {
    const expectedDrop = args.named.get('dropped')
    const node = this.node(args.positional[0])
    try {
      this.onNode(node, action)
    } catch (error) {
      if (!(error instanceof ProposalDropped)) throw error
      this.trace.push(`  proposal dropped: ${error.message}`)
      if (expectedDrop === undefined) throw new ScriptFailure(`proposal unexpectedly dropped: ${error.message}`)
      if (expectedDrop !== 'any' && expectedDrop !== 'maybe' && expectedDrop !== error.reason) {
        throw new ScriptFailure(`proposal dropped for ${error.reason}, expected ${expectedDrop}`)
      }
      return
    }
    if (expectedDrop !== undefined && expectedDrop !== 'maybe') throw new ScriptFailure(`proposal was accepted, expected it dropped (${expectedDrop})`)
  }

  private processReady(node: SimNode): boolean {
    const raw = node.raw
    if (raw === undefined) return false
    let rd: Ready | undefined
    this.onNode(node, (r) => {
      if (r.hasReady()) rd = r.ready()
    })
    if (rd === undefined) return false
    const ready = rd
    // 1. persist: snapshot, entries, hard state. A storage error stops the node, unsent.
    try {
      if (ready.snapshot !== undefined) node.storage.applySnapshot(ready.snapshot)
      node.storage.append(ready.entries)
      if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState)
    } catch (error) {
      this.stopNode(node, `storage error while persisting: ${error instanceof Error ? error.message : String(error)}`)
      return true
    }
    if (ready.softState !== undefined) this.log(`${node.id}: became ${ready.softState.role} (leader ${ready.softState.leader ?? 'none'})`)
    if (ready.entries.length > 0) this.log(`${node.id}: persisted ${ready.entries.map(describeEntry).join(' ')}`)
    // 2. send
    for (const m of ready.messages) this.log(`${node.id}: send ${describeMessage(m)}`)
    this.network.push(...ready.messages)
    // 3. apply
    if (ready.snapshot !== undefined) {
      node.applied = JSON.parse(textDecoder.decode(ready.snapshot.data) || '[]') as { index: number; data: string }[]
      this.log(`${node.id}: applied snapshot ${ready.snapshot.metadata.index}`)
    }
    for (const entry of ready.committedEntries) {
      this.recordApplied(node, entry)
      if (entry.type === 'normal' && entry.data.length > 0) node.applied.push({ index: entry.index, data: textDecoder.decode(entry.data) })
    }
    if (ready.committedEntries.length > 0) this.log(`${node.id}: applied ${ready.committedEntries.map(describeEntry).join(' ')}`)
    // 4. reads
    for (const rs of ready.readStates) {
      node.readStates.push({ index: rs.index, context: textDecoder.decode(rs.requestContext) })
      this.log(`${node.id}: read state ${textDecoder.decode(rs.requestContext)} at ${rs.index}`)
    }
    // 5. advance
    this.onNode(node, (r) => r.advance(ready))
    return true
  }

  private recordApplied(node: SimNode, entry: Entry): void {
    const fingerprint = `${entry.term}/${entry.type}/${textDecoder.decode(entry.data)}`
    const previous = this.appliedAt.get(entry.index)
    if (previous === undefined) this.appliedAt.set(entry.index, fingerprint)
    else if (previous !== fingerprint) {
      throw new Error(`state machine safety violated: node ${node.id} applied ${fingerprint} at ${entry.index}, another node applied ${previous}`)
    }
  }

  private partitioned(from: NodeId, to: NodeId): boolean {
    if (this.partition === undefined) return false
    const groupOf = (id: NodeId): number => this.partition?.findIndex((group) => group.includes(id)) ?? -1
    return groupOf(from) !== groupOf(to)
  }

  matches(m: Message, named: ReadonlyMap<string, string>): boolean {
    const from = named.get('from')
    const to = named.get('to')
    const type = named.get('type')
    if (type !== undefined && !messageTypes.includes(type as MessageType)) throw new ScriptFailure(`unknown message type ${type}`)
    if (from !== undefined && !idList(from).includes(m.from)) return false
    if (to !== undefined && !idList(to).includes(m.to)) return false
    if (type !== undefined && m.type !== type) return false
    for (const [key, value] of named) {
      if (key === 'index' && String(m.index) !== value) return false
      if (key === 'term' && String(m.term) !== value) return false
      if (key === 'reject' && String(m.reject) !== value) return false
      if (key === 'entries' && String(m.entries.length) !== value) return false
    }
    return true
  }

  /** Delivers (or drops) the in-flight messages that match; new messages wait for the next call. */
  private deliver(args: Args): void {
    const drop = parseBoolean(args.named.get('drop'), false)
    const reverse = parseBoolean(args.named.get('reverse'), false)
    const limit = args.named.has('count') ? parseInteger(args.named.get('count'), 'count') : Number.POSITIVE_INFINITY
    const selected: Message[] = []
    const kept: Message[] = []
    for (const m of this.network) {
      if (selected.length < limit && this.matches(m, args.named)) selected.push(m)
      else kept.push(m)
    }
    this.network = kept
    if (reverse) selected.reverse()
    for (const m of selected) {
      if (drop) this.log(`drop ${describeMessage(m)}`)
      else this.deliverOne(m)
    }
  }

  private deliverOne(m: Message): void {
    const target = this.nodes.get(m.to)
    if (target === undefined || target.raw === undefined) {
      this.log(`lost (target down) ${describeMessage(m)}`)
      return
    }
    if (this.partitioned(m.from, m.to)) {
      this.log(`lost (partition) ${describeMessage(m)}`)
      return
    }
    this.log(`deliver ${describeMessage(m)}`)
    this.onNode(target, (raw) => raw.step(m))
  }

  private stabilize(): void {
    for (let round = 0; round < maxStabilizeRounds; round++) {
      let progressed = false
      for (const node of this.nodes.values()) if (this.processReady(node)) progressed = true
      if (this.network.length > 0) {
        progressed = true
        const batch = this.network
        this.network = []
        for (const m of batch) this.deliverOne(m)
      }
      if (!progressed) return
    }
    throw new ScriptFailure(`did not stabilize within ${maxStabilizeRounds} rounds`)
  }

  private setPartition(tokens: string[]): void {
    const groups: NodeId[][] = [[]]
    for (const token of tokens) {
      if (token === '|') groups.push([])
      else (groups[groups.length - 1] as NodeId[]).push(...idList(token))
    }
    const listed = new Set(groups.flat())
    const rest = [...this.nodes.keys()].filter((id) => !listed.has(id))
    if (rest.length > 0) groups.push(rest)
    this.partition = groups
    this.trace.push(`  partition ${groups.map((g) => g.join(',')).join(' | ')}`)
  }

  private restart(node: SimNode, args: Args): void {
    // Only what reached storage survives; the application restarts from the stored snapshot.
    const snapshot = node.storage.snapshot()
    node.applied = JSON.parse(textDecoder.decode(snapshot.data) || '[]') as { index: number; data: string }[]
    node.readStates = []
    const applied = args.named.has('applied') ? parseInteger(args.named.get('applied'), 'applied') : 0
    try {
      node.raw = this.createRawNode(node, applied)
      node.stoppedReason = null
    } catch (error) {
      this.stopNode(node, error instanceof Error ? error.message : String(error))
    }
  }

  private compact(node: SimNode, index: number): void {
    const raw = this.running(node.id)
    const status = raw.status()
    if (status.applied < index) throw new ScriptFailure(`cannot compact ${node.id} at ${index}: applied is ${status.applied}`)
    const data = textEncoder.encode(JSON.stringify(node.applied.filter((a) => a.index <= index)))
    node.storage.createSnapshot(index, status.confState, data)
    node.storage.compact(index)
  }

  private checkInvariants(): void {
    for (const node of this.nodes.values()) {
      if (node.raw === undefined) continue
      const status = node.raw.status()
      if (status.role !== 'leader') continue
      const other = this.leaderOfTerm.get(status.term)
      if (other !== undefined && other !== node.id) {
        throw new Error(`election safety violated: ${other} and ${node.id} both led term ${status.term}`)
      }
      this.leaderOfTerm.set(status.term, node.id)
    }
  }

  private expect(tokens: string[]): void {
    expectFact(this, tokens)
  }
}
