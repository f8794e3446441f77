// Pipeline validation: a pipeline is a DAG of stages. An edge `a → b` means "a runs before b":
// b lists a in `after` (ordering only) or in `dependencies` (b needs a's output). Every
// reference must name a stage of the same pipeline; a stage may not refer to itself; a cycle
// is rejected with the cycle named (`a → b → c → a`, rotated to start at its smallest name so
// the message is the same on every replica). The accepted order is Kahn's algorithm with the
// ready set taken in name order: deterministic.
import type { StageSpec } from './commands.js'
import { clusterLimits } from './limits.js'
import { checkName } from './names.js'
import { fail } from './result.js'
import type { ApplyError } from './result.js'
import { compareStrings } from './state.js'

export type DagCheck = { readonly ok: true; readonly order: readonly string[] } | ApplyError

/** `successors.get(a)` = stages that must run after `a`; both levels sorted. */
export function stageGraph(stages: readonly StageSpec[]): Map<string, string[]> {
  const successors = new Map<string, Set<string>>()
  for (const stage of stages) successors.set(stage.name, successors.get(stage.name) ?? new Set())
  for (const stage of stages) {
    for (const before of [...stage.after, ...stage.dependencies]) successors.get(before)?.add(stage.name)
  }
  const sorted = new Map<string, string[]>()
  for (const name of [...successors.keys()].sort(compareStrings)) {
    sorted.set(name, [...(successors.get(name) ?? [])].sort(compareStrings))
  }
  return sorted
}

/** The first cycle found by a DFS in name order, as a closed path starting at its smallest stage. */
export function findCycle(successors: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'visiting')
    stack.push(node)
    for (const next of successors.get(node) ?? []) {
      const seen = state.get(next)
      if (seen === 'visiting') return rotateToSmallest(stack.slice(stack.indexOf(next)))
      if (seen === undefined) {
        const found = visit(next)
        if (found !== undefined) return found
      }
    }
    stack.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of [...successors.keys()].sort(compareStrings)) {
    if (state.get(node) !== undefined) continue
    const found = visit(node)
    if (found !== undefined) return found
  }
  return undefined
}

function rotateToSmallest(cycle: string[]): string[] {
  let start = 0
  for (let i = 1; i < cycle.length; i++) if (compareStrings(cycle[i] as string, cycle[start] as string) < 0) start = i
  const rotated = [...cycle.slice(start), ...cycle.slice(0, start)]
  return [...rotated, rotated[0] as string]
}

/** Kahn's algorithm, smallest ready name first. Undefined if the graph has a cycle. */
export function topologicalOrder(successors: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const indegree = new Map<string, number>()
  for (const name of successors.keys()) indegree.set(name, indegree.get(name) ?? 0)
  for (const nexts of successors.values()) for (const next of nexts) indegree.set(next, (indegree.get(next) ?? 0) + 1)
  const ready = [...indegree.entries()].filter(([, degree]) => degree === 0).map(([name]) => name).sort(compareStrings)
  const order: string[] = []
  while (ready.length > 0) {
    const name = ready.shift() as string
    order.push(name)
    for (const next of successors.get(name) ?? []) {
      const degree = (indegree.get(next) ?? 0) - 1
      indegree.set(next, degree)
      if (degree === 0) {
        ready.push(next)
        ready.sort(compareStrings)
      }
    }
  }
  return order.length === indegree.size ? order : undefined
}

/** Full check of a pipeline's stages: names, limits, references, cycles; returns the run order. */
export function validateStages(stages: readonly StageSpec[]): DagCheck {
  if (stages.length === 0) return fail('RG_ERR_INVALID_ARGUMENT', 'stages: a pipeline needs at least one stage', { field: 'stages' })
  if (stages.length > clusterLimits.stagesPerPipelineMax) {
    return fail('RG_ERR_LIMIT_EXCEEDED', `stages: ${stages.length} stages, at most ${clusterLimits.stagesPerPipelineMax} allowed`, {
      limit: 'stagesPerPipelineMax',
      max: clusterLimits.stagesPerPipelineMax,
    })
  }
  const names = new Set<string>()
  for (const [i, stage] of stages.entries()) {
    const problem = checkName('stage', `stages[${i}].name`, stage.name)
    if (problem !== undefined) return problem
    if (names.has(stage.name)) return fail('RG_ERR_INVALID_ARGUMENT', `stages[${i}].name: duplicate stage ${JSON.stringify(stage.name)}`, { field: `stages[${i}].name`, stage: stage.name })
    names.add(stage.name)
  }
  for (const [i, stage] of stages.entries()) {
    for (const field of ['after', 'dependencies'] as const) {
      if (stage[field].length > clusterLimits.referencesPerStageMax) {
        return fail('RG_ERR_LIMIT_EXCEEDED', `stages[${i}].${field}: more than ${clusterLimits.referencesPerStageMax} references`, { limit: 'referencesPerStageMax' })
      }
      for (const reference of stage[field]) {
        if (reference === stage.name) {
          return fail('RG_ERR_CYCLE', `stages[${i}].${field}: stage ${JSON.stringify(stage.name)} refers to itself (${stage.name} → ${stage.name})`, {
            field: `stages[${i}].${field}`,
            cycle: [stage.name, stage.name],
          })
        }
        if (!names.has(reference)) {
          return fail('RG_ERR_UNKNOWN_REFERENCE', `stages[${i}].${field}: stage ${JSON.stringify(stage.name)} refers to unknown stage ${JSON.stringify(reference)}`, {
            field: `stages[${i}].${field}`,
            stage: stage.name,
            reference,
          })
        }
      }
    }
  }
  const graph = stageGraph(stages)
  const cycle = findCycle(graph)
  if (cycle !== undefined) {
    return fail('RG_ERR_CYCLE', `stages: cycle ${cycle.join(' → ')}`, { cycle })
  }
  const order = topologicalOrder(graph)
  if (order === undefined) throw new Error('pipeline-dag: no cycle found but no topological order (bug)')
  return { ok: true, order }
}
