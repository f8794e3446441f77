// `railgun log-level [LEVEL] [--admin URL] [--token T]`: reads or changes a running node's log
// level through its admin HTTP port (GET|PUT /api/v1/log-level). Prints `LEVEL` (read) or
// `PREVIOUS -> LEVEL` (change). `--admin` defaults to $RAILGUN_ADMIN, else http://127.0.0.1:8222;
// `--token` to $RAILGUN_TOKEN (sent as `Authorization: Bearer`, for access control). An HTTP or
// connection error prints one line `railgun: …` and exits 1; a bad level is a usage error (exit 2).
import { InvalidArgumentError } from 'commander'
import type { Command } from 'commander'
import { isLogLevel, logLevels } from '../../shared/log.js'
import type { LogLevel } from '../../shared/log.js'

export const defaultAdminUrl = 'http://127.0.0.1:8222'
export const logLevelRequestTimeoutMs = 10_000

export interface LogLevelIo {
  stdout(text: string): void
  stderr(text: string): void
  setExitCode(code: number): void
}

const processIo: LogLevelIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code
  },
}

function levelArgument(value: string): LogLevel {
  if (!isLogLevel(value)) throw new InvalidArgumentError(`expected one of ${logLevels.join(', ')}`)
  return value
}

interface Flags {
  readonly admin?: string
  readonly token?: string
}

export async function runLogLevel(level: LogLevel | undefined, flags: Flags, io: LogLevelIo = processIo): Promise<void> {
  const base = (flags.admin ?? process.env.RAILGUN_ADMIN ?? defaultAdminUrl).replace(/\/+$/, '')
  const token = flags.token ?? process.env.RAILGUN_TOKEN
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }) }
  let status: number
  let body: { ok?: boolean; level?: string; previous?: string; error?: { code?: string; message?: string } | string }
  try {
    const response = await fetch(`${base}/api/v1/log-level`, {
      method: level === undefined ? 'GET' : 'PUT',
      headers,
      ...(level === undefined ? {} : { body: JSON.stringify({ level }) }),
      signal: AbortSignal.timeout(logLevelRequestTimeoutMs),
    })
    status = response.status
    body = (await response.json().catch(() => ({}))) as typeof body
  } catch (error) {
    io.stderr(`railgun: cannot reach ${base}: ${(error as Error).message}\n`)
    io.setExitCode(1)
    return
  }
  if (status !== 200) {
    const error = body.error
    const message = typeof error === 'string' ? error : `${error?.message ?? 'request failed'}${error?.code === undefined ? '' : ` (${error.code})`}`
    io.stderr(`railgun: HTTP ${status}: ${message}\n`)
    io.setExitCode(1)
    return
  }
  io.stdout(level === undefined ? `${body.level}\n` : `${body.previous} -> ${body.level}\n`)
}

export function registerLogLevelCommand(program: Command, io: LogLevelIo = processIo): void {
  program
    .command('log-level')
    .description(`read or change a running node's log level (${logLevels.join(', ')})`)
    .argument('[level]', 'the new level; without it, print the current one', levelArgument)
    .option('--admin <url>', `the node's admin URL (default $RAILGUN_ADMIN or ${defaultAdminUrl})`)
    .option('--token <token>', 'bearer token when access control is on (default $RAILGUN_TOKEN)')
    .action(async (level: LogLevel | undefined, flags: Flags) => {
      await runLogLevel(level, flags, io)
    })
}
