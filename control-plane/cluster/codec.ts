// The log-entry codec for commands: UTF-8 JSON with sorted keys (canonical: the same command
// always encodes to the same bytes), in an envelope `{"command":{…},"timeMs":…,"v":1}`. The
// proposer stamps `timeMs` (its clock) into the entry, so every replica applies with the same
// time and none reads its own clock. KV values travel as base64 strings. decodeCommand validates everything with the zod schemas in commands.ts,
// so a malformed entry is rejected with RG_ERR_MALFORMED_COMMAND and the path of the bad field.
import { decodeBase64, encodeBase64 } from './bytes.js'
import type { Command } from './commands.js'
import { commandSchema } from './commands.js'
import { clusterLimits } from './limits.js'
import type { ApplyError, JsonValue } from './result.js'
import { canonicalJson, fail } from './result.js'

export const commandCodecVersion = 1

export type ParseResult = { readonly ok: true; readonly command: Command } | ApplyError
export type DecodeResult = { readonly ok: true; readonly command: Command; readonly timeMs: number } | ApplyError

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

function toJson(command: Command): JsonValue {
  const plain: Record<string, JsonValue> = {}
  for (const [key, value] of Object.entries(command) as [string, unknown][]) {
    if (value === undefined) continue
    plain[key] = value instanceof Uint8Array ? encodeBase64(value) : (value as JsonValue)
  }
  return plain
}

/**
 * Canonical bytes of a log entry holding `command`, stamped with the proposer's `timeMs`.
 * Throws if the command does not satisfy the schema or the time is not a non-negative
 * integer (caller bugs: API layers validate input with parseCommand first).
 */
export function encodeCommand(command: Command, timeMs = 0): Uint8Array {
  const checked = commandSchema.safeParse(command)
  if (!checked.success) throw new Error(`encodeCommand: invalid command: ${describeIssues(checked.error.issues)}`)
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new Error(`encodeCommand: bad timeMs ${timeMs}`)
  return textEncoder.encode(canonicalJson({ command: toJson(command), timeMs, v: commandCodecVersion }))
}

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[')}: ${issue.message}`)
    .join('; ')
}

function malformed(message: string): ApplyError {
  return fail('RG_ERR_MALFORMED_COMMAND', `malformed command: ${message}`, {})
}

/**
 * Validates a command given as plain JSON (e.g. an admin API body), with KV values as base64.
 * Used by decodeCommand and by request handlers that build commands from client input.
 */
export function parseCommand(input: unknown): ParseResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return malformed('not an object')
  const record = { ...(input as Record<string, unknown>) }
  if ((record.type === 'kvPut' || record.type === 'kvCas') && typeof record.value === 'string') {
    const bytes = decodeBase64(record.value)
    if (bytes === undefined) return malformed('value: not canonical base64')
    record.value = bytes
  }
  const parsed = commandSchema.safeParse(record)
  if (!parsed.success) return malformed(describeIssues(parsed.error.issues))
  return { ok: true, command: parsed.data }
}

export function decodeCommand(bytes: Uint8Array): DecodeResult {
  if (bytes.length > clusterLimits.commandBytesMax) return malformed(`${bytes.length} bytes exceeds ${clusterLimits.commandBytesMax}`)
  let text: string
  try {
    text = textDecoder.decode(bytes)
  } catch {
    return malformed('not valid UTF-8')
  }
  let envelope: unknown
  try {
    envelope = JSON.parse(text)
  } catch (error) {
    return malformed(`not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) return malformed('the envelope is not an object')
  const { v, command, timeMs, ...rest } = envelope as Record<string, unknown>
  if (v !== commandCodecVersion) return malformed(`unsupported version ${JSON.stringify(v)} (expected ${commandCodecVersion})`)
  if (Object.keys(rest).length > 0) return malformed(`unknown envelope fields ${Object.keys(rest).sort().join(', ')}`)
  if (typeof timeMs !== 'number' || !Number.isSafeInteger(timeMs) || timeMs < 0) return malformed('timeMs: expected a non-negative integer')
  const parsed = parseCommand(command)
  return parsed.ok ? { ok: true, command: parsed.command, timeMs } : parsed
}
