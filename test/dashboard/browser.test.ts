// The dashboard in a real browser: headless Chromium (Debian's `chromium`, `npm run
// setup:chromium`) driven by playwright-core against a 3-node cluster in this process. The page
// loads, shows three nodes and the leader, shows a stream created during the test and its publish
// rate moving while a client publishes to it, then a persistent stream with a consumer group: its
// row in the groups table (from its controller, on whichever node) and a nonzero acked count for
// the stream after durable publishes; a screenshot goes to .tap/dashboard/. A second
// test checks the token flow: a 401 shows the token form, and the token then travels as
// `Authorization: Bearer` on the stream request. Skips (with the reason printed) only when no
// Chromium executable is found.
import t from 'tap'
import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { createDashboardRoutes } from '../../server/dashboard/index.js'
import type { RunningNode } from '../../server/node.js'
import { runtimeOf, testCluster, waitFor } from '../server/cluster-helpers.js'
import { connectedRawClient } from '../server/helpers.js'

/** Where the screenshot goes (git-ignored with the rest of tap's output). */
const outputDirectory = join(process.cwd(), '.tap', 'dashboard')
const pageTimeoutMs = 20_000

function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim()
      if (path !== '' && existsSync(path)) return path
    } catch {
      // not installed under this name
    }
  }
  return undefined
}

