// The logger factory: pino, JSON lines, the node name on every line. Logging is for lifecycle
// events (start, ready, connection errors, drain), never per message: the hot path does not log.
import { pino } from 'pino'
import type { Logger, DestinationStream } from 'pino'

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]

export type { Logger }

export interface LoggerOptions {
  readonly nodeName: string
  readonly level: LogLevel
  /** Where lines go; stdout when absent. Tests pass a stream to capture lines. */
  readonly destination?: DestinationStream
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = { level: options.level, base: { node: options.nodeName } }
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination)
}

/** A logger that drops everything (for in-process tests that do not care). */
export function createSilentLogger(nodeName = 'test'): Logger {
  return pino({ level: 'silent', base: { node: nodeName } })
}
