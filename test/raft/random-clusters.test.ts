// Randomized scenarios (fast-check generates the script): whatever the interleaving of
// elections, proposals, ticks, losses, duplicates, partitions and restarts, the runner's safety
// checks hold (one leader per term, same entry applied at each index, no unexpected stop), and
// after the network heals the cluster elects one leader and converges.
import t from 'tap'
import fc from 'fast-check'
import { runScenario } from './scenario-runner.js'

const nodeCount = 5
const nodeId = fc.integer({ min: 1, max: nodeCount }).map(String)
const command = fc.oneof(
  nodeId.map((id) => `campaign ${id}`),
  fc.tuple(nodeId, fc.integer({ min: 0, max: 999 })).map(([id, n]) => `propose ${id} v${n} dropped=maybe`),
  fc.tuple(nodeId, fc.integer({ min: 1, max: 12 })).map(([id, n]) => `tick ${id} ${n}`),
  nodeId.map((id) => `process-ready ${id}`),
  fc.tuple(nodeId, fc.boolean()).map(([id, drop]) => `deliver to=${id} drop=${drop}`),
  fc.tuple(nodeId, fc.boolean()).map(([id, reverse]) => `deliver from=${id} reverse=${reverse}`),
  nodeId.map((id) => `duplicate from=${id}`),
  fc.constant('stabilize'),
  fc.uniqueArray(nodeId, { minLength: 1, maxLength: 2 }).map((ids) => `partition ${ids.join(',')}`),
  fc.constant('heal'),
  nodeId.map((id) => `restart ${id}`),
  fc.integer({ min: 1, max: 5 }).map((n) => `run ${n}`),
  fc.tuple(nodeId, nodeId).map(([a, b]) => `transfer-leader ${a} ${b}`),
  fc.tuple(nodeId, fc.integer({ min: 0, max: 99 })).map(([id, n]) => `read-index ${id} r${n}`),
  nodeId.map((id) => `compact ${id} applied`),
  fc.tuple(nodeId, nodeId).map(([a, b]) => `report-unreachable ${a} ${b}`),
)

const membershipCommand = fc.oneof(
  command,
  fc.tuple(nodeId, fc.constantFrom('add-voter', 'add-learner', 'remove'), nodeId).map(([at, kind, id]) => `propose-conf-change ${at} ${kind} ${id} dropped=maybe`),
)

/** Runs the commands, heals, and expects one leader and convergence (after `finalProposal`, if given). */
function runRandom(commands: string[], preVote: boolean, seed: number, finalProposal?: string): void {
  const script = [
    `add-nodes ${nodeCount} prevote=${preVote} checkquorum=${preVote} seed=${seed}`,
    ...commands,
    'heal',
    'stabilize',
    'run 60',
    'expect leader-count 1',
    ...(finalProposal === undefined ? [] : [`propose 1 ${finalProposal}`]),
    'run 5',
    'expect converged',
  ].join('\n')
  const result = runScenario(script, 'random')
  if (result.failures.length > 0) throw new Error(`${result.failures.join('\n')}\nscript:\n${script}`)
}

t.test('random membership changes keep Raft safe and live', (t) => {
  fc.assert(
    fc.property(fc.array(membershipCommand, { minLength: 5, maxLength: 60 }), fc.boolean(), fc.integer({ min: 1, max: 1000 }), (commands, preVote, seed) => {
      runRandom(commands, preVote, seed)
    }),
    { numRuns: 150 },
  )
  t.pass('150 random scripts with membership changes ran without a safety or liveness failure')
  t.end()
})

t.test('random interleavings keep Raft safe and live', (t) => {
  fc.assert(
    fc.property(fc.array(command, { minLength: 5, maxLength: 60 }), fc.boolean(), fc.integer({ min: 1, max: 1000 }), (commands, preVote, seed) => {
      runRandom(commands, preVote, seed, 'final')
    }),
    { numRuns: 150 },
  )
  t.pass('150 random scripts ran without a safety or liveness failure')
  t.end()
})
