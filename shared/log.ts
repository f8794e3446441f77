// The logger factory: pino, JSON lines, the node name on every line, and once the control plane
// has resolved them, the node id (`nodeId`) and region (`region`) too (a pino mixin reads them,
// so lines of loggers made before the id was known carry it as well). Logging is for lifecycle
// events (start, ready, connection errors, drain), never per message: the hot path does not log.
// The level can change at run time (`setLogLevel`, the admin API's PUT /api/v1/log-level).
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

/** What a node learns about itself after start; added to every line once set. */
export interface LogIdentity {
  readonly nodeId?: string
  readonly region?: string
}

/** Per logger made here, its identity fields: its mixin (shared by its children) reads them per line. */
const identities = new WeakMap<Logger, { nodeId?: string; region?: string }>()

function build(options: { level: LogLevel; nodeName: string; destination?: DestinationStream }): Logger {
  const identity: { nodeId?: string; region?: string } = {}
  const mixin = (): Record<string, string> => ({ ...identity })
  const settings = { level: options.level, base: { node: options.nodeName }, mixin }
  const logger = options.destination === undefined ? pino(settings) : pino(settings, options.destination)
  identities.set(logger, identity)
  return logger
}

export function createLogger(options: LoggerOptions): Logger {
  return build(options)
}

/** A logger that drops everything (for in-process tests that do not care). */
export function createSilentLogger(nodeName = 'test'): Logger {
  return build({ level: 'silent', nodeName })
}

/**
 * Adds `nodeId` and `region` to every later line of `logger` (and of its children). A logger not
 * made by this module gets them as bindings instead (lines of its existing children do not).
 */
export function setLogIdentity(logger: Logger, identity: LogIdentity): void {
  const fields = { ...(identity.nodeId === undefined ? {} : { nodeId: identity.nodeId }), ...(identity.region === undefined ? {} : { region: identity.region }) }
  const own = identities.get(logger)
  if (own === undefined) logger.setBindings(fields)
  else Object.assign(own, fields)
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (logLevels as readonly string[]).includes(value)
}

/** Changes the level of `logger` at run time; returns the previous and the new level. */
export function setLogLevel(logger: Logger, level: LogLevel): { readonly previous: string; readonly level: LogLevel } {
  const previous = logger.level
  logger.level = level
  return { previous, level }
}
