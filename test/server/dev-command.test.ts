// `railgun dev` as a child process: `--nodes 3` starts three `railgun server` children, prints
// their URLs and the leader; a client and `railgun status` see 3 members and a leader; SIGTERM
// stops every child (no orphan left), removes the temporary directory and exits 0. The node
// plan (`--nodes`, `--regions`) is checked in-process.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { connect } from '../../client/index.js'
import { devNodesMax, planDevNodes } from '../../server/commands/dev.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const startTimeoutMs = 90_000

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function runCli(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
}

function collect(child: ChildProcess): { text: () => string; waitFor: (pattern: RegExp, timeoutMs: number) => Promise<void> } {
  let output = ''
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
    for (const waiter of [...waiters]) waiter()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  return {
    text: () => output,
    waitFor: (pattern, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(output)) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output.slice(-3000)}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      }),
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

t.test('the node plan: --nodes N, --regions r:n,…, and usage errors', async (t) => {
  t.same(planDevNodes({}).map((plan) => plan.id), ['n1', 'n2', 'n3'], 'three nodes by default')
  t.same(planDevNodes({ nodes: 5 }).map((plan) => plan.id), ['n1', 'n2', 'n3', 'n4', 'n5'])
  const regions = planDevNodes({ regions: 'us-east:3,eu-west:2' })
  t.same(regions.map((plan) => `${plan.id}/${plan.region}`), ['us-east-1/us-east', 'us-east-2/us-east', 'us-east-3/us-east', 'eu-west-1/eu-west', 'eu-west-2/eu-west'])
  t.ok(regions.every((plan) => plan.regionFlag), 'regions are passed to the nodes')
  t.throws(() => planDevNodes({ regions: 'us-east' }), /not region:count/)
  t.throws(() => planDevNodes({ regions: 'us-east:0' }), /at least one node/)
  t.throws(() => planDevNodes({ regions: 'a:1,a:2' }), /appears twice/)
  t.throws(() => planDevNodes({ regions: '$sys:1' }), /--regions: /)
  t.throws(() => planDevNodes({ nodes: 2, regions: 'a:1' }), /not both/)
  t.throws(() => planDevNodes({ nodes: devNodesMax + 1 }), /--nodes/)
  t.throws(() => planDevNodes({ regions: `a:${devNodesMax},b:1` }), /at most/)
})

t.test('railgun dev --nodes 3: URLs and leader printed, status sees 3 members, SIGTERM stops every child and exits 0', async (t) => {
  const dev = runCli(['dev', '--nodes', '3'])
  const output = collect(dev)
  const pids: number[] = []
  t.teardown(() => {
    // Only if the test failed half-way: never leave our children behind.
    for (const pid of [dev.pid ?? -1, ...pids]) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL')
  })
  await output.waitFor(/Ctrl-C stops the cluster\./, startTimeoutMs)
  const rows = [...output.text().matchAll(/^(n\d)\s+(\S+)\s+(nats:\/\/127\.0\.0\.1:\d+)\s+(http:\/\/127\.0\.0\.1:\d+)\s+(\d+)\s+(leader|follower)$/gm)]
  t.equal(rows.length, 3, 'one row per node')
  for (const row of rows) pids.push(Number(row[5]))
  const leader = /^leader: (\S+)$/m.exec(output.text())?.[1]
  t.ok(leader !== undefined && rows.some((row) => row[1] === leader && row[6] === 'leader'), `the leader (${leader}) is marked in the table`)
  const dataDir = /^data: (\S+) \(removed at exit/m.exec(output.text())?.[1]
  t.ok(dataDir !== undefined && existsSync(dataDir), `the data directory exists while running (${dataDir})`)
  t.ok(pids.every(alive), 'every node process runs')

  const client = await connect(rows[1]![3]!, { reconnect: { enabled: false } })
  const status = await client.cluster.status()
  t.equal(status.members.length, 3, 'the client sees 3 members')
  t.ok(status.leader !== null && rows.some((row) => row[1] === status.leader), `and a leader (${status.leader})`)
  await client.close()

  const statusVerb = runCli(['status', '--server', rows[2]![3]!])
  const statusOutput = collect(statusVerb)
  const statusExit = await exitOf(statusVerb)
  t.equal(statusExit.code, 0, 'railgun status exits 0')
  t.match(statusOutput.text(), /^leader n\d {2}term \d+/m, 'railgun status names the leader')
  t.equal(statusOutput.text().match(/^n\d\s+\S+\s+(leader|follower)\s+active/gm)?.length, 3, 'railgun status lists 3 active members')

  dev.kill('SIGTERM')
  const exit = await Promise.race([exitOf(dev), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000).unref())])
  t.same(exit, { code: 0, signal: null }, 'railgun dev exits 0 after SIGTERM')
  t.match(output.text(), /railgun dev: stopped/)
  t.notMatch(output.text(), /exited unexpectedly/, 'no child was reported as dying on its own')
  t.ok(pids.every((pid) => !alive(pid)), 'no node process is left')
  t.notOk(existsSync(dataDir ?? '/nonexistent-dir-for-sure'), 'the temporary directory is removed')
})
