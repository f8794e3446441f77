// shared/errors.ts is the one list of every RG_ERR_* code in the project (fastify's errors.js +
// docs check): docs/errors.md documents each listed code with one row in the section of its
// group, showing the same wire text, fatal flag and meaning; the page documents no other code;
// and no source folder uses a code that is not listed.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorCodes, errorCodeList, errorGroups, ProtocolViolationError, isFatalErrorText } from '../../shared/errors.js'
import type { ErrorCodeEntry, ErrorGroup } from '../../shared/errors.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const page = readFileSync(join(root, 'docs', 'errors.md'), 'utf8')
const documented = new Set(page.match(/RG_ERR_[A-Z_]+/g) ?? [])

/** The heading (prefix) of the docs/errors.md section for each group. */
const sectionHeadings: Record<ErrorGroup, string> = {
  wire: '## Wire errors',
  status: '## Status replies',
  client: '## Client',
  cluster: '## Control plane',
  raft: '## Raft',
  protocol: '## Protocol encoding',
  configStorage: '## Configuration and storage',
}

/** The page split at `## ` headings: [heading line, body]. */
const sections = page.split(/^(?=## )/m).map((part) => [part.slice(0, part.indexOf('\n')), part] as const)

/** Every table row of the page whose first cell is a code, with its cells and section heading. */
const rows = sections.flatMap(([heading, body]) =>
  body
    .split('\n')
    .filter((line) => /^\| `RG_ERR_[A-Z_]+` \|/.test(line))
    .map((line) => ({ heading, cells: line.split('|').slice(1, -1).map((cell) => cell.trim()) })),
)

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path)
    return /\.(ts|js|md)$/.test(entry.name) ? [path] : []
  })
}

t.test('every code is documented', async (t) => {
  for (const code of errorCodeList) t.ok(documented.has(code), `${code} is in docs/errors.md`)
})

t.test('every documented code exists', async (t) => {
  for (const code of documented) t.ok(Object.hasOwn(errorCodes, code), `${code} exists in shared/errors.ts`)
})

t.test('each code has one row, in its group\'s section, agreeing with the list', async (t) => {
  for (const group of errorGroups) {
    t.equal(sections.filter(([heading]) => heading.startsWith(sectionHeadings[group])).length, 1, `one section for ${group}`)
  }
  t.equal(rows.length, errorCodeList.length, 'one row per code')
  for (const code of errorCodeList) {
    const entry: ErrorCodeEntry = errorCodes[code]
    const found = rows.filter((row) => row.cells[0] === `\`${code}\``)
    t.equal(found.length, 1, `${code} has exactly one row`)
    const row = found[0]
    if (row === undefined) continue
    t.ok(row.heading.startsWith(sectionHeadings[entry.group]), `${code} is under '${sectionHeadings[entry.group]}'`)
    const cells = row.cells
    t.equal(cells.at(-1), entry.meaning, `${code} row shows the listed meaning`)
    t.equal(cells.at(-2), entry.fatal ? 'yes' : 'no', `${code} row shows fatal = ${entry.fatal}`)
    if (entry.natsText !== undefined) t.equal(cells[1], `\`${entry.natsText}\``, `${code} row shows '${entry.natsText}'`)
    if (entry.status !== undefined) t.equal(cells[1], `\`NATS/1.0 ${entry.status}\``, `${code} row shows status ${entry.status}`)
    t.equal(entry.natsText !== undefined, entry.group === 'wire', `${code}: only wire errors have a wire text`)
    t.equal(entry.status !== undefined, entry.group === 'status', `${code}: only status replies have a status`)
  }
})

t.test('every RG_ERR_* in the source folders is listed', async (t) => {
  const files = ['shared', 'client', 'server', 'control-plane', 'data-plane'].flatMap((dir) => sourceFiles(join(root, dir)))
  t.ok(files.length > 50, `read ${files.length} files`)
  const listed = new Set<string>(errorCodeList)
  const unlisted: string[] = []
  for (const file of files) {
    for (const code of readFileSync(file, 'utf8').match(/RG_ERR_[A-Z_]+/g) ?? []) {
      if (!listed.has(code)) unlisted.push(`${code} in ${file.slice(root.length)}`)
    }
  }
  t.same(unlisted, [], 'no unlisted code')
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
