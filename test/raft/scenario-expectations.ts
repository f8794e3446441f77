// The `expect` lines of scenario scripts: each asserts one fact about the cluster and throws a
// ScriptFailure naming what it saw when the fact does not hold.
import type { Message, RawNode } from '../../control-plane/raft/index.js'
import type { SimNode } from './scenario-support.js'
import { ScriptFailure, idList, parseArgs, parseInteger, describeMessage } from './scenario-support.js'

/** What expectations may look at: the runner's environment, read-only in spirit. */
export interface ScenarioView {
  readonly nodes: ReadonlyMap<string, SimNode>
  readonly network: readonly Message[]
  readonly expectedStopped: Set<string>
  node(id: string | undefined): SimNode
  running(id: string | undefined): RawNode
  select(spec: string | undefined): SimNode[]
  matches(m: Message, named: ReadonlyMap<string, string>): boolean
  requireString(value: string | undefined, what: string): string
}

export function expectFact(env: ScenarioView, tokens: string[]): void {
  const [what = '', ...rest] = tokens
  const args = parseArgs(rest)
  const p = args.positional
  const check = (ok: boolean, message: string): void => {
    if (!ok) throw new ScriptFailure(message)
  }
  const forEach = (spec: string | undefined, fn: (node: SimNode, raw: RawNode) => void): void => {
    const selected = env.select(spec)
    check(selected.length > 0, 'no nodes selected')
    for (const node of selected) fn(node, env.running(node.id))
  }
  const numberField = (field: 'term' | 'commit' | 'applied' | 'lastIndex' | 'firstIndex'): void => {
    const want = parseInteger(p[1], what)
    forEach(p[0], (node, raw) => {
      const got = raw.status()[field]
      check(got === want, `node ${node.id}: ${what} is ${got}, expected ${want}`)
    })
  }
  const idField = (field: 'lead' | 'vote' | 'leadTransferee'): void => {
    const want = p[1] === 'none' ? null : env.requireString(p[1], what)
    forEach(p[0], (node, raw) => {
      const got = raw.status()[field]
      check(got === want, `node ${node.id}: ${what} is ${got ?? 'none'}, expected ${want ?? 'none'}`)
    })
  }
  switch (what) {
    case 'leader': {
      // expect leader 1 [term 2]: node 1 is the leader (at that term).
      const raw = env.running(p[0])
      const status = raw.status()
      check(status.role === 'leader', `node ${p[0]} is ${status.role}, expected leader`)
      if (p[1] === 'term') check(status.term === parseInteger(p[2], 'term'), `node ${p[0]} leads term ${status.term}, expected ${p[2]}`)
      return
    }
    case 'leader-count': {
      // expect leader-count 1: running nodes in the role of leader
      const leaders = [...env.nodes.values()].filter((node) => node.raw?.status().role === 'leader')
      check(leaders.length === parseInteger(p[0], 'count'), `${leaders.length} leaders (${leaders.map((n) => n.id).join(',')}), expected ${String(p[0])}`)
      return
    }
    case 'converged': {
      // expect converged: every running member of the leader's configuration (all running nodes
      // when there is no leader) has applied the same entries to the same index.
      const leader = [...env.nodes.values()].find((node) => node.raw?.status().role === 'leader')
      const confState = leader?.raw?.status().confState
      const members = confState === undefined ? undefined : new Set([...confState.voters, ...confState.learners])
      const running = [...env.nodes.values()].filter((node) => node.raw !== undefined && (members === undefined || members.has(node.id)))
      const first = running[0]
      check(first !== undefined, 'no running nodes')
      if (first === undefined) return
      const want = `${first.raw?.status().applied}:${first.applied.map((a) => a.data).join(',')}`
      for (const node of running) {
        const got = `${node.raw?.status().applied}:${node.applied.map((a) => a.data).join(',')}`
        check(got === want, `node ${node.id} applied ${got}, node ${first.id} applied ${want}`)
      }
      return
    }
    case 'role':
      forEach(p[0], (node, raw) => {
        const got = raw.status().role
        check(got === p[1], `node ${node.id} is ${got}, expected ${String(p[1])}`)
      })
      return
    case 'term':
    case 'commit':
    case 'applied':
      return numberField(what)
    case 'last-index':
      return numberField('lastIndex')
    case 'first-index':
      return numberField('firstIndex')
    case 'lead':
    case 'vote':
      return idField(what)
    case 'transferee':
      return idField('leadTransferee')
    case 'log-term': {
      // expect log-term 2 5 3: entry 5 in node 2's stable log has term 3
      for (const node of env.select(p[0])) {
        const got = node.storage.term(parseInteger(p[1], 'index'))
        check(got === parseInteger(p[2], 'term'), `node ${node.id}: entry ${String(p[1])} has term ${got}, expected ${String(p[2])}`)
      }
      return
    }
    case 'applied-data':
      for (const node of env.select(p[0])) {
        const got = node.applied.map((a) => a.data).join(',')
        check(got === (p[1] === 'none' ? '' : (p[1] ?? '')), `node ${node.id}: applied data is [${got}], expected [${String(p[1])}]`)
      }
      return
    case 'read-state': {
      // expect read-state 1 ctx index 5
      const node = env.node(p[0])
      const state = node.readStates.find((rs) => rs.context === p[1])
      check(state !== undefined, `node ${node.id} has no read state for ${String(p[1])} (has ${JSON.stringify(node.readStates)})`)
      if (p[2] === 'index') check(state?.index === parseInteger(p[3], 'index'), `node ${node.id}: read ${String(p[1])} at ${String(state?.index)}, expected ${String(p[3])}`)
      return
    }
    case 'no-read-state': {
      const node = env.node(p[0])
      const state = node.readStates.find((rs) => p[1] === undefined || rs.context === p[1])
      check(state === undefined, `node ${node.id} has read state ${JSON.stringify(state)}`)
      return
    }
    case 'progress': {
      // expect progress 1 2 state=replicate match=5 next=6
      const status = env.running(p[0]).status()
      const pr = status.progress?.[env.requireString(p[1], 'peer')]
      check(pr !== undefined, `node ${String(p[0])} has no progress for ${String(p[1])} (role ${status.role})`)
      if (pr === undefined) return
      for (const [key, value] of args.named) {
        const got = key === 'state' ? pr.state : key === 'match' ? String(pr.match) : key === 'next' ? String(pr.next) : undefined
        check(got !== undefined, `unknown progress field ${key}`)
        check(got === value, `progress of ${String(p[1])} on ${String(p[0])}: ${key} is ${String(got)}, expected ${value}`)
      }
      return
    }
    case 'stopped':
      for (const node of env.select(p[0])) {
        check(node.raw === undefined, `node ${node.id} is running, expected stopped`)
        env.expectedStopped.add(node.id)
        if (p[1] !== undefined) check(String(node.stoppedReason).includes(p.slice(1).join(' ')), `node ${node.id} stopped for "${String(node.stoppedReason)}", expected it to mention "${p.slice(1).join(' ')}"`)
      }
      return
    case 'voters':
    case 'learners': {
      const want = idList(p[1]).sort().join(',')
      forEach(p[0], (node, raw) => {
        const got = [...raw.status().confState[what]].sort().join(',')
        check(got === want, `node ${node.id}: ${what} are [${got}], expected [${want}]`)
      })
      return
    }
    case 'messages': {
      const want = parseInteger(args.named.get('count'), 'count')
      const named = new Map([...args.named].filter(([key]) => key !== 'count'))
      const got = env.network.filter((m) => env.matches(m, named))
      check(got.length === want, `${got.length} matching messages in flight, expected ${want}: ${got.map(describeMessage).join('; ')}`)
      return
    }
    case 'hard-state': {
      // expect hard-state 2 term=3 vote=1 commit=4 (what storage holds)
      const hs = env.node(p[0]).storage.hardStateNow()
      for (const [key, value] of args.named) {
        const got = key === 'term' ? String(hs.term) : key === 'vote' ? (hs.vote ?? 'none') : key === 'commit' ? String(hs.commit) : undefined
        check(got !== undefined, `unknown hard state field ${key}`)
        check(got === value, `node ${String(p[0])}: stored ${key} is ${String(got)}, expected ${value}`)
      }
      return
    }
    default:
      throw new ScriptFailure(`unknown expectation ${what}`)
  }
}
