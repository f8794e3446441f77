// Logs: pino JSON with the node name, and the node id and region on every line once known (also
// on lines of child loggers made earlier); the level changes at run time.
import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger, isLogLevel, setLogIdentity, setLogLevel } from '../../shared/log.js'

function capture(): { lines: Array<Record<string, unknown>>; destination: Writable } {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  return { lines, destination }
}

t.test('node id and region on every line once known', async (t) => {
  const { lines, destination } = capture()
  const logger = createLogger({ nodeName: 'n1', level: 'info', destination })
  const child = logger.child({ component: 'transport' })
  logger.info('before')
  setLogIdentity(logger, { nodeId: '00ff00ff00ff00ff', region: 'eu-west' })
  logger.info({ detail: 1 }, 'after')
  child.warn('from a child made before')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(lines.length, 3)
  t.match(lines[0], { node: 'n1', msg: 'before' })
  t.notOk('nodeId' in (lines[0] ?? {}), 'not known yet')
  t.match(lines[1], { node: 'n1', nodeId: '00ff00ff00ff00ff', region: 'eu-west', detail: 1, msg: 'after' })
  t.match(lines[2], { node: 'n1', nodeId: '00ff00ff00ff00ff', region: 'eu-west', component: 'transport' })
})

t.test('the level changes at run time, children follow', async (t) => {
  const { lines, destination } = capture()
  const logger = createLogger({ nodeName: 'n1', level: 'info', destination })
  const child = logger.child({ component: 'x' })
  child.debug('hidden')
  t.same(setLogLevel(logger, 'debug'), { previous: 'info', level: 'debug' })
  child.debug('shown')
  logger.debug('shown too')
  t.same(setLogLevel(logger, 'error'), { previous: 'debug', level: 'error' })
  logger.warn('hidden again')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(
    lines.map((line) => line.msg),
    ['shown', 'shown too'],
  )
  t.ok(isLogLevel('trace'))
  t.notOk(isLogLevel('verbose'))
})
