// The checks across regions, after the heal and the quiet period (issue #6):
//  - NO GAP IN SHIPPING: every event acked in its own region is held, as a live copy, by every
//    replica of every other region;
//  - CONVERGENCE (DESIGN §4.3 across regions): every replica in every region holds the same set
//    of logical events — named region-independently by the copy key in the region where each was
//    published (`Rg-Source` for shipped copies) — with the same ids, payloads and headers, and so
//    reports the same digest;
//  - ONCE PER GROUP IN EACH REGION: in every region's group sequence, a producer-id message
//    (retries, and the same id published in two regions inside the window) is delivered exactly
//    once if any attempt was acked, at most once otherwise; an acked nuid attempt exactly once;
//  - the harness premise: the copies of a two-region message lie within one window in source time.
// "Live copy": not past its incarnation's close, not at or before its successor's fromHlc.
import { compareHlc, globalKeyOf, hash128, hashHex, originKey, provenanceOf, sourceHeader } from '../../../data-plane/persistent/index.js'
import type { StreamEvent } from '../../../data-plane/persistent/index.js'
import type { LogicalMessage } from '../region/publishers.js'
import { copyKeyOf } from '../region/region-node.js'
import type { MultiRegionContext, RegionStack } from './context.js'
import type { TwinMessage } from './twin-publisher.js'

export interface CrossRegionStats {
  readonly logicalEvents: number
  readonly groupDeliveries: Readonly<Record<string, number>>
  readonly twinMessages: number
  readonly twinsAckedInBoth: number
}

const encoder = new TextEncoder()

