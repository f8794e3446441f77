// The committed close decisions of each persistent stream, per region and per life of the
// stream, kept in the control plane's linearizable KV (DESIGN §3.1: Raft decides who and what
// config). A close decision must be ONE per origin incarnation everywhere: two controllers
// (an old and a new term) may each gather a fenced majority and reach different `atSeq`s, and
// replicas that applied different decisions would deliver different orders. Committing through
// Raft with compare-and-set makes the first decision the only one: a later controller reads it
// and restates it (test/sim/region/control-plane.ts is the model).
//
// Bucket `rg-stream-closes`, key `<namespace>/<stream>/<region>/<createdIndex>` (the stream's
// life: a stream removed and created again starts a new list), value UTF-8 JSON
// `{"decisions":[…]}` in commit order. A commit is a linearizable read (the current list, the
// designation) then `kvCas` on the key's revision; a lost race re-reads. The commit is refused
// when the designation in the read state is no longer this holder's term (a stale controller),
// or when the incarnation does not hold its origin's slot any more.
import type { ApplyResult, ClusterState, Command } from '../../control-plane/cluster/index.js'
import { clusterLimits, kvGet, streamControllerName } from '../../control-plane/cluster/index.js'
import type { CloseDecision } from '../../data-plane/persistent/index.js'
import { closeFromJson, closeJson } from '../../data-plane/persistent/engine/index.js'
import { slotsAfter } from './stream-controller.js'

export const closeLedgerBucket = 'rg-stream-closes'
/** Compare-and-set attempts of one commit before it gives up (a retry later fences again). */
export const closeCommitAttemptsMax = 8

/** What the ledger needs from the control plane (ClusterNode satisfies it). */
export interface ClosePort {
  ensure(command: Command): Promise<ApplyResult>
  read<T>(read: (state: ClusterState) => T): Promise<T>
}

export interface LedgerScope {
  readonly namespace: string
  readonly stream: string
  readonly region: string
  /** The stream record's createdIndex (its life). */
  readonly createdIndex: number
}

export function ledgerKey(scope: LedgerScope): string {
  return `${scope.namespace}/${scope.stream}/${scope.region}/${scope.createdIndex}`
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeLedger(decisions: readonly CloseDecision[]): Uint8Array {
  return encoder.encode(JSON.stringify({ decisions: decisions.map(closeJson) }))
}

/** The decisions of a ledger value; throws on a malformed value (written only by this module). */
export function decodeLedger(bytes: Uint8Array): CloseDecision[] {
  const value = JSON.parse(decoder.decode(bytes)) as { decisions?: unknown }
  if (!Array.isArray(value.decisions)) throw new Error('close ledger: value without a decisions list')
  return value.decisions.map((raw) => {
    const decision = closeFromJson(raw)
    if (decision === undefined) throw new Error('close ledger: a malformed decision')
    return decision
  })
}

interface LedgerRead {
  readonly decisions: CloseDecision[]
  readonly revision: number
  readonly bucketExists: boolean
  readonly designation: { readonly holder: string | null; readonly controllerTerm: number } | undefined
}

function readLedger(state: ClusterState, scope: LedgerScope): LedgerRead {
  const entry = kvGet(state, closeLedgerBucket, ledgerKey(scope))
  const d = state.designations.get(streamControllerName(scope.namespace, scope.stream, scope.region))
  return {
    decisions: entry === undefined ? [] : decodeLedger(entry.value),
    revision: entry?.revision ?? 0,
    bucketExists: state.buckets.has(closeLedgerBucket),
    designation: d === undefined ? undefined : { holder: d.holder, controllerTerm: d.controllerTerm },
  }
}

/** The committed decisions (linearizable read). */
export async function loadCloses(port: ClosePort, scope: LedgerScope): Promise<CloseDecision[]> {
  return (await port.read((state) => readLedger(state, scope))).decisions
}

export type CommitOutcome =
  | { readonly kind: 'committed' | 'existing'; readonly decisions: CloseDecision[] }
  | { readonly kind: 'stale' | 'not-slot' | 'failed'; readonly reason: string; readonly decisions: CloseDecision[] }

/**
 * Commits `decision` unless one of its incarnation exists (then that one stands: `existing`).
 * `holder`/`term`: the controller proposing (refused as `stale` when the designation moved).
 */
export async function commitClose(port: ClosePort, scope: LedgerScope, replicas: readonly string[], decision: CloseDecision, holder: string): Promise<CommitOutcome> {
  let last: CloseDecision[] = []
  for (let attempt = 0; attempt < closeCommitAttemptsMax; attempt++) {
    const read = await port.read((state) => readLedger(state, scope))
    last = read.decisions
    if (read.decisions.some((d) => d.origin === decision.origin && d.incarnation === decision.incarnation)) return { kind: 'existing', decisions: read.decisions }
    if (read.designation?.holder !== holder || read.designation.controllerTerm !== decision.controllerTerm) {
      return { kind: 'stale', reason: `the stream controller designation is now ${read.designation?.holder ?? 'vacant'}@${read.designation?.controllerTerm ?? 0}`, decisions: read.decisions }
    }
    const slot = slotsAfter(replicas, read.decisions).get(decision.origin)
    if (slot === undefined || !slot.open || slot.incarnation !== decision.incarnation) {
      return { kind: 'not-slot', reason: `${decision.origin}#${decision.incarnation} does not hold its slot (${slot === undefined ? 'unknown origin' : `${slot.incarnation}${slot.open ? '' : ' closed'}`})`, decisions: read.decisions }
    }
    if (!read.bucketExists) {
      const made = await port.ensure({ type: 'ensureBucket', name: closeLedgerBucket, maxValueBytes: clusterLimits.kvValueBytesMax })
      if (!made.ok && made.code !== 'RG_ERR_CONFLICT') return { kind: 'failed', reason: `${made.code}: ${made.message}`, decisions: read.decisions }
    }
    const next = [...read.decisions, decision]
    const result = await port.ensure({ type: 'kvCas', bucket: closeLedgerBucket, key: ledgerKey(scope), value: encodeLedger(next), expectedRevision: read.revision })
    if (result.ok) return { kind: 'committed', decisions: next }
    if (result.code !== 'RG_ERR_REVISION_MISMATCH') return { kind: 'failed', reason: `${result.code}: ${result.message}`, decisions: read.decisions }
  }
  return { kind: 'failed', reason: `lost ${closeCommitAttemptsMax} compare-and-set races in a row`, decisions: last }
}
