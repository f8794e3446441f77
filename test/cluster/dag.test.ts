// Pipeline DAG validation (founding note 001: "perform cycle tests to ensure stage `after` &
// `dependencies` constraints do not form cycles in the graph"), property-tested against a
// naive reference.
import fc from 'fast-check'
import t from 'tap'
import { validateStages } from '../../control-plane/cluster/index.js'
import type { StageSpec } from '../../control-plane/cluster/index.js'
import { Harness, pipelineCommand, streamCommand } from './helpers.js'

const stage = (name: string, after: string[] = [], dependencies: string[] = []): StageSpec => ({ name, after, dependencies })

t.test('valid DAGs get a deterministic topological order', async (t) => {
  const diamond = [stage('d', ['b'], ['c']), stage('b', [], ['a']), stage('c', ['a']), stage('a')]
  const result = validateStages(diamond)
  t.same(result.ok ? result.order : result.code, ['a', 'b', 'c', 'd'])
  const independent = validateStages([stage('z'), stage('m'), stage('a')])
  t.same(independent.ok ? independent.order : independent.code, ['a', 'm', 'z'], 'ties broken by name')
  const chain = validateStages([stage('s3', ['s2']), stage('s2', ['s1']), stage('s1')])
  t.same(chain.ok ? chain.order : chain.code, ['s1', 's2', 's3'])
})

t.test('unknown references are named', async (t) => {
  const result = validateStages([stage('a'), stage('b', [], ['ghost'])])
  t.equal(result.ok ? 'ok' : result.code, 'RG_ERR_UNKNOWN_REFERENCE')
  if (!result.ok) {
    t.equal(result.message, 'stages[1].dependencies: stage "b" refers to unknown stage "ghost"')
    t.same(result.details, { field: 'stages[1].dependencies', stage: 'b', reference: 'ghost' })
  }
})

t.test('a self-loop is rejected', async (t) => {
  const result = validateStages([stage('a', ['a'])])
  t.equal(result.ok ? 'ok' : result.code, 'RG_ERR_CYCLE')
  if (!result.ok) t.match(result.message, 'a → a')
})

t.test('a long cycle is named exactly, starting at its smallest stage', async (t) => {
  // e → a (a after e), a → b, b → c, c → d, d → e; plus an acyclic tail x.
  const stages = [stage('c', ['b']), stage('a', ['e']), stage('x', ['a']), stage('e', [], ['d']), stage('b', ['a']), stage('d', ['c'])]
  const result = validateStages(stages)
  t.equal(result.ok ? 'ok' : result.code, 'RG_ERR_CYCLE')
  if (!result.ok) {
    t.equal(result.message, 'stages: cycle a → b → c → d → e → a')
    t.same(result.details.cycle, ['a', 'b', 'c', 'd', 'e', 'a'])
  }
})

t.test('duplicate stage names and stage limits', async (t) => {
  const dup = validateStages([stage('a'), stage('a')])
  t.equal(dup.ok ? 'ok' : dup.code, 'RG_ERR_INVALID_ARGUMENT')
  const many = validateStages(Array.from({ length: 257 }, (_, i) => stage(`s${i}`)))
  t.equal(many.ok ? 'ok' : many.code, 'RG_ERR_LIMIT_EXCEEDED')
  const bad = validateStages([stage('a.b')])
  t.equal(bad.ok ? 'ok' : bad.code, 'RG_ERR_INVALID_NAME')
})

t.test('ensurePipeline rejects a cycle and stores the order of a valid one', async (t) => {
  const h = new Harness()
  h.must({ type: 'addNode', nodeId: 'n1', clientAddress: 'a:1', peerAddress: 'a:2', adminAddress: 'a:3', region: 'us-east', masterEligible: true, tags: {} })
  h.must(streamCommand({ replicasPerRegion: 1 }))
  const cyclic = h.run(pipelineCommand({ stages: [stage('a', ['b']), stage('b', [], ['a'])] })).result
  t.equal(cyclic.ok ? 'ok' : cyclic.code, 'RG_ERR_CYCLE')
  t.equal(h.state.pipelines.size, 0)
  h.must(pipelineCommand())
  t.same(h.state.pipelines.get('default/fulfil')?.order, ['validate', 'charge', 'ship'])
})

/** Reference: plain recursive DFS over "must run before" edges; true iff any cycle. */
function naiveHasCycle(names: string[], edges: [number, number][]): boolean {
  const adjacency = names.map((_, i) => edges.filter(([from]) => from === i).map(([, to]) => to))
  const onPath = new Set<number>()
  const done = new Set<number>()
  const dfs = (n: number): boolean => {
    if (onPath.has(n)) return true
    if (done.has(n)) return false
    onPath.add(n)
    for (const next of adjacency[n] ?? []) if (dfs(next)) return true
    onPath.delete(n)
    done.add(n)
    return false
  }
  return names.some((_, i) => dfs(i))
}

t.test('property: random graphs are accepted iff a naive DFS finds no cycle', async (t) => {
  const graph = fc.integer({ min: 1, max: 9 }).chain((size) =>
    fc.record({
      size: fc.constant(size),
      edges: fc.array(fc.tuple(fc.nat(size - 1), fc.nat(size - 1), fc.boolean()), { maxLength: size * 2 }),
    }),
  )
  let accepted = 0
  let rejected = 0
  fc.assert(
    fc.property(graph, ({ size, edges }) => {
      const names = Array.from({ length: size }, (_, i) => `s${i}`)
      const stages = names.map((name) => stage(name))
      for (const [from, to, asDependency] of edges) {
        const target = stages[to] as StageSpec
        const list = asDependency ? target.dependencies : target.after
        if (!list.includes(names[from] as string)) list.push(names[from] as string)
      }
      const result = validateStages(stages)
      const cyclic = naiveHasCycle(names, edges.map(([from, to]) => [from, to]))
      if (result.ok) {
        accepted++
        // The order respects every edge.
        const position = new Map(result.order.map((name, i) => [name, i]))
        for (const [from, to] of edges) if ((position.get(`s${from}`) ?? 0) >= (position.get(`s${to}`) ?? 0)) return false
        return !cyclic && result.order.length === size
      }
      rejected++
      if (result.code !== 'RG_ERR_CYCLE' || !cyclic) return false
      // The named cycle is a real closed path of the graph.
      const cycle = result.details.cycle as string[]
      const edgeSet = new Set(edges.map(([from, to]) => `s${from}>s${to}`))
      return cycle[0] === cycle[cycle.length - 1] && cycle.slice(1).every((name, i) => edgeSet.has(`${cycle[i]}>${name}`))
    }),
    { numRuns: 500, seed: 42 },
  )
  t.ok(accepted > 50 && rejected > 50, `both outcomes exercised (accepted ${accepted}, rejected ${rejected})`)
})