const executablePath = findChromium()
if (executablePath === undefined) {
  const reason = 'no Chromium executable found (run `npm run setup:chromium`, or set CHROMIUM_PATH)'
  console.log(`# dashboard browser test skipped: ${reason}`)
  t.test('dashboard in a real browser', { skip: reason }, async () => undefined)
} else {
  const launch = async (test: Test): Promise<Browser> => {
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 })
    test.teardown(() => browser.close())
    return browser
  }
  const watchErrors = (page: Page, errors: string[]): void => {
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`)
    })
  }

  t.test('three nodes, the leader, a stream and its publish rate', async (t) => {
    const cluster = testCluster(t)
    const plans = [await cluster.plan('d1', { region: 'eu-west' }), await cluster.plan('d2', { region: 'eu-west' }), await cluster.plan('d3', { region: 'us-east' })]
    const seeds = plans.map((plan) => `127.0.0.1:${plan.peerPort}`)
    const nodes: RunningNode[] = await Promise.all(plans.map((plan) => cluster.start(plan, { seeds })))
    await Promise.all(nodes.map((node) => node.ready))
    const viewed = nodes[0]!
    await waitFor('a leader known by the viewed node and three node records', () => runtimeOf(viewed).leader() !== null && runtimeOf(viewed).node.state.nodes.size === 3)

    const browser = await launch(t)
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    const errors: string[] = []
    watchErrors(page, errors)
    await page.goto(`${viewed.adminUrl}/`, { timeout: pageTimeoutMs })
    await page.locator('[data-testid=nodes] tbody tr').nth(2).waitFor({ timeout: pageTimeoutMs })
    t.equal(await page.locator('[data-testid=nodes] tbody tr').count(), 3, 'three nodes listed')
    const ids = nodes.map((node) => node.nodeId).sort()
    t.same((await page.locator('[data-testid=nodes] tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-node-id')))).sort(), ids)
    const leaderId = runtimeOf(viewed).leader()
    await page.locator(`[data-testid=nodes] tr[data-role=leader]`).waitFor({ timeout: pageTimeoutMs })
    t.equal(await page.locator('[data-testid=nodes] tr[data-role=leader]').count(), 1, 'one leader row')
    t.equal(await page.locator('[data-testid=nodes] tr[data-role=leader]').getAttribute('data-node-id'), leaderId, 'the leader the cluster agrees on')
    t.equal(await page.locator('[data-testid=leader]').innerText(), leaderId, 'the header names the leader')
    t.equal(await page.locator('[data-testid=banner]').count(), 0, 'no banner on a healthy node')

    // A stream created now appears without a reload.
    const created = await fetch(`${viewed.adminUrl}/api/v1/streams`, { method: 'POST', body: JSON.stringify({ name: 'orders', kind: 'ephemeral', regions: ['eu-west', 'us-east'] }) })
    t.equal(created.status, 200)
    const row = page.locator('[data-testid=streams] tr[data-stream="default/orders"]')
    await row.waitFor({ timeout: pageTimeoutMs })
    t.match(await row.innerText(), /ephemeral/)

    // A client publishes (and one subscribes): the rate on the page moves above zero.
    const subscriber = await connectedRawClient(t, viewed.clientPort)
    subscriber.write('SUB orders.> 1\r\n')
    const publisher = await connectedRawClient(t, viewed.clientPort)
    const timer = setInterval(() => publisher.write('PUB orders.eu.created 11\r\n{"order":1}\r\n'), 20)
    t.teardown(() => clearInterval(timer))
    const rateCell = row.locator('[data-field=publishPerSec]')
    const publishedCell = row.locator('[data-field=published]')
    const deadline = Date.now() + pageTimeoutMs
    let rate = 0
    while (Date.now() < deadline) {
      rate = Number(await rateCell.innerText())
      if (rate > 0) break
      await page.waitForTimeout(250)
    }
    t.ok(rate > 0, `publish rate shown (${rate}/s)`)
    const publishedBefore = Number(await publishedCell.innerText())
    await page.waitForTimeout(1_500)
    const publishedAfter = Number(await publishedCell.innerText())
    t.ok(publishedAfter > publishedBefore, `published count moves (${publishedBefore} → ${publishedAfter})`)
    t.ok(Number(await row.locator('[data-field=deliverPerSec]').innerText()) > 0, 'deliveries counted too')
    await page.locator('[data-chart="Publishes per second by stream"] canvas').waitFor({ timeout: pageTimeoutMs })
    t.pass('the per-stream rate chart is drawn (uPlot)')
    clearInterval(timer)

    // A persistent stream with a consumer group: durable publishes through the viewed node.
    const persistent = await fetch(`${viewed.adminUrl}/api/v1/streams`, { method: 'POST', body: JSON.stringify({ name: 'payments', kind: 'persistent', regions: ['eu-west'], ackDefault: 'majority' }) })
    t.equal(persistent.status, 200)
    const group = await fetch(`${viewed.adminUrl}/api/v1/groups`, { method: 'POST', body: JSON.stringify({ stream: 'payments', name: 'billing' }) })
    t.equal(group.status, 200)
    const acker = await connectedRawClient(t, viewed.clientPort)
    acker.write('SUB _acks 7\r\nPING\r\n')
    await acker.waitFor('PONG\r\n')
    const durable = 4
    const answers = (): number => (acker.text().match(/MSG _acks 7 /g) ?? []).length
    const okAnswers = (): number => (acker.text().match(/"ok":true/g) ?? []).length
    let sent = 0
    const ackDeadline = Date.now() + 60_000
    // Until the replicas are open a publish may be refused (not ready): publish again until acked,
    // one at a time (each answered before the next), so the count below is final.
    while (okAnswers() < durable && Date.now() < ackDeadline) {
      acker.write('PUB payments _acks 3\r\npay\r\n')
      sent += 1
      await acker.waitFor(new RegExp(`(MSG _acks 7 [^]*){${sent}}`), 15_000)
      if (okAnswers() < durable) await page.waitForTimeout(100)
    }
    const acked = okAnswers()
    t.equal(answers(), sent, 'every publish answered')
    t.equal(acked, durable, `${acked} durable publishes acked`)
    const paymentsRow = page.locator('[data-testid=streams] tr[data-stream="default/payments"]')
    await paymentsRow.waitFor({ timeout: pageTimeoutMs })
    const ackedCell = paymentsRow.locator('[data-field=acked]')
    let ackedShown = 0
    const ackedDeadline = Date.now() + pageTimeoutMs
    while (Date.now() < ackedDeadline && ackedShown < acked) {
      ackedShown = Number(await ackedCell.innerText())
      if (ackedShown < acked) await page.waitForTimeout(250)
    }
    t.equal(ackedShown, acked, `the stream's acked count on the page (${ackedShown})`)
    // The group's row: live once its controller's figures arrive (its node's $RG.metrics report, every 5 s, when it is not this node).
    const groupRow = page.locator('[data-testid=groups] tr[data-group="default/payments/billing"][data-region="eu-west"]')
    await groupRow.waitFor({ timeout: pageTimeoutMs })
    await page.locator('[data-testid=groups] tr[data-group="default/payments/billing"][data-status="live"]').waitFor({ timeout: 30_000 })
    let lagShown = -1
    const lagDeadline = Date.now() + 30_000
    while (Date.now() < lagDeadline && lagShown !== acked) {
      lagShown = Number(await groupRow.locator('[data-field=lag]').innerText())
      if (lagShown !== acked) await page.waitForTimeout(250)
    }
    t.equal(lagShown, acked, 'the group row: every acked event waits for it (no member yet)')
    t.equal(await groupRow.locator('[data-field=head]').innerText(), '0', 'head 0')
    t.equal(await groupRow.locator('[data-field=outstanding]').innerText(), '0')

    mkdirSync(outputDirectory, { recursive: true })
    const screenshot = join(outputDirectory, 'dashboard.png')
    await page.screenshot({ path: screenshot, fullPage: true })
    t.ok(existsSync(screenshot), `screenshot saved: ${screenshot}`)
    clearInterval(timer)
    t.same(errors, [], 'no script errors in the page')
  })

  t.test('with access control the page asks for a token and sends it as a Bearer header', async (t) => {
    const cluster = testCluster(t)
    const node = await cluster.start(await cluster.plan('tok'))
    await node.ready
    const snapshot = (await (await fetch(`${node.adminUrl}/api/v1/dashboard`)).json()) as unknown
    const routes = createDashboardRoutes({ snapshot: () => snapshot })
    const seen: Array<string | undefined> = []
    // A stand-in for the access check (server/admin-auth.ts): data routes need the token.
    const server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://x')
      if (url.pathname.startsWith('/api/')) {
        seen.push(request.headers.authorization)
        if (request.headers.authorization !== 'Bearer rgt_test_token') {
          response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: { code: 'RG_ERR_AUTHORIZATION', message: 'authentication required' } }))
          return
        }
      }
      void routes.handleHttp(request, response, url).then((handled) => {
        if (!handled) response.writeHead(404).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      routes.close()
      server.closeAllConnections()
      server.close()
    })
    const browser = await launch(t)
    const page = await browser.newPage()
    const errors: string[] = []
    watchErrors(page, errors)
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { timeout: pageTimeoutMs })
    await page.locator('[data-testid=login]').waitFor({ timeout: pageTimeoutMs })
    t.match(await page.locator('[data-testid=login]').innerText(), /authentication required/)
    await page.locator('[data-testid=login] input').fill('rgt_test_token')
    await page.locator('[data-testid=login] button').click()
    await page.locator('[data-testid=nodes] tbody tr').first().waitFor({ timeout: pageTimeoutMs })
    t.equal(seen[0], undefined, 'the first request had no token')
    t.equal(seen.at(-1), 'Bearer rgt_test_token', 'then the token is sent as a Bearer header')
    t.notMatch(await page.content(), /rgt_test_token/, 'the token is not shown on the page')
    // The expected 401 is reported by the browser as a failed resource; nothing else may fail.
    t.same(errors.filter((error) => !/401/.test(error)), [], 'no script errors in the page')
  })
}
