// Field validators of the node configuration, with the messages every source's errors use. Shared
// by the sections declared in schema.ts and the security sections (shared/security/config.ts).
import { z } from 'zod'

const positiveIntegerText = 'expected a positive integer'
const nonNegativeIntegerText = 'expected a non-negative integer'
const portText = 'expected a port number (0-65535)'

export function positiveInteger() {
  return z
    .number({ error: positiveIntegerText })
    .int({ error: positiveIntegerText })
    .positive({ error: positiveIntegerText })
    .max(Number.MAX_SAFE_INTEGER, { error: positiveIntegerText })
}

export function nonNegativeInteger() {
  return z
    .number({ error: nonNegativeIntegerText })
    .int({ error: nonNegativeIntegerText })
    .min(0, { error: nonNegativeIntegerText })
    .max(Number.MAX_SAFE_INTEGER, { error: nonNegativeIntegerText })
}

/** An integer in `[min, max]` (bounds named where the field is declared). */
export function integerIn(min: number, max: number) {
  const message = `expected an integer from ${min} to ${max}`
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message })
}

/** 0 (off) or an integer in `[min, max]`. */
export function offOrIntegerIn(min: number, max: number) {
  const message = `expected 0 (off) or an integer from ${min} to ${max}`
  return z
    .number({ error: message })
    .int({ error: message })
    .refine((value) => value === 0 || (value >= min && value <= max), { error: message })
}

export function port() {
  return z.number({ error: portText }).int({ error: portText }).min(0, { error: portText }).max(65535, { error: portText })
}

export function nonEmptyString() {
  return z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' })
}

export function text() {
  return z.string({ error: 'expected a string' })
}

export function boolean() {
  return z.boolean({ error: 'expected true or false' })
}

export function stringList() {
  return z.array(nonEmptyString(), { error: 'expected a list of strings (comma-separated in env and flags)' })
}