/** The copies of a region's replica that are part of the stream (closes applied). */
function liveCopies(stack: RegionStack, held: readonly StreamEvent[]): StreamEvent[] {
  const decisions = stack.ctx.controlPlane.decisions()
  const closed = new Map(decisions.map((d) => [originKey(d.origin, d.incarnation), d] as const))
  const fromHlc = new Map(decisions.filter((d) => d.successor !== undefined).map((d) => [originKey(d.origin, d.successor?.incarnation ?? 0), d.successor?.fromHlc] as const))
  return held.filter((e) => {
    const key = originKey(e.origin, e.incarnation)
    const close = closed.get(key)
    if (close !== undefined && e.originSeq > close.atSeq) return false
    if (e.incarnation === 1) return true
    const from = fromHlc.get(key)
    return from !== undefined && compareHlc(e.hlc, from) > 0
  })
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** What must be equal between a logical event's copies in every region. */
function contentOf(e: StreamEvent): string {
  const headers = e.headers.filter(([k]) => k !== sourceHeader)
  return `${e.id}|${JSON.stringify(headers)}|${hex(e.payload)}`
}

export function checkCrossRegion(ctx: MultiRegionContext, messages: readonly LogicalMessage[]): CrossRegionStats {
  const stacks = [...ctx.regions.values()]
  const fail = (stack: RegionStack, invariant: string, detail: string): never => stack.checker.violation(invariant, detail)
  // Each replica's logical view: global key → content.
  const views: { stack: RegionStack; node: string; view: Map<string, string> }[] = []
  for (const stack of stacks) {
    for (const node of stack.ctx.nodes.values()) {
      if (node.replica === null) return fail(stack, '3 convergence across regions', `${node.name} is down at the end`)
      const view = new Map<string, string>()
      for (const e of liveCopies(stack, node.held.all())) {
        const key = globalKeyOf(e, stack.name)
        if (!key.ok) return fail(stack, 'shipped copies agree', `${node.name}: ${copyKeyOf(e)}: ${key.error.message}`)
        const content = contentOf(e)
        const known = view.get(key.value)
        if (known !== undefined && known !== content) return fail(stack, 'shipped copies agree', `${node.name} holds two copies of ${key.value} with different content`)
        view.set(key.value, content)
      }
      views.push({ stack, node: node.name, view })
    }
  }
  // No gap: every event acked in its own region is live in every replica of every region.
  for (const stack of stacks) {
    for (const acked of stack.checker.acked.values()) {
      const [origin = '', incarnation = '', seq = ''] = acked.copyKey.split('#')
      const copy = stack.ctx.nodes.values().next().value?.held.get(origin, Number(incarnation), Number(seq))
      if (copy === undefined) continue // RegionChecker reports it
      const provenance = provenanceOf(copy)
      if (!provenance.ok || provenance.value !== null) continue // a receiver's write, not an event of this region
      const key = `${stack.name}/${acked.copyKey}`
      for (const v of views) {
        if (v.stack !== stack && !v.view.has(key)) fail(v.stack, 'no gap in shipping', `${key} (id ${acked.id}, acked ${acked.level} in ${stack.name}) is not held by ${v.node} in ${v.stack.name}`)
      }
    }
  }
  // Convergence: the same logical events, content and digest everywhere.
  const digestOf = (view: Map<string, string>): string => hashHex(hash128(encoder.encode([...view].map(([k, c]) => `${k}\u0000${c}`).sort().join('\n'))))
  const first = views[0]
  if (first === undefined) throw new Error('cross-region check: no replicas')
  const reference = digestOf(first.view)
  for (const v of views) {
    if (digestOf(v.view) === reference) continue
    const missing = [...first.view.keys()].filter((k) => !v.view.has(k)).slice(0, 3)
    const extra = [...v.view.keys()].filter((k) => !first.view.has(k)).slice(0, 3)
    const changed = [...first.view].filter(([k, c]) => v.view.has(k) && v.view.get(k) !== c).slice(0, 2).map(([k, c]) => `${k}: ${c.slice(0, 60)} vs ${(v.view.get(k) ?? '').slice(0, 60)}`)
    fail(v.stack, '3 convergence across regions', `${v.node} (${v.view.size} events) differs from ${first.node} in ${first.stack.name} (${first.view.size}): missing [${missing.join(', ')}], extra [${extra.join(', ')}], different [${changed.join('; ')}]`)
  }
  // Once per group in each region.
  const groupDeliveries: Record<string, number> = {}
  for (const stack of stacks) {
    const sequences = [...stack.shipping.values()].map((s) => s.group.map(copyKeyOf).join(','))
    if (sequences.some((s) => s !== sequences[0])) fail(stack, '2 one group sequence', 'replicas end with different group sequences')
    const group = [...stack.shipping.values()][0]?.group ?? []
    groupDeliveries[stack.name] = group.length
    const count = new Map<string, number>()
    for (const e of group) count.set(e.id, (count.get(e.id) ?? 0) + 1)
    for (const m of messages) {
      const acked = m.attempts.some((a) => a.outcome === 'ok')
      const where = 'regions' in m ? ` (published in ${(m as TwinMessage).regions.join(' and ')})` : ''
      const ids = m.producerId ? [{ id: m.key, acked }] : m.attempts.map((a) => ({ id: a.id, acked: a.outcome === 'ok' }))
      for (const { id, acked: idAcked } of ids) {
        const n = count.get(id) ?? 0
        if (idAcked && n !== 1) fail(stack, '4 once per group in each region', `id ${id}${where}, acked, was delivered ${n} times to the group in ${stack.name}`)
        if (!idAcked && n > 1) fail(stack, '4 once per group in each region', `id ${id}${where} was delivered ${n} times to the group in ${stack.name}`)
      }
    }
  }
  // The harness premise for two-region messages: all copies within one window at their sources.
  const twins = messages.filter((m): m is TwinMessage => 'regions' in m)
  const firstHeld = stacks[0]?.ctx.nodes.values().next().value?.held
  for (const m of twins) {
    const times = (firstHeld?.copiesOf(m.key) ?? []).map((c) => {
      const p = provenanceOf(c)
      return p.ok && p.value !== null ? p.value.hlc.wallMs : c.hlc.wallMs
    })
    if (times.length > 0 && Math.max(...times) - Math.min(...times) >= ctx.config.dedupWindowMs) {
      fail(stacks[0] as RegionStack, 'harness: twins inside the window', `the copies of ${m.key} span ${Math.max(...times) - Math.min(...times)} ms at their sources`)
    }
  }
  return {
    logicalEvents: first.view.size,
    groupDeliveries,
    twinMessages: twins.length,
    twinsAckedInBoth: twins.filter((m) => m.regions.every((r) => m.attempts.some((a) => a.outcome === 'ok' && a.publishId.startsWith(`${m.key}/${r}/`)))).length,
  }
}
