// The scenario runner must be able to fail: wrong expectations, unknown commands, unexpected
// node stops are reported with the script's file and line.
import t from 'tap'
import { runScenario } from './scenario-runner.js'

const base = ['# meta', 'add-nodes 3 voters=1,2,3', 'campaign 1', 'stabilize']

t.test('a true expectation passes', (t) => {
  t.same(runScenario([...base, 'expect leader 1 term 1'].join('\n'), 'meta.txt').failures, [])
  t.end()
})

t.test('a false expectation fails with file and line', (t) => {
  const result = runScenario([...base, 'expect leader 2 term 1'].join('\n'), 'meta.txt')
  t.equal(result.failures.length, 1)
  t.match(result.failures[0], /^meta\.txt:5: expect leader 2 term 1: node 2 is follower, expected leader/)
  t.end()
})

const wrong: [string, RegExp][] = [
  ['expect commit 1 9', /commit is 1, expected 9/],
  ['expect applied-data all x', /applied data is \[\], expected \[x\]/],
  ['expect messages count=3', /0 matching messages in flight, expected 3/],
  ['expect read-state 1 nope', /has no read state for nope/],
  ['expect progress 1 2 state=snapshot', /state is replicate, expected snapshot/],
  ['expect voters 1 1,2', /voters are \[1,2,3\], expected \[1,2\]/],
  ['expect hard-state 2 vote=3', /stored vote is 1, expected 3/],
  ['expect leader-count 2', /1 leaders \(1\), expected 2/],
  ['expect stopped 2', /node 2 is running, expected stopped/],
  ['propose 2 x dropped=noLeader', /proposal was accepted, expected it dropped/],
  ['frobnicate 1', /unknown command frobnicate/],
  ['expect wibble', /unknown expectation wibble/],
  ['campaign 7', /unknown node 7/],
]
for (const [line, message] of wrong) {
  t.test(`fails: ${line}`, (t) => {
    const result = runScenario([...base, line].join('\n'), 'meta.txt')
    t.equal(result.failures.length, 1)
    t.match(result.failures[0], message)
    t.match(result.failures[0], /^meta\.txt:5: /)
    t.end()
  })
}

t.test('a node stopped by a storage error must be expected', (t) => {
  const script = [...base, 'fail-storage 2 append', 'propose 1 a', 'stabilize'].join('\n')
  const result = runScenario(script, 'meta.txt')
  t.match(result.failures.join('\n'), /node 2 stopped unexpectedly: storage error while persisting/)
  t.same(runScenario(`${script}\nexpect stopped 2`, 'meta.txt').failures, [])
  t.end()
})

t.test('an empty script fails', (t) => {
  t.match(runScenario('# nothing\n', 'empty.txt').failures.join(''), /no commands/)
  t.end()
})
