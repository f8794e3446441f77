// Loading the node configuration. Sources, lowest precedence first:
//   defaults < YAML file (`--config`) < `RAILGUN_*` environment < command-line flags.
// Each source is validated on its own against the partial schema, so an error says where the
// bad value came from: `config railgun.yaml: limits.maxPayloadBytes: expected a positive integer`.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../errors.js'
import { configDefaults, configSourceSchema, nodeConfigSchema, sectionShapes } from './schema.js'
import type { ConfigSource, NodeConfig, SectionName } from './schema.js'

/** Short environment names kept for convenience; the generic form works for every field. */
export const environmentAliases: Readonly<Record<string, readonly [SectionName, string]>> = {
  RAILGUN_HOST: ['server', 'host'],
  RAILGUN_PORT: ['server', 'port'],
  RAILGUN_HTTP_PORT: ['server', 'httpPort'],
  RAILGUN_NAME: ['server', 'name'],
  RAILGUN_DATA: ['storage', 'dataDir'],
  RAILGUN_ADMIN_USER: ['access', 'adminUser'],
}

export interface LoadConfigOptions {
  /** Path of a YAML file; absent means no file. A given path that cannot be read is an error. */
  readonly configPath?: string
  /** Environment to read `RAILGUN_*` from; `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Values from command-line flags (already in config shape), with the flag that set each. */
  readonly flags?: ConfigSource
  /** Flag names per field (`server.port` → `--port`), for error messages. */
  readonly flagNames?: Readonly<Record<string, string>>
}

function snakeUpper(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

/** The generic environment name of a field: `limits.maxPayloadBytes` → `RAILGUN_LIMITS_MAX_PAYLOAD_BYTES`. */
export function environmentNameOf(section: SectionName, field: string): string {
  return `RAILGUN_${snakeUpper(section)}_${snakeUpper(field)}`
}

function describeIssue(issue: z.core.$ZodIssue): { field: string; problem: string } {
  const base = issue.path.map(String).join('.')
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? ''
    return { field: base === '' ? key : `${base}.${key}`, problem: 'unknown field' }
  }
  return { field: base, problem: issue.message }
}

function validateSource(
  source: string,
  value: unknown,
  sourceOfField?: (field: string) => string,
): ConfigSource {
  const result = configSourceSchema.safeParse(value ?? {})
  if (result.success) return result.data
  const first = result.error.issues[0]
  if (first === undefined) throw new ConfigError(source, '', 'invalid')
  const { field, problem } = describeIssue(first)
  throw new ConfigError(sourceOfField === undefined ? source : sourceOfField(field), field, problem, {
    cause: result.error,
  })
}

function readYamlSource(path: string): ConfigSource {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(path, '', `cannot read file (${(error as Error).message})`, { cause: error })
  }
  let parsed: unknown
  try {
    parsed = parseYaml(text)
  } catch (error) {
    throw new ConfigError(path, '', `invalid YAML (${(error as Error).message})`, { cause: error })
  }
  if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw new ConfigError(path, '', 'expected a mapping at the top level')
  }
  return validateSource(path, parsed)
}

/** `a, b,,c` → `['a', 'b', 'c']`: list values in the environment and in flags are comma-separated. */
export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
}

/** Environment text in the type of the field's default; a value that does not fit stays text (the schema reports it). */
function environmentValue(section: SectionName, field: string, raw: string): unknown {
  const defaultValue = (configDefaults[section] as Record<string, unknown>)[field]
  const trimmed = raw.trim()
  if (typeof defaultValue === 'number') return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : raw
  if (typeof defaultValue === 'boolean') {
    const lower = trimmed.toLowerCase()
    return lower === 'true' ? true : lower === 'false' ? false : raw
  }
  if (Array.isArray(defaultValue)) return splitList(raw)
  return raw
}

function readEnvironmentSource(env: Readonly<Record<string, string | undefined>>): ConfigSource {
  const values: Record<string, Record<string, unknown>> = {}
  const sourceByField: Record<string, string> = {}
  const set = (section: SectionName, field: string, name: string, raw: string): void => {
    const sectionValues = (values[section] ??= {})
    sectionValues[field] = environmentValue(section, field, raw)
    sourceByField[`${section}.${field}`] = `env ${name}`
  }
  for (const [name, [section, field]] of Object.entries(environmentAliases)) {
    const raw = env[name]
    if (raw !== undefined) set(section, field, name, raw)
  }
  // The generic names come second, so they win over an alias for the same field.
  for (const section of Object.keys(sectionShapes) as SectionName[]) {
    for (const field of Object.keys(sectionShapes[section])) {
      const name = environmentNameOf(section, field)
      const raw = env[name]
      if (raw !== undefined) set(section, field, name, raw)
    }
  }
  return validateSource('env', values, (field) => sourceByField[field] ?? 'env')
}

function mergeSources(sources: readonly ConfigSource[]): Record<string, Record<string, unknown>> {
  const merged: Record<string, Record<string, unknown>> = {}
  for (const source of sources) {
    for (const [section, fields] of Object.entries(source)) {
      if (fields === undefined) continue
      const target = (merged[section] ??= {})
      for (const [field, value] of Object.entries(fields as Record<string, unknown>)) {
        if (value !== undefined) target[field] = Array.isArray(value) ? [...(value as unknown[])] : value
      }
    }
  }
  return merged
}

/** Build the effective configuration; throws `ConfigError` naming the source and field. */
export function loadConfig(options: LoadConfigOptions = {}): NodeConfig {
  const defaults: ConfigSource = {
    ...configDefaults,
    server: { ...configDefaults.server, name: hostname() || configDefaults.server.name },
  }
  const fileSource = options.configPath === undefined ? {} : readYamlSource(options.configPath)
  const environmentSource = readEnvironmentSource(options.env ?? process.env)
  const flagNames = options.flagNames ?? {}
  const flagSource = validateSource('flags', options.flags ?? {}, (field) =>
    flagNames[field] === undefined ? 'flags' : `flag ${flagNames[field]}`,
  )
  const merged = mergeSources([defaults, fileSource, environmentSource, flagSource])
  const result = nodeConfigSchema.safeParse(merged)
  if (!result.success) {
    const first = result.error.issues[0]
    const { field, problem } = first === undefined ? { field: '', problem: 'invalid' } : describeIssue(first)
    throw new ConfigError('merged', field, problem, { cause: result.error })
  }
  return result.data
}

/** A full configuration for tests and embedding: defaults with the given sections overridden. */
export function configWith(overrides: {
  readonly [S in SectionName]?: Partial<NodeConfig[S]>
}): NodeConfig {
  const merged = mergeSources([configDefaults, overrides as ConfigSource])
  return nodeConfigSchema.parse(merged)
}
