// Raft's safety properties (Raft paper, Figure 3), checked continuously while the simulation
// runs. Each check is incremental so it can run on every event:
// - election safety: at most one leader per term;
// - log matching: entries with the same (index, term) carry the same data and follow an entry
//   of the same term — by induction, the logs are identical up to there;
// - leader completeness: a new leader's log holds every entry known to be committed;
// - state machine safety: no two nodes apply different entries at one index;
// - applied index never goes back within one incarnation of a node;
// - durability: every committed entry stays on a majority of the voters' disks (or inside
//   their snapshots), through crashes;
// - persist before send: no message promises a term, vote or log entry not yet durable.
// A violation throws SimViolation carrying the seed.

import { decodeConfChange, nextConfState } from '../../control-plane/raft/index.js'
import type { ConfState, Entry, Message, NodeId, Snapshot } from '../../control-plane/raft/index.js'

export class SimViolation extends Error {
  override readonly name = 'SimViolation'
  /** One line without the reproduction hint (the CLI adds its own, with its flags). */
  readonly summary: string
  constructor(
    readonly seed: number,
    readonly invariant: string,
    detail: string,
    readonly atMs: number,
  ) {
    const summary = `seed ${seed}: ${invariant} violated at ${atMs} ms: ${detail}`
    super(`${summary}\n  reproduce: npm run sim -- --seed ${seed}`)
    this.summary = summary
  }
}

/** A cheap fingerprint of an entry's content (type + FNV-1a of the data). */
export function entryFingerprint(entry: Entry): string {
  let hash = 0x811c9dc5
  for (const byte of entry.data) hash = Math.imul(hash ^ byte, 0x01000193)
  return `${entry.type}:${entry.data.length}:${(hash >>> 0).toString(16)}`
}

/** What the checker can ask about a node's durable log. */
export interface DurableLogView {
  readonly snapshotIndex: number
  readonly snapshotTerm: number
  /** Term of the entry at `index`, or undefined if the log does not hold it. */
  termAt(index: number): number | undefined
  lastIndex(): number
}

interface CommittedEntry {
  readonly term: number
  readonly fingerprint: string
  readonly firstAppliedBy: NodeId
}

export class RaftInvariants {
  private readonly leaderByTerm = new Map<number, NodeId>()
  /** `${index}:${term}` → data fingerprint and previous entry's term. */
  private readonly logEntries = new Map<string, { readonly fingerprint: string; readonly previousTerm: number | undefined }>()
  /** index → the entry applied there (by anyone): the committed prefix as seen so far. */
  private readonly committed = new Map<number, CommittedEntry>()
  private committedIndexMax = 0
  private readonly appliedIndex = new Map<NodeId, number>()
  /** The configuration after every applied conf change, in index order (genesis first). */
  private committedConfig: ConfState

  constructor(
    private readonly seed: number,
    private readonly nowMs: () => number,
    genesis: ConfState,
  ) {
    this.committedConfig = genesis
  }

  /** The latest configuration any node has applied. */
  get latestCommittedConfig(): ConfState {
    return this.committedConfig
  }

  private fail(invariant: string, detail: string): never {
    throw new SimViolation(this.seed, invariant, detail, this.nowMs())
  }

  get committedCount(): number {
    return this.committed.size
  }

  get highestCommittedIndex(): number {
    return this.committedIndexMax
  }

  observeLeader(node: NodeId, term: number): void {
    const existing = this.leaderByTerm.get(term)
    if (existing === undefined) this.leaderByTerm.set(term, node)
    else if (existing !== node) this.fail('election safety', `term ${term} has leaders ${existing} and ${node}`)
  }

  get leaderTermsCount(): number {
    return this.leaderByTerm.size
  }

  /** Entries about to be persisted by `node`; `previousTerm` is the term of the entry before the first. */
  observePersistedEntries(node: NodeId, entries: readonly Entry[], previousTerm: number | undefined): void {
    let before = previousTerm
    for (const entry of entries) {
      const key = `${entry.index}:${entry.term}`
      const fingerprint = entryFingerprint(entry)
      const known = this.logEntries.get(key)
      if (known === undefined) {
        this.logEntries.set(key, { fingerprint, previousTerm: before })
      } else {
        if (known.fingerprint !== fingerprint) {
          this.fail('log matching', `${node} has a different entry at index ${entry.index} term ${entry.term}`)
        }
        if (known.previousTerm !== undefined && before !== undefined && known.previousTerm !== before) {
          this.fail(
            'log matching',
            `${node}: entry ${entry.index}/${entry.term} follows term ${before}, elsewhere term ${known.previousTerm}`,
          )
        }
      }
      before = entry.term
    }
  }

