// A tiny `railgun` with only the client verbs, for CLI tests (the integrator wires the same
// register function into server/cli.ts). Run with no verb (as `tap test/client` does when it
// walks this folder) it does nothing.
import { Command } from 'commander'
import { registerClientCommands } from '../../../server/commands/client-verbs.js'

if (process.argv.length > 2) {
  const program = new Command('railgun')
  registerClientCommands(program)
  await program.parseAsync(process.argv)
}
