// Every client-facing error code is documented in docs/errors.md, and the page lists no code that
// does not exist (fastify's errors.js + docs check).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes, errorCodeList, ProtocolViolationError, isFatalErrorText } from '../../shared/errors.js'

const page = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const documented = new Set(page.match(/RG_ERR_[A-Z_]+/g) ?? [])

t.test('every code is documented', async (t) => {
  for (const code of errorCodeList) t.ok(documented.has(code), `${code} is in docs/errors.md`)
})

t.test('every documented code exists', async (t) => {
  for (const code of documented) t.ok(Object.hasOwn(errorCodes, code), `${code} exists in shared/errors.ts`)
})

t.test('wire texts in the page match the list', async (t) => {
  for (const code of errorCodeList) {
    const text = errorCodes[code].natsText
    if (text === undefined) continue
    const row = page.split('\n').find((line) => line.includes(`\`${code}\``))
    t.ok(row?.includes(`\`${text}\``), `${code} row shows '${text}'`)
  }
})

t.test('protocol errors carry code, text, fatality and cause', async (t) => {
  const cause = new Error('inner')
  const error = new ProtocolViolationError('RG_ERR_SLOW_CONSUMER', 'pending 10 bytes', { cause })
  t.equal(error.code, 'RG_ERR_SLOW_CONSUMER')
  t.equal(error.natsText, 'Slow Consumer')
  t.equal(error.fatal, true)
  t.equal(error.cause, cause)
  t.ok(error instanceof Error)
  t.equal(isFatalErrorText('Invalid Subject'), false)
  t.equal(isFatalErrorText('Stale Connection'), true)
})
