// Runs every scenario script in testdata/ as a tap subtest.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScenario } from './scenario-runner.js'

const testdataDir = join(dirname(fileURLToPath(import.meta.url)), 'testdata')
const scripts = readdirSync(testdataDir)
  .filter((name) => name.endsWith('.txt'))
  .sort()

t.ok(scripts.length > 0, 'there are scenario scripts')

for (const name of scripts) {
  t.test(name, async (t) => {
    const text = readFileSync(join(testdataDir, name), 'utf8')
    t.match(text, /^# /, 'the script starts with a comment citing what it checks')
    const result = runScenario(text, `test/raft/testdata/${name}`)
    if (result.failures.length > 0) t.comment(result.trace.slice(-80).join('\n'))
    t.same(result.failures, [], 'every expectation holds')
  })
}
