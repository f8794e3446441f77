// The error list and the manual agree (fastify-style): every code in errors.ts is documented
// in the README's table and returned somewhere in the module; no undeclared code is returned.
import { readFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import { clusterErrorCodeList, clusterErrorCodes } from '../../control-plane/cluster/index.js'

const dir = new URL('../../control-plane/cluster/', import.meta.url)
const readme = readFileSync(new URL('README.md', dir), 'utf8')
const sources = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && file !== 'errors.ts')
  .map((file) => readFileSync(new URL(file, dir), 'utf8'))
  .join('\n')

t.test('every code is documented and used', async (t) => {
  for (const code of clusterErrorCodeList) {
    t.equal(clusterErrorCodes[code], code, `${code} maps to itself`)
    t.match(readme, new RegExp(`\\| \`${code}\` \\|`), `${code} has a row in the README table`)
    t.ok(sources.includes(`'${code}'`), `${code} is returned somewhere`)
  }
})

t.test('no code is returned that errors.ts does not declare', async (t) => {
  const used = new Set(sources.match(/'RG_ERR_[A-Z_]+'/g)?.map((quoted) => quoted.slice(1, -1)))
  for (const code of used) t.ok((clusterErrorCodeList as readonly string[]).includes(code), `${code} is declared`)
})
