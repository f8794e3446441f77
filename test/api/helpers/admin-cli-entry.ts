// A tiny `railgun` with only the admin verbs, run as a child process by test/api/cli.test.ts;
// exit codes as `main()` sets them (a commander error's exit code). No verb: does nothing.
import { Command, CommanderError } from 'commander'
import { registerAdminCommands } from '../../../server/commands/admin-verbs.js'

if (process.argv.length > 2) {
  const program = new Command('railgun')
  program.exitOverride()
  registerAdminCommands(program)
  try {
    await program.parseAsync(process.argv)
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    process.exitCode = error.exitCode
  }
}
