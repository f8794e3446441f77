// A purity check for the deterministic cores (the Raft core, cross-region shipping, …): each
// source file of a folder, comments aside, uses no clock, ambient randomness, timer, process
// object or require, and imports only what the caller's rule allows. One subtest per file.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'

const forbidden: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/, 'a clock'],
  [/\bMath\.random\b/, 'ambient randomness'],
  [/\bset(Timeout|Interval|Immediate)\b/, 'a timer'],
  [/\bprocess\./, 'the process object'],
  [/\brequire\(/, 'require'],
]

export interface PurityRule {
  /** The folder whose `.ts` files are checked. */
  readonly dir: string
  /** At least this many sources must be found (a moved folder must not pass by finding none). */
  readonly minSources: number
  /** Whether `file` may import `target`; `describe` words the rule in the assertion. */
  readonly allowImport: (file: string, target: string) => boolean
  readonly describe: string
}

export function checkPurity(t: Test, rule: PurityRule): void {
  const sources = readdirSync(rule.dir).filter((name) => name.endsWith('.ts'))
  t.ok(sources.length >= rule.minSources, `found the sources (${sources.length})`)
  for (const name of sources) {
    t.test(name, (t) => {
      const code = readFileSync(join(rule.dir, name), 'utf8')
        .split('\n')
        .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
        .join('\n')
      for (const [pattern, what] of forbidden) t.notMatch(code, pattern, `no ${what}`)
      for (const match of code.matchAll(/from\s+'([^']+)'/g)) {
        const target = match[1] ?? ''
        t.ok(rule.allowImport(name, target), `import ${target} ${rule.describe}`)
        if (target.startsWith('./')) t.match(target, /\.js$/, `relative import ${target} ends in .js`)
      }
      t.end()
    })
  }
}
