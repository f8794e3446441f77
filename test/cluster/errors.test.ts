// The cluster's error codes are a subset of the one list in shared/errors.ts and are documented
// in docs/errors.md (§ Control plane; the README points there): every code in errors.ts has a row
// there and is returned somewhere in the module; no undeclared code is returned.
import { readFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import { clusterErrorCodeList, clusterErrorCodes } from '../../control-plane/cluster/index.js'
import { errorCodes } from '../../shared/errors.js'

const dir = new URL('../../control-plane/cluster/', import.meta.url)
const readme = readFileSync(new URL('README.md', dir), 'utf8')
const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const sources = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && file !== 'errors.ts')
  .map((file) => readFileSync(new URL(file, dir), 'utf8'))
  .join('\n')

t.test('every code is listed, documented and used', async (t) => {
  t.match(readme, /docs\/errors\.md/, 'the README points to docs/errors.md')
  for (const code of clusterErrorCodeList) {
    t.equal(clusterErrorCodes[code], code, `${code} maps to itself`)
    t.ok(Object.hasOwn(errorCodes, code), `${code} is in shared/errors.ts`)
    t.match(docs, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `${code} has a row in docs/errors.md`)
    t.ok(sources.includes(`'${code}'`), `${code} is returned somewhere`)
  }
})

t.test('no code is returned that errors.ts does not declare', async (t) => {
  const used = new Set(sources.match(/'RG_ERR_[A-Z_]+'/g)?.map((quoted) => quoted.slice(1, -1)))
  for (const code of used) t.ok((clusterErrorCodeList as readonly string[]).includes(code), `${code} is declared`)
})
