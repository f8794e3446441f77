// CLI verbs without a server: an unreachable server and bad flags fail with a clear message.
import t from 'tap'
import { freePort } from './helpers/processes.js'
import { run } from './helpers/cli-suite.js'

t.test('an unreachable server → exit 1; a bad flag → usage error', async (t) => {
  // A port that was free a moment ago: nothing listens there.
  const port = await freePort()
  const down = await run(['pub', 'x', 'y', '--server', `nats://127.0.0.1:${port}`])
  t.equal(down.code, 1)
  t.match(down.stderr, new RegExp(`railgun: cannot connect to nats://127\\.0\\.0\\.1:${port}`))
  const bad = await run(['sub', 'x', '--count', 'zero', '--server', `nats://127.0.0.1:${port}`])
  t.not(bad.code, 0)
  t.match(bad.stderr, /expected a positive integer/)
})