  /**
   * The Ready contract: a message may only promise what is durable. Checked as each message
   * leaves, against the sender's synced state: its term (pre-vote traffic excepted: it carries
   * a term not yet adopted), a granted vote, and the log an append acknowledgement vouches for.
   */
  checkMessagePersisted(
    node: NodeId,
    message: Message,
    durable: { readonly term: number; readonly vote: NodeId | null; readonly lastIndex: number },
  ): void {
    if (message.type === 'preVote' || message.type === 'preVoteResp' || message.term === 0) return
    const what = `${message.type} term ${message.term} index ${message.index} to ${message.to}`
    if (message.term > durable.term) this.fail('persist before send', `${node} sent ${what} with durable term ${durable.term}`)
    if (message.type === 'voteResp' && !message.reject && message.term === durable.term && durable.vote !== message.to) {
      this.fail('persist before send', `${node} granted its vote (${what}) with durable vote ${String(durable.vote)}`)
    }
    if (message.type === 'appResp' && !message.reject && message.term === durable.term && message.index > durable.lastIndex) {
      this.fail('persist before send', `${node} acknowledged ${what} with durable last index ${durable.lastIndex}`)
    }
  }

  /** A node restarted: its applied index restarts from its snapshot (state is rebuilt). */
  resetApplied(node: NodeId, appliedIndex: number): void {
    this.appliedIndex.set(node, appliedIndex)
  }

  observeApplySnapshot(node: NodeId, snapshot: Snapshot): void {
    const applied = this.appliedIndex.get(node) ?? 0
    const { index, term } = snapshot.metadata
    if (index < applied) this.fail('applied never goes back', `${node} applied snapshot ${index} after applying ${applied}`)
    const known = this.committed.get(index)
    if (known !== undefined && known.term !== term) {
      this.fail('state machine safety', `${node} snapshot at ${index} has term ${term}, applied elsewhere with term ${known.term}`)
    }
    this.appliedIndex.set(node, index)
  }

  observeApply(node: NodeId, entry: Entry): void {
    const applied = this.appliedIndex.get(node) ?? 0
    if (entry.index !== applied + 1) {
      this.fail('applied never goes back', `${node} applied index ${entry.index} right after ${applied}`)
    }
    this.appliedIndex.set(node, entry.index)
    const fingerprint = entryFingerprint(entry)
    const known = this.committed.get(entry.index)
    if (known === undefined) {
      // Nodes apply contiguously, so first applications arrive in index order.
      this.committed.set(entry.index, { term: entry.term, fingerprint, firstAppliedBy: node })
      if (entry.index > this.committedIndexMax) this.committedIndexMax = entry.index
      if (entry.type === 'confChange') this.committedConfig = nextConfState(this.committedConfig, decodeConfChange(entry.data))
    } else if (known.term !== entry.term || known.fingerprint !== fingerprint) {
      this.fail(
        'state machine safety',
        `${node} applied ${entry.index}/${entry.term} (${fingerprint}); ${known.firstAppliedBy} applied ${entry.index}/${known.term} (${known.fingerprint})`,
      )
    }
  }

  /**
   * Raft §5.4: a leader's log contains every entry committed in earlier terms. Call once its log
   * is persisted. Entries of its own term or later are skipped: by the time this runs (after a
   * simulated fsync) a newer leader may already have committed entries this one never saw.
   */
  checkLeaderCompleteness(node: NodeId, leaderTerm: number, log: DurableLogView): void {
    for (const [index, known] of this.committed) {
      if (known.term >= leaderTerm || index <= log.snapshotIndex) continue
      const term = index > log.lastIndex() ? undefined : log.termAt(index)
      if (term !== known.term) {
        this.fail(
          'leader completeness',
          `${node} leads term ${leaderTerm} without committed entry ${index}/${known.term} (its log has term ${String(term)}, last index ${log.lastIndex()})`,
        )
      }
    }
  }

  /**
   * Every committed entry must survive on the durable logs (or under the snapshots) of enough
   * voters of the latest committed configuration that every majority of it holds one copy: more
   * than |voters| - majority of them. For an odd-sized configuration that is a majority. (With
   * single-server changes an entry committed under the previous configuration meets this in the
   * next one: adjacent configurations' majorities intersect.) Crashed nodes count by their disks.
   */
  checkDurability(logs: ReadonlyMap<NodeId, DurableLogView>): void {
    const voters = this.committedConfig.voters
    const majority = Math.floor(voters.length / 2) + 1
    const needed = voters.length - majority + 1
    const views = voters.map((voter) => logs.get(voter)).filter((view): view is DurableLogView => view !== undefined)
    for (const [index, known] of this.committed) {
      let holders = 0
      for (const view of views) {
        if (index <= view.snapshotIndex || view.termAt(index) === known.term) holders++
      }
      if (holders < needed) {
        this.fail(
          'committed entries are durable',
          `entry ${index}/${known.term} is on ${holders} of voters [${voters.join(',')}]' disks; every majority needs one (${needed})`,
        )
      }
    }
  }
}
