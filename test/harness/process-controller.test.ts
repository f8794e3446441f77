// The process controller against a tiny child script: output capture and waitForLine,
// kill -9, pause/resume (a paused child stops ticking), restart, and stop.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProcessController, startProcess } from './process-controller.js'

const dir = mkdtempSync(join(tmpdir(), 'railgun-proc-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

// Prints a counter every 20ms; says ready first; echoes its argument and an env value.
const tickerScript = `
console.log('ready ' + process.argv[1] + ' ' + process.env.TICKER_TAG)
console.error('to stderr')
let n = 0
setInterval(() => console.log('tick ' + n++), 20)
process.on('SIGTERM', () => { console.log('terminating'); process.exit(0) })
`

function tickerSpec(name: string): { name: string; command: string; args: string[]; env: Record<string, string>; logFile: string } {
  return { name, command: process.execPath, args: ['-e', tickerScript, 'arg1'], env: { TICKER_TAG: name }, logFile: join(dir, `${name}.log`) }
}

function lastTick(controller: ProcessController): Promise<number> {
  return controller.waitForLine(/^tick \d+$/, 2_000, controller.lineCount()).then((line) => Number(line.split(' ')[1]))
}

t.test('captures stdout and stderr to the log and finds lines', async (t) => {
  const controller = await startProcess(t.teardown.bind(t), tickerSpec('capture'))
  t.equal(await controller.waitForLine(/^ready /, 5_000), 'ready arg1 capture', 'argument and env reach the child')
  await controller.waitForLine(/to stderr/, 2_000)
  await controller.waitForLine(/^tick 3$/, 2_000)
  await t.rejects(controller.waitForLine(/never printed/, 100), /no line matching \/never printed\/ within 100ms/)
  await controller.stop()
  await controller.cleanup() // flushes and closes the log
  const log = readFileSync(join(dir, 'capture.log'), 'utf8')
  t.match(log, /--- capture run 1 starting [\s\S]*--- capture run 1 pid \d+ spawned/)
  t.match(log, /ready arg1 capture/)
  t.match(log, /terminating/, 'SIGTERM reached the handler')
  t.match(log, /exited: code 0/)
})

t.test('kill9 ends the process with SIGKILL', async (t) => {
  const controller = await startProcess(t.teardown.bind(t), tickerSpec('killed'))
  await controller.waitForLine(/^tick/, 5_000)
  const pid = controller.pid!
  const exit = await controller.kill9()
  t.same(exit, { code: null, signal: 'SIGKILL' })
  t.notOk(controller.running)
  t.throws(() => process.kill(pid, 0), 'the PID is gone')
})

t.test('pause stops the child from running; resume continues it', async (t) => {
  const controller = await startProcess(t.teardown.bind(t), tickerSpec('paused'))
  await controller.waitForLine(/^tick 2$/, 5_000)
  controller.pause()
  t.ok(controller.paused)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const linesWhilePausedStart = controller.lineCount()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(controller.lineCount(), linesWhilePausedStart, 'no output while stopped')
  controller.resume()
  const tick = await lastTick(controller)
  t.ok(tick >= 2, `ticking again (tick ${tick})`)
  await controller.stop()
})

t.test('restart runs the same spec again; stop of a paused process still works', async (t) => {
  const controller = await startProcess(t.teardown.bind(t), tickerSpec('restarted'))
  await controller.waitForLine(/^ready/, 5_000)
  const firstPid = controller.pid
  await controller.restart({ kill: true })
  t.not(controller.pid, firstPid, 'a new process')
  await controller.waitForLine(/^ready/, 5_000)
  t.ok((await lastTick(controller)) >= 0, 'the new run ticks')
  controller.pause()
  const exit = await controller.stop(2_000)
  t.same(exit, { code: 0, signal: null }, 'SIGTERM handled after SIGCONT')
  await controller.cleanup()
  t.match(readFileSync(join(dir, 'restarted.log'), 'utf8'), /run 2 pid \d+ spawned/)
})

t.test('a command that cannot start is a clear error', async (t) => {
  const controller = new ProcessController({ name: 'missing', command: join(dir, 'no-such-binary'), logFile: join(dir, 'missing.log') })
  t.teardown(() => controller.cleanup())
  await t.rejects(controller.start(), /missing: cannot start/)
})
