// The Raft core is pure (design §3.1, folder README): no node:* modules, no clocks, no ambient
// randomness, no timers, and imports only from its own folder or shared/.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const coreDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'control-plane', 'raft')
const sources = readdirSync(coreDir).filter((name) => name.endsWith('.ts'))

t.ok(sources.length > 10, 'found the core sources')

const forbidden: [RegExp, string][] = [
  [/\bDate\.now\b|\bnew Date\b/, 'a clock'],
  [/\bMath\.random\b/, 'ambient randomness'],
  [/\bset(Timeout|Interval|Immediate)\b/, 'a timer'],
  [/\bprocess\./, 'the process object'],
  [/\brequire\(/, 'require'],
]

for (const name of sources) {
  t.test(name, (t) => {
    const code = readFileSync(join(coreDir, name), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
      .join('\n')
    for (const [pattern, what] of forbidden) t.notMatch(code, pattern, `no ${what}`)
    for (const match of code.matchAll(/from\s+'([^']+)'/g)) {
      const target = match[1] ?? ''
      t.ok(target.startsWith('./') || /^(\.\.\/)+shared\//.test(target), `import ${target} stays inside the core or shared/`)
      if (target.startsWith('./')) t.match(target, /\.js$/, `relative import ${target} ends in .js`)
    }
    t.end()
  })
}
