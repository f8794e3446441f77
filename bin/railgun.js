#!/usr/bin/env node
// The `railgun` command. Runs the compiled build (made by `npm install` through `prepare`).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../dist/server/cli.js', import.meta.url))
if (!existsSync(cli)) {
  process.stderr.write('railgun: the build is missing; run `npm run build` (npm install does it too)\n')
  process.exit(1)
}
const { main } = await import(cli)
await main(process.argv)
