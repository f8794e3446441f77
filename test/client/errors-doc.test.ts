// client/README.md maps every client error code to its class, and documents nothing else; every
// client code is in the project's one list, shared/errors.ts (the compiler checks it too).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as api from '../../client/index.js'
import { clientErrorCodes, RailgunClientError, sharedClientErrorCodes } from '../../client/errors.js'
import { errorCodeList } from '../../shared/errors.js'

const readme = readFileSync(fileURLToPath(new URL('../../client/README.md', import.meta.url)), 'utf8')
const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('## CLI verbs'))
const rows = [...section.matchAll(/^\| `(RG_ERR_[A-Z_]+)` \| `(\w+)` \|/gm)].map((m) => [m[1] ?? "", m[2] ?? ""] as const)

t.test('the README error table lists exactly the client codes', async (t) => {
  t.same(rows.map(([code]) => code).sort(), Object.values(clientErrorCodes).sort())
})

t.test('each documented class is exported and carries its documented code', async (t) => {
  const exported = api as unknown as Record<string, unknown>
  for (const [code, className] of rows) {
    const ctor = exported[className]
    t.type(ctor, 'function', `${className} is exported`)
    t.ok((ctor as { prototype: unknown }).prototype instanceof RailgunClientError, `${className} extends RailgunClientError`)
    t.match(readme, new RegExp(`\`${code}\``), `${code} documented`)
  }
})

t.test('every client code exists in shared/errors.ts', async (t) => {
  for (const code of Object.values(clientErrorCodes)) t.ok(errorCodeList.includes(code), code)
  for (const code of sharedClientErrorCodes) t.ok(errorCodeList.includes(code), code)
  t.match(readme, /docs\/errors\.md/, 'the README points to docs/errors.md')
})

t.test('classes carry their code and name', async (t) => {
  const error = new api.NoRespondersError('x')
  t.equal(error.code, 'RG_ERR_NO_RESPONDERS')
  t.equal(error.name, 'NoRespondersError')
  t.equal(new api.RequestTimeoutError('x', 5, 'client').code, 'RG_ERR_REQUEST_TIMEOUT')
  const cause = new Error('root')
  t.equal(new api.ConnectError('boom', { cause }).cause, cause)
})
