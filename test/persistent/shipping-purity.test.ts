// Cross-region shipping is pure (shipping/README.md): no clocks, ambient randomness, timers or
// process, imports only from data-plane/persistent or shared/ — except zlib-compression.ts, the
// one file that may import node:zlib (deterministic CPU work, no I/O).
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data-plane', 'persistent', 'shipping')
const sources = readdirSync(dir).filter((name) => name.endsWith('.ts'))
t.ok(sources.length >= 8, `found the shipping sources (${sources.length})`)

const forbidden: [RegExp, string][] = [
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/, 'a clock'],
  [/\bMath\.random\b/, 'ambient randomness'],
  [/\bset(Timeout|Interval|Immediate)\b/, 'a timer'],
  [/\bprocess\./, 'the process object'],
  [/\brequire\(/, 'require'],
]

for (const name of sources) {
  t.test(name, (t) => {
    const code = readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
      .join('\n')
    for (const [pattern, what] of forbidden) t.notMatch(code, pattern, `no ${what}`)
    for (const match of code.matchAll(/from\s+'([^']+)'/g)) {
      const target = match[1] ?? ''
      const allowed = target.startsWith('./') || /^\.\.\/[a-z-]+(\/[a-z-]+)?\.js$/.test(target) || /^(\.\.\/){3}shared\//.test(target) || (name === 'zlib-compression.ts' && target === 'node:zlib')
      t.ok(allowed, `import ${target} stays inside data-plane/persistent or shared/`)
    }
    t.end()
  })
}
